import { Type, type Static } from 'typebox'
import { CurrencySchema, MinorUnitsSchema, TimestampSchema, UuidSchema } from './common.ts'
import { PrizeSplitSchema } from './competitions.ts'
import { SafeScoreSchema } from './leaderboard.ts'

export const PRIZE_RULES = 'Pool = entry fees held in escrow - house share (houseShareBps of the fees, the prizes keep the floor) + sponsor prize. ' +
  'A percent split gives place i floor(pool * percent_i / 100) and hands the remaining minor units out one at a time from place 1; ' +
  'a fixed split pays each place its amount while the pool lasts. Winners are ranked by the leaderboard rule (score desc, first to reach ' +
  'the score, user id) with flagged participants held out (listed in heldOut). Participants tied on score share the sum of the places ' +
  'they occupy equally; the indivisible remainder goes one minor unit each to those who reached the score first. Money of places nobody ' +
  'occupies goes to the house account (unallocated).'

export const PrizeParamsSchema = Type.Object({ competitionId: UuidSchema })

export const PrizeWinnerSchema = Type.Object({
  userId: UuidSchema,
  displayName: Type.Union([Type.String(), Type.Null()]),
  rank: Type.Integer({ minimum: 1, description: 'Competition rank among eligible participants (ties share it)' }),
  position: Type.Integer({ minimum: 1 }),
  score: SafeScoreSchema,
  amount: MinorUnitsSchema
}, { title: 'PrizeWinner' })

export const PrizeTableSchema = Type.Object({
  competitionId: UuidSchema,
  status: Type.String({ description: 'The competition status; paid once distributed' }),
  currency: CurrencySchema,
  escrow: MinorUnitsSchema,
  houseShareBps: Type.Integer({ minimum: 0, maximum: 10000 }),
  houseShare: MinorUnitsSchema,
  sponsorPrize: MinorUnitsSchema,
  pool: MinorUnitsSchema,
  split: PrizeSplitSchema,
  places: Type.Array(Type.Object({ place: Type.Integer({ minimum: 1 }), amount: MinorUnitsSchema }, { title: 'PrizePlace' })),
  winners: Type.Array(PrizeWinnerSchema),
  heldOut: Type.Array(Type.Object({
    userId: UuidSchema,
    displayName: Type.Union([Type.String(), Type.Null()]),
    score: SafeScoreSchema,
    reason: Type.Literal('flagged')
  }, { title: 'HeldOutParticipant' }), { description: 'Participants flagged by anti-cheat: not paid' }),
  unallocated: MinorUnitsSchema,
  distributed: Type.Boolean(),
  distributedAt: Type.Union([TimestampSchema, Type.Null()]),
  transactionId: Type.Union([Type.Integer(), Type.Null()], { description: 'The ledger transaction that paid the prizes' })
}, { title: 'PrizeTable', description: PRIZE_RULES })
export type PrizeTableBody = Static<typeof PrizeTableSchema>
