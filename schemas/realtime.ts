import { Type, type Static } from 'typebox'
import { UuidSchema } from './common.ts'
import { LeaderboardEntrySchema, RANKING_RULE, SafeScoreSchema } from './leaderboard.ts'

// The WebSocket protocol of /ws/leaderboard/:competitionId?token=JWT[&seq=n][&limit=N][&k=K].
//
// A client sees the top `limit` of the board and its own entry. Server -> client frames are
// JSON text messages:
// - snapshot: the first frame (top `limit` entries, the caller's entry and `k` neighbours, seq)
// - update:   what changed in the client's view with this seq: entries now in its top `limit`
//             that changed or came in (moved up because others left), changed entries that
//             left it (with their new rank/position), participants who left the competition
//             from it, and `me` when the caller's own rank or score moved. Clients upsert the
//             entries, re-sort by the ranking rule (reachedAt is the tie-break) and keep only
//             the first `limit`: entries below it are not kept current. `total` is the number
//             of participants; a change of it alone also sends a frame.
// - rank:     personal: the caller's own rank or score moved while nothing in its top did
// - resumed:  answer to a resume that could be served from the replay buffer; the missed
//             frames follow in order, each with every entry that changed then (more than the
//             client's window), the last also with the whole current top `limit` and `me`
// - reset:    never sent to clients; the server answers it with a fresh snapshot
// - error / pong
// At most one frame (update or rank) per client per tick; none when nothing in its view
// changed, so a client's seq may jump. `k` neighbours are in snapshots only (GET the
// leaderboard with around=me for a fresh view of them).
// Client -> server: {"type":"resume","seq":n} replays the frames after n when the server still
// holds them, otherwise sends a fresh snapshot; {"type":"ping"} answers {"type":"pong"}.
// Connecting with ?seq=n (the seq of the last update, rank or snapshot frame received) is the
// same as sending resume first: then the first frame is 'resumed' (or a snapshot when the
// frames are gone).
// A client that stops reading is dropped once its unsent data would pass
// REALTIME_MAX_BUFFERED_BYTES: closed with SLOW_CONSUMER (4008) when it reads again within a
// second, else its connection is reset (an abnormal closure, 1006, for the client).
// Sequence numbers: see SEQ_RULE (what the API document and the README say).

// What the service does (leaderboard-scripts.ts numbers the frames, broadcaster.ts sends each
// client only the frames that change its view), said once for the API document and the schemas.
export const SEQ_RULE = '`seq` numbers a competition\'s frames: one counter per competition, shared by every instance, so a client may resume on any of them. ' +
  'It starts from the server\'s clock (milliseconds since 1970 times 1000) when the competition\'s counter is first needed and grows by one per frame of ' +
  'the competition; a client is sent only the frames that change its view (its top `limit` or its own rank), so the seq it sees may jump by more ' +
  'than one. It never goes back: after the counter is lost it starts again from the clock, higher than before, and clients get a fresh snapshot. ' +
  'Resume with the last seq received.'

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
  seq: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: `Resume after this sequence number. ${SEQ_RULE}` })),
  limit: Type.Integer({ minimum: 1, maximum: 100, default: 50, description: 'Top entries in snapshots, kept current by updates' }),
  k: Type.Integer({ minimum: 0, maximum: 50, default: 5, description: 'Neighbours on each side of the caller in snapshots' })
})
export type SocketQuery = Static<typeof SocketQuerySchema>

export const SnapshotFrameSchema = Type.Object({
  type: Type.Literal('snapshot'),
  competitionId: UuidSchema,
  seq: Type.Integer({ description: SEQ_RULE }),
  total: Type.Integer(),
  degraded: Type.Boolean({ description: 'true when built from Postgres while the Redis projection is rebuilt; a fresh snapshot follows' }),
  entries: Type.Array(LeaderboardEntrySchema),
  me: Type.Union([LeaderboardEntrySchema, Type.Null()]),
  around: Type.Array(LeaderboardEntrySchema)
}, { description: RANKING_RULE })

export const UpdateFrameSchema = Type.Object({
  type: Type.Literal('update'),
  competitionId: UuidSchema,
  seq: Type.Integer({ description: SEQ_RULE }),
  total: Type.Integer(),
  entries: Type.Array(Type.Object({
    ...LeaderboardEntrySchema.properties,
    previousScore: Type.Union([SafeScoreSchema, Type.Null()], { description: 'Score as of the previous frame; null for a new participant' })
  })),
  removed: Type.Array(UuidSchema, { description: 'Participants who left, of those in the client\'s top' }),
  removedScores: Type.Array(SafeScoreSchema, { description: 'Their last scores, in the same order' }),
  me: Type.Optional(Type.Object({
    rank: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'null when the caller left the competition' }),
    previousRank: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], { description: 'null when not known (after a resume on a new socket)' }),
    score: Type.Union([SafeScoreSchema, Type.Null()])
  }, { description: 'The caller\'s own rank and score, when they moved with this frame' }))
}, { description: 'Changes in the client\'s top `limit` and its own rank; sent only when there are any' })

// The caller's own rank or score moved and nothing in its top did (else `me` of the update).
export const RankFrameSchema = Type.Object({
  type: Type.Literal('rank'),
  competitionId: UuidSchema,
  seq: Type.Integer({ description: SEQ_RULE }),
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
  Type.Object({ type: Type.Literal('resume'), seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }),
  Type.Object({ type: Type.Literal('ping') })
])
export type ClientMessage = Static<typeof ClientMessageSchema>

export type UpdateFrame = Static<typeof UpdateFrameSchema>
