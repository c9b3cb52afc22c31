import { Type, type Static } from 'typebox'
import { UuidSchema } from './common.ts'
import { LeaderboardEntrySchema, RANKING_RULE, SafeScoreSchema } from './leaderboard.ts'

// The WebSocket protocol of /ws/leaderboard/:competitionId?token=JWT[&seq=n][&limit=N][&k=K].
//
// Server -> client frames are JSON text messages:
// - snapshot: the first frame (top `limit` entries, the caller's entry and `k` neighbours, seq)
// - update:   what changed since the previous frame, with the next seq; at most one per tick
//             per competition. Entries carry their new rank/position as of that seq; clients
//             re-sort their copy by the ranking rule (reachedAt is the tie-break).
// - rank:     personal, when the caller's own rank changes (seq of the update that changed it)
// - resumed:  answer to a resume that could be served from the replay buffer; the missed
//             update frames follow in order
// - reset:    never sent to clients; the server answers it with a fresh snapshot
// - error / pong
// Client -> server: {"type":"resume","seq":n} replays the frames after n when the server still
// holds them, otherwise sends a fresh snapshot; {"type":"ping"} answers {"type":"pong"}.
// Connecting with ?seq=n is the same as sending resume first: then the first frame is
// 'resumed' (or a snapshot when the frames are gone).
// Sequence numbers come from one Redis counter per competition, so they are the same on every
// instance and a client may resume on any of them. They increase by one per frame; after a
// Redis data loss they jump forward (a client then sees a gap and gets a snapshot).

export const CloseCodes = {
  GOING_AWAY: 1001,
  TRY_AGAIN_LATER: 1013,
  SLOW_CONSUMER: 4008,
  TOO_MANY_MESSAGES: 4029,
  BAD_REQUEST: 4400,
  UNAUTHORIZED: 4401,
  NOT_FOUND: 4404
} as const

export const SocketQuerySchema = Type.Object({
  token: Type.String({ description: 'The bearer token (browsers cannot set headers on a WebSocket)' }),
  seq: Type.Optional(Type.Integer({ minimum: 0, description: 'Resume after this sequence number' })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'Top entries in snapshots' }),
  k: Type.Integer({ minimum: 0, maximum: 50, default: 5, description: 'Neighbours on each side of the caller in snapshots' })
})
export type SocketQuery = Static<typeof SocketQuerySchema>

export const SnapshotFrameSchema = Type.Object({
  type: Type.Literal('snapshot'),
  competitionId: UuidSchema,
  seq: Type.Integer(),
  total: Type.Integer(),
  degraded: Type.Boolean({ description: 'true when built from Postgres while the Redis projection is rebuilt; a fresh snapshot follows' }),
  entries: Type.Array(LeaderboardEntrySchema),
  me: Type.Union([LeaderboardEntrySchema, Type.Null()]),
  around: Type.Array(LeaderboardEntrySchema)
}, { description: RANKING_RULE })

export const UpdateFrameSchema = Type.Object({
  type: Type.Literal('update'),
  competitionId: UuidSchema,
  seq: Type.Integer(),
  total: Type.Integer(),
  entries: Type.Array(Type.Object({
    ...LeaderboardEntrySchema.properties,
    previousScore: Type.Union([SafeScoreSchema, Type.Null()], { description: 'Score as of the previous frame; null for a new participant' })
  })),
  removed: Type.Array(UuidSchema, { description: 'Participants who left' }),
  removedScores: Type.Array(SafeScoreSchema, { description: 'Their last scores, in the same order' })
})

export const RankFrameSchema = Type.Object({
  type: Type.Literal('rank'),
  competitionId: UuidSchema,
  seq: Type.Integer(),
  userId: UuidSchema,
  rank: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'null when the caller left the competition' }),
  previousRank: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()]),
  score: Type.Union([SafeScoreSchema, Type.Null()])
})

export const ResumedFrameSchema = Type.Object({
  type: Type.Literal('resumed'),
  competitionId: UuidSchema,
  fromSeq: Type.Integer(),
  seq: Type.Integer({ description: 'The last frame replayed' })
})

export const ClientMessageSchema = Type.Union([
  Type.Object({ type: Type.Literal('resume'), seq: Type.Integer({ minimum: 0 }) }),
  Type.Object({ type: Type.Literal('ping') })
])
export type ClientMessage = Static<typeof ClientMessageSchema>

export type UpdateFrame = Static<typeof UpdateFrameSchema>
