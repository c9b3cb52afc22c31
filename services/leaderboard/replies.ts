import type { ScoreOrder } from './ranking.ts'
// Replies of the projection's Lua scripts (scripts/*.ts), named once here. The Lua returns
// arrays and sentinels (-1 for a missing projection, -ttl for "too soon"); nothing past these
// decoders reads a reply by position.

export type Reply = string | number | null | Reply[]

// apply, remove, load: how many users changed, unless the projection does not exist (then a
// rebuild is needed).
export interface WriteResult {
  projectionMissing: boolean
  changed: number
}

const PROJECTION_MISSING = -1
const MISSING: WriteResult = Object.freeze({ projectionMissing: true, changed: 0 })

export function decodeWrite (reply: Reply): WriteResult {
  const n = Number(reply)
  return n === PROJECTION_MISSING ? MISSING : { projectionMissing: false, changed: n }
}

// load: as a write, and the users it put back over a tombstone. Each left after the rebuild
// read its row, or came back; the rebuild asks Postgres which (rebuild.ts).
export interface LoadResult extends WriteResult {
  revived: string[]
}

export function decodeLoad (reply: Reply): LoadResult {
  if (!Array.isArray(reply)) return { ...decodeWrite(reply), revived: [] }
  const [changed, ...revived] = reply
  return { projectionMissing: false, changed: Number(changed), revived: revived.map(String) }
}

// profile: whether the projection existed and took the new name.
export function decodeProfile (reply: Reply): { updated: boolean } {
  return { updated: Number(reply) === 1 }
}

// finish: the seq of the reset frame it published (null when nothing differed).
export interface FinishResult {
  projectionMissing: boolean
  resetSeq: number | null
}

export function decodeFinish (reply: Reply): FinishResult {
  const n = Number(reply)
  if (n === PROJECTION_MISSING) return { projectionMissing: true, resetSeq: null }
  return { projectionMissing: false, resetSeq: n > 0 ? n : null }
}

// flush: a frame went out, there was nothing to frame, or the last frame is less than a tick
// old (retry when its tick ends).
export type FlushResult =
  | { kind: 'framed', seq: number }
  | { kind: 'idle' }
  | { kind: 'tooSoon', retryInMs: number }

const IDLE: FlushResult = Object.freeze({ kind: 'idle' })

export function decodeFlush (reply: Reply): FlushResult {
  const n = Number(reply)
  if (n > 0) return { kind: 'framed', seq: n }
  if (n < 0) return { kind: 'tooSoon', retryInMs: -n }
  return IDLE
}

// A range of the ranking: flat [member, zscore, nameFields, ...] and the rank of its first entry.
export interface RangeReply {
  firstRank: number
  flat: Reply[]
}

// A user's neighbourhood: their 0-based position, the range around it and where it starts.
export interface AroundReply {
  position: number
  start: number
  range: RangeReply
}

// `mine` in the Lua answers a position of -1 for a user not ranked.
type Field = Reply | undefined

function around (position: Field, firstRank: Field, flat: Field, start: Field): AroundReply | null {
  const pos = Number(position)
  if (pos < 0) return null
  return { position: pos, start: Number(start), range: { firstRank: Number(firstRank), flat: flat as Reply[] } }
}

export interface ReadReply {
  version: string
  visibility: string
  createdBy: string | null
  total: number
  participant: boolean
  // Null when the caller's cached page is current (the script left it out).
  page: (RangeReply & { start: number }) | null
  me: AroundReply | null
}

// read: null while the projection is not ready.
export function decodeRead (reply: Reply): ReadReply | null {
  if (!Array.isArray(reply)) return null
  const [version, visibility, createdBy, total, participant, start, mePos, aroundRank, aroundFlat, aroundStart, pageRank, pageFlat] = reply
  return {
    version: String(version),
    visibility: String(visibility),
    createdBy: createdBy === '' ? null : String(createdBy),
    total: Number(total),
    participant: Number(participant) === 1,
    page: Array.isArray(pageFlat) ? { start: Number(start), firstRank: Number(pageRank), flat: pageFlat } : null,
    me: around(mePos, aroundRank, aroundFlat, aroundStart)
  }
}

export interface SnapshotReply {
  seq: number
  scoreOrder: ScoreOrder
  total: number
  top: RangeReply
  me: AroundReply | null
}

// snapshot: null while the projection is not ready.
export function decodeSnapshot (reply: Reply): SnapshotReply | null {
  if (!Array.isArray(reply)) return null
  const [seq, total, topRank, topFlat, mePos, aroundRank, aroundFlat, aroundStart, order] = reply
  return {
    seq: Number(seq),
    scoreOrder: order === 'lowest_wins' ? 'lowest_wins' : 'highest_wins',
    total: Number(total),
    top: { firstRank: Number(topRank), flat: topFlat as Reply[] },
    me: around(mePos, aroundRank, aroundFlat, aroundStart)
  }
}

export interface ResumeReply {
  seq: number
  // The frames after the requested seq, or null when the buffer no longer holds all of them.
  frames: string[] | null
  me: { rank: number, score: number } | null
}

// resume: null while the projection is not ready. An empty score means the user is not ranked.
export function decodeResume (reply: Reply): ResumeReply | null {
  if (!Array.isArray(reply)) return null
  const [seq, complete, frames, rank, points] = reply
  return {
    seq: Number(seq),
    frames: Number(complete) === 1 ? (frames as string[]) : null,
    me: points === '' ? null : { rank: Number(rank), score: Number(points) }
  }
}
