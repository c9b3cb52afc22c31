import { Type, type Static } from 'typebox'
import { UuidSchema } from './common.ts'
import { LeaderboardEntrySchema, RANKING_RULE, SafeScoreSchema } from './leaderboard.ts'
import { NotificationMessageSchema } from './notifications.ts'

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
// - error:    a client message that was not understood (the socket stays open)
// - pong:     the answer to a ping
// - notification: a new item of the caller's inbox (schemas/notifications.ts), on every socket
//             the user has open, once its first frame went; outside the seq numbering, never
//             replayed (the inbox has it)
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

// What the service does (services/leaderboard/scripts/tick.ts numbers the frames, broadcaster.ts sends each
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

// Every frame below is closed (additionalProperties: false) and carries its `type` literal, so
// the unions at the end tell frames apart by it (the AsyncAPI document is built from them).
const SeqSchema = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: SEQ_RULE })
const TotalSchema = Type.Integer({ minimum: 0, description: 'Participants in the competition' })
const RankSchema = Type.Integer({ minimum: 1 })

// An entry of a snapshot: exactly a leaderboard page entry.
export const FeedEntrySchema = LeaderboardEntrySchema

export const SnapshotFrameSchema = Type.Object({
  type: Type.Literal('snapshot'),
  competitionId: UuidSchema,
  seq: SeqSchema,
  total: TotalSchema,
  degraded: Type.Boolean({ description: 'true when built from Postgres while the Redis projection is rebuilt; a fresh snapshot follows' }),
  entries: Type.Array(FeedEntrySchema, { maxItems: 100, description: 'The top `limit` entries, in ranking order' }),
  me: Type.Union([FeedEntrySchema, Type.Null()], { description: 'The caller\'s own entry; null when the caller is not a participant' }),
  around: Type.Array(FeedEntrySchema, { description: 'The caller\'s entry with up to `k` neighbours on each side, in order; [] when the caller is not a participant' })
}, { additionalProperties: false, description: RANKING_RULE })

// An entry of an update: a leaderboard entry and its score as of the previous frame.
export const UpdateEntrySchema = Type.Object({
  ...LeaderboardEntrySchema.properties,
  previousScore: Type.Union([SafeScoreSchema, Type.Null()], { description: 'Score as of the previous frame (equal to score for an entry that only moved in); null for a new participant' })
}, { additionalProperties: false })

// The caller's own rank and score (the `me` of an update, the body of a rank frame).
const ownProperties = {
  rank: Type.Union([RankSchema, Type.Null()], { description: 'null when the caller left the competition' }),
  previousRank: Type.Union([RankSchema, Type.Null()], { description: 'null when not known (after a resume on a new socket) or when the caller was not ranked' }),
  score: Type.Union([SafeScoreSchema, Type.Null()], { description: 'null when the caller left the competition' })
}

export const OwnChangeSchema = Type.Object(ownProperties, { additionalProperties: false, description: 'The caller\'s own rank and score, when they moved with this frame' })

export const UpdateFrameSchema = Type.Object({
  type: Type.Literal('update'),
  competitionId: UuidSchema,
  seq: SeqSchema,
  total: TotalSchema,
  entries: Type.Array(UpdateEntrySchema, { description: 'Entries of the client\'s top that changed or came in, and changed entries that left it, by position' }),
  removed: Type.Array(UuidSchema, { description: 'Participants who left, of those in the client\'s top' }),
  removedScores: Type.Array(SafeScoreSchema, { description: 'Their last scores, in the same order' }),
  me: Type.Optional(OwnChangeSchema)
}, { additionalProperties: false, description: 'Changes in the client\'s top `limit` and its own rank; sent only when there are any. Replayed frames after a resumed frame have the same shape' })

// The caller's own rank or score moved and nothing in its top did (else `me` of the update).
export const RankFrameSchema = Type.Object({
  type: Type.Literal('rank'),
  competitionId: UuidSchema,
  seq: SeqSchema,
  userId: UuidSchema,
  ...ownProperties
}, { additionalProperties: false })

export const ResumedFrameSchema = Type.Object({
  type: Type.Literal('resumed'),
  competitionId: UuidSchema,
  fromSeq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The seq the client resumed from' }),
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'The last frame replayed (the replayed update frames follow)' })
}, { additionalProperties: false })

export const ErrorFrameSchema = Type.Object({
  type: Type.Literal('error'),
  code: Type.Literal('BAD_MESSAGE', { description: 'The client\'s message was not JSON or not a known message; the socket stays open' }),
  message: Type.String()
}, { additionalProperties: false })

export const PongFrameSchema = Type.Object({
  type: Type.Literal('pong')
}, { additionalProperties: false, description: 'The answer to a ping message' })

export const ResumeMessageSchema = Type.Object({
  type: Type.Literal('resume'),
  seq: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: `The last seq received. ${SEQ_RULE}` })
}, { additionalProperties: false })

export const PingMessageSchema = Type.Object({
  type: Type.Literal('ping')
}, { additionalProperties: false, description: 'Answered with a pong frame' })

// Told apart by `type` (oneOf with a discriminator, as PrizeSplitSchema), so a validator
// reports the faults of the frame type at hand rather than those of every other one.
const ServerFrameVariants = Type.Union([SnapshotFrameSchema, UpdateFrameSchema, RankFrameSchema, ResumedFrameSchema, ErrorFrameSchema, PongFrameSchema, NotificationMessageSchema])
export const ServerFrameSchema = Type.Unsafe<Static<typeof ServerFrameVariants>>({
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: ServerFrameVariants.anyOf,
  description: 'Every server -> client frame (JSON text messages)'
})
export type ServerFrame = Static<typeof ServerFrameSchema>

const ClientMessageVariants = Type.Union([ResumeMessageSchema, PingMessageSchema])
export const ClientMessageSchema = Type.Unsafe<Static<typeof ClientMessageVariants>>({
  type: 'object',
  required: ['type'],
  discriminator: { propertyName: 'type' },
  oneOf: ClientMessageVariants.anyOf,
  description: 'Every client -> server message (JSON text messages); anything else is answered with an error frame'
})
export type ClientMessage = Static<typeof ClientMessageSchema>

// Each frame schema by its `type`.
export const ServerFrameSchemas = {
  snapshot: SnapshotFrameSchema,
  update: UpdateFrameSchema,
  rank: RankFrameSchema,
  resumed: ResumedFrameSchema,
  error: ErrorFrameSchema,
  pong: PongFrameSchema,
  notification: NotificationMessageSchema
} as const
export type ServerFrameType = keyof typeof ServerFrameSchemas

export type SnapshotFrame = Static<typeof SnapshotFrameSchema>
export type UpdateFrame = Static<typeof UpdateFrameSchema>
export type RankFrame = Static<typeof RankFrameSchema>
