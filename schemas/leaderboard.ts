import { Type, type Static } from 'typebox'
import { CursorSchema, NextCursorSchema, PrevCursorSchema, TimestampSchema, UuidSchema } from './common.ts'

export const RANKING_RULE = 'Ranking: score descending (ascending where the competition\'s scoreOrder is lowest_wins), then reachedAt ascending ' +
  '(whoever reached the score first ranks higher), then userId ascending. ' +
  '`position` is the 1-based place in that order; `rank` is competition ranking, 1 + the number of participants with a strictly better score, so ties show 1, 2, 2, 4. ' +
  'Where the lowest wins, participants without a score yet are not listed. ' +
  'The same rule holds for this endpoint (from Redis or the Postgres fallback), the WebSocket feed and prizes.'

export const SafeScoreSchema = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'Integer score, exact up to 2^53 - 1' })

export const LeaderboardEntrySchema = Type.Object({
  rank: Type.Integer({ minimum: 1, description: 'Competition rank: 1 + participants with a strictly better score (ties share it: 1, 2, 2, 4)' }),
  position: Type.Integer({ minimum: 1, description: 'Unique place after the tie-break (first to reach the score, then user id)' }),
  userId: UuidSchema,
  displayName: Type.Union([Type.String(), Type.Null()]),
  avatarUrl: Type.Union([Type.String(), Type.Null()]),
  score: SafeScoreSchema,
  reachedAt: Type.String({ format: 'date-time', description: 'When the participant reached this score (microsecond precision); the tie-break' })
}, { title: 'LeaderboardEntry', additionalProperties: false, description: 'One participant on the leaderboard' })
export type LeaderboardEntry = Static<typeof LeaderboardEntrySchema>

export const LeaderboardParamsSchema = Type.Object({ competitionId: UuidSchema })

export const LeaderboardQuerySchema = Type.Object({
  cursor: Type.Optional(CursorSchema),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'Entries per page (top N on the first page)' }),
  around: Type.Optional(Type.Literal('me', { description: 'Also return the caller\'s neighbours: `k` entries above and below' })),
  k: Type.Integer({ minimum: 0, maximum: 50, default: 5, description: 'Neighbours on each side for around=me' })
})
export type LeaderboardQuery = Static<typeof LeaderboardQuerySchema>

export const LeaderboardSchema = Type.Object({
  competitionId: UuidSchema,
  total: Type.Integer({ minimum: 0, description: 'Participants in the competition' }),
  degraded: Type.Boolean({ description: 'true when served from Postgres because the Redis projection is unavailable or being rebuilt' }),
  entries: Type.Array(LeaderboardEntrySchema),
  nextCursor: NextCursorSchema,
  prevCursor: PrevCursorSchema,
  me: Type.Union([LeaderboardEntrySchema, Type.Null()], { description: 'The caller\'s own entry; null when the caller is not a participant' }),
  around: Type.Union([Type.Array(LeaderboardEntrySchema), Type.Null()], {
    description: 'With around=me: the caller\'s entry with up to k neighbours on each side, in order; [] when the caller is not a participant. null without around=me'
  })
}, { title: 'Leaderboard', additionalProperties: false, description: RANKING_RULE })

export const ScoreOperationSchema = Type.Union([Type.Literal('set'), Type.Literal('increment'), Type.Literal('best')], {
  description: 'set: the score becomes value; increment: adds value (may be negative, the score stops at 0); best: keeps the better of score and value (the higher, or the lower where the lowest wins)'
})

export const ScoreUpdateSchema = Type.Object({
  competitionId: UuidSchema,
  userId: UuidSchema,
  operation: ScoreOperationSchema,
  value: Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER, description: 'Non-negative for set and best' })
}, { title: 'ScoreUpdate', additionalProperties: false })
export type ScoreUpdate = Static<typeof ScoreUpdateSchema>

export const ScoreUpdateResultSchema = Type.Object({
  competitionId: UuidSchema,
  userId: UuidSchema,
  applied: Type.Boolean({ description: 'false when the key was already used (a retry) or the score did not change' }),
  duplicate: Type.Boolean({ description: 'true when this Idempotency-Key was already applied: nothing changed' }),
  score: SafeScoreSchema
}, { title: 'ScoreUpdateResult' })

export const RebuildResultSchema = Type.Object({
  rebuilt: Type.Array(UuidSchema, { description: 'Competitions whose Redis projection now equals Postgres' }),
  at: TimestampSchema
}, { title: 'LeaderboardRebuild' })
