import { Type, type Static } from 'typebox'
import { CurrencySchema, CursorSchema, LimitSchema, MinorUnitsSchema, PageSchema, TimestampInputSchema, TimestampSchema, UuidSchema } from './common.ts'
import { TimeZoneSchema } from './users.ts'

// A start a little in the past is still "now": the request took time to arrive.
export const START_SKEW_SECONDS = 60

export const MetricSchema = Type.Enum(['steps', 'distance_m', 'active_kcal', 'active_minutes', 'custom'])
export const StatusSchema = Type.Enum(['scheduled', 'active', 'grace', 'final', 'paid', 'cancelled'], {
  description: 'scheduled -> active -> grace -> final -> paid, or cancelled (fees refunded)'
})
export const ScoreOrderSchema = Type.Enum(['highest_wins', 'lowest_wins'], {
  description: 'highest_wins (the default) or lowest_wins, for a custom metric such as a fastest time. Ties go to whoever reached the score ' +
    'first, everywhere (pages, live feed, final ranks, prizes). Where the lowest wins, a participant is on the board from their first score'
})
export const VisibilitySchema = Type.Enum(['public', 'private'], {
  description: 'private competitions are unlisted: only their creator, participants and admins see them in lists'
})

const PrizeSplitVariants = Type.Union([
  Type.Object({
    type: Type.Literal('percent'),
    places: Type.Array(Type.Integer({ minimum: 1, maximum: 100 }), { minItems: 1, maxItems: 100, description: 'Percent of the pool per place, summing to 100' })
  }, { title: 'PercentPrizeSplit', additionalProperties: false }),
  Type.Object({
    type: Type.Literal('fixed'),
    amounts: Type.Array(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000, description: 'Money in integer minor units (e.g. cents)', examples: [2500] }), { minItems: 1, maxItems: 100, description: 'Fixed amount per place, in minor units' })
  }, { title: 'FixedPrizeSplit', additionalProperties: false })
])

// One competition told the same way wherever it is shown: created by the example below, 12 joined
// (fees 6,000 - 10% house share + sponsor prize 10,000 = pool 15,400).
const NEW_COMPETITION_EXAMPLE = {
  name: 'January steps',
  description: 'Most steps in four weeks wins',
  metric: 'steps',
  startsAt: '2030-01-07T00:00:00.000Z',
  endsAt: '2030-02-04T00:00:00.000Z',
  timeZone: 'Europe/London',
  gracePeriodSeconds: 86400,
  entryFee: 500,
  currency: 'USD',
  sponsorPrize: 10000,
  houseShareBps: 1000,
  maxParticipants: 100,
  prizeSplit: { type: 'percent', places: [50, 30, 20] },
  allowManualEntries: false,
  visibility: 'public',
  scoreOrder: 'highest_wins'
}
const COMPETITION_EXAMPLE = {
  id: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
  ...NEW_COMPETITION_EXAMPLE,
  participantCount: 12,
  prizePool: 15400,
  status: 'scheduled',
  statusChangedAt: '2026-11-02T08:30:00.000Z',
  joinable: true,
  createdBy: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f',
  createdAt: '2026-11-02T08:30:00.000Z'
}
// Told apart by `type`, so a refusal names the fault within the variant the client chose
// (an unknown field of a fixed split) rather than what the other variant lacks.
export const PrizeSplitSchema = Type.Unsafe<Static<typeof PrizeSplitVariants>>({
  title: 'PrizeSplit',
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: PrizeSplitVariants.anyOf
})

export const CompetitionSchema = Type.Object({
  id: UuidSchema,
  name: Type.String(),
  description: Type.String(),
  metric: MetricSchema,
  startsAt: TimestampSchema,
  endsAt: TimestampSchema,
  timeZone: Type.String(),
  gracePeriodSeconds: Type.Integer(),
  entryFee: MinorUnitsSchema,
  currency: CurrencySchema,
  sponsorPrize: MinorUnitsSchema,
  houseShareBps: Type.Integer(),
  maxParticipants: Type.Union([Type.Integer(), Type.Null()]),
  participantCount: Type.Integer(),
  prizePool: Type.Integer({ description: 'Entry fees net of the house share, plus the sponsor prize' }),
  prizeSplit: PrizeSplitSchema,
  allowManualEntries: Type.Boolean(),
  visibility: VisibilitySchema,
  scoreOrder: ScoreOrderSchema,
  status: StatusSchema,
  statusChangedAt: TimestampSchema,
  joinable: Type.Boolean(),
  createdBy: Type.Union([UuidSchema, Type.Null()]),
  createdAt: TimestampSchema
}, { title: 'Competition', examples: [COMPETITION_EXAMPLE] })
export const CompetitionPageSchema = PageSchema(CompetitionSchema)

export const NewCompetitionSchema = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 120 }),
  description: Type.Optional(Type.String({ maxLength: 2000 })),
  metric: MetricSchema,
  startsAt: TimestampInputSchema(`Not in the past: at most ${START_SKEW_SECONDS} s before the server's clock (the request took time to arrive)`),
  endsAt: TimestampInputSchema('After startsAt'),
  timeZone: Type.Optional(TimeZoneSchema),
  gracePeriodSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 7 * 24 * 3600, description: 'How long late syncs still count after the end' })),
  entryFee: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000_000 })),
  currency: Type.Optional(CurrencySchema),
  sponsorPrize: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000_000_000 })),
  houseShareBps: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000, description: 'House share of entry fees, in basis points' })),
  maxParticipants: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: 1_000_000 }), Type.Null()])),
  prizeSplit: Type.Optional(PrizeSplitSchema),
  allowManualEntries: Type.Optional(Type.Boolean()),
  visibility: Type.Optional(VisibilitySchema),
  scoreOrder: Type.Optional(ScoreOrderSchema)
}, { title: 'NewCompetition', additionalProperties: false, examples: [NEW_COMPETITION_EXAMPLE] })
export type NewCompetitionBody = Static<typeof NewCompetitionSchema>

// What services/competitions/editing.ts enforces, said once for the API document.
export const EDIT_RULES = 'Name and description may change until the competition is over; times, time zone, grace period, capacity (never below the ' +
  'participants who joined), visibility and manual entries until it starts; the metric, score order, entry fee and currency until the first join; house share, ' +
  'sponsor prize and prize split until the first paid entry. Anything else is 409, naming the field.'

export const CompetitionPatchSchema = Type.Partial(NewCompetitionSchema, {
  title: 'CompetitionPatch',
  additionalProperties: false,
  minProperties: 1,
  description: 'Fields left out keep their value',
  examples: [{ name: 'January steps (indoors too)', maxParticipants: 200 }]
})

export const CompetitionListQuerySchema = Type.Object({
  status: Type.Optional(StatusSchema),
  metric: Type.Optional(MetricSchema),
  visibility: Type.Optional(VisibilitySchema),
  joinable: Type.Optional(Type.Boolean({ description: 'Open for joining now (not over, places left)' })),
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})

// Admins may act for another user; everyone else only for themselves.
export const ActorBodySchema = Type.Union([
  Type.Object({ userId: Type.Optional(UuidSchema) }, { title: 'Actor', additionalProperties: false }),
  Type.Null()
], { description: 'Optional; admins may name the user to act for' })

// 12 letters and digits without look-alikes, as services/competitions/invites.ts makes them.
const INVITE_CODE_PATTERN = '^[A-Za-z2-9]{12}$'
const InviteCodeSchema = Type.String({ pattern: INVITE_CODE_PATTERN, description: 'An invite code (12 letters and digits; case does not matter)', examples: ['K7QX2MPH9RTA'] })

export const JoinBodySchema = Type.Union([
  Type.Object({
    userId: Type.Optional(UuidSchema),
    inviteCode: Type.Optional(InviteCodeSchema)
  }, { title: 'JoinRequest', additionalProperties: false }),
  Type.Null()
], { description: 'Optional; admins may name the user to act for. A private competition needs an invite code, except for its creator and admins' })

export const CompetitionQuerySchema = Type.Object({
  invite: Type.Optional(InviteCodeSchema)
})

export const InviteSchema = Type.Object({
  id: UuidSchema,
  code: Type.String({ description: 'What a friend types, or finds at the end of the link' }),
  competitionId: UuidSchema,
  link: Type.Union([Type.String(), Type.Null()], { description: 'INVITE_LINK_BASE/<code>; null when the service has no invite page configured' }),
  createdBy: Type.Union([UuidSchema, Type.Null()]),
  createdAt: TimestampSchema,
  expiresAt: Type.Union([TimestampSchema, Type.Null()]),
  maxUses: Type.Union([Type.Integer(), Type.Null()]),
  uses: Type.Integer({ minimum: 0, description: 'Joins made with it' }),
  revokedAt: Type.Union([TimestampSchema, Type.Null()]),
  usable: Type.Boolean({ description: 'Not revoked, not expired and not used up' })
}, { title: 'Invite' })
export const InvitePageSchema = PageSchema(InviteSchema)

export const NewInviteSchema = Type.Union([
  Type.Object({
    expiresAt: Type.Optional(TimestampInputSchema('When it stops working; in the future')),
    maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000, description: 'How many joins it admits' }))
  }, { title: 'NewInvite', additionalProperties: false }),
  Type.Null()
], { description: 'Optional; without limits an invite works until it is revoked', examples: [{ expiresAt: '2030-01-07T00:00:00.000Z', maxUses: 10 }] })

export const InviteParamsSchema = Type.Object({ id: UuidSchema, code: InviteCodeSchema })

export const MembershipSchema = Type.Object({
  competitionId: UuidSchema,
  userId: UuidSchema,
  joinedAt: TimestampSchema,
  entryFee: MinorUnitsSchema,
  currency: CurrencySchema,
  transactionId: Type.Union([Type.Integer(), Type.Null()], { description: 'Ledger transaction of the entry fee' })
}, { title: 'Membership' })

export const DepartureSchema = Type.Object({
  competitionId: UuidSchema,
  userId: UuidSchema,
  refunded: MinorUnitsSchema,
  currency: CurrencySchema,
  transactionId: Type.Union([Type.Integer(), Type.Null()], { description: 'Ledger transaction of the refund' })
}, { title: 'Departure' })

export const UserCompetitionSchema = Type.Object({
  competition: CompetitionSchema,
  joinedAt: TimestampSchema,
  score: Type.Integer(),
  rank: Type.Integer({ description: '1 + participants with a strictly better score (higher, or lower where the lowest wins)' }),
  finalRank: Type.Union([Type.Integer(), Type.Null()]),
  entryFeePaid: MinorUnitsSchema
}, { title: 'UserCompetition' })
export const UserCompetitionPageSchema = PageSchema(UserCompetitionSchema)

export const UserCompetitionsQuerySchema = Type.Object({
  scope: Type.Optional(Type.Enum(['current', 'past', 'all'], { default: 'all' })),
  cursor: Type.Optional(CursorSchema),
  limit: Type.Optional(LimitSchema)
})
