import type { Writable } from 'node:stream'
import type { StoredUpdate, TopCopy } from './windows.ts'
import type { ScoreOrder } from '../leaderboard/ranking.ts'

// The state the broadcaster's parts share: a feed per competition watched on this instance and
// a client per socket, plus how the frames published in Redis are read.

export interface FeedSnapshot {
  frame: string
  seq: number
  // How the competition ranks, for working out a client's own rank from frames.
  scoreOrder: ScoreOrder
  me: { rank: number, score: number } | null
}

// What the feed reads from the leaderboard projection. Ticks are not driven from here: frames
// arrive on the channel, framed by the ticker (ticker.ts).
export interface FeedSource {
  channel: (competitionId: string) => string
  snapshot: (competitionId: string, userId: string, limit: number, k: number) => Promise<FeedSnapshot>
  resume: (competitionId: string, userId: string, fromSeq: number) => Promise<{ seq: number, frames: string[] | null, me: { rank: number, score: number } | null } | null>
  framesSince: (competitionId: string, seq: number) => Promise<string[] | null>
}

export interface SocketLike {
  readonly readyState: number
  // Bytes accepted by send and not yet handed to the kernel: the ws library counts its own queue
  // and its connection's writable buffer, so whole frames written there are counted too.
  readonly bufferedAmount: number
  // Frames shared by many clients are sent whole (lib/ws-shared-frame.ts), else as UTF-8 text.
  send (data: string | Buffer, options?: { binary?: boolean }): void
  close: (code?: number, reason?: string) => void
  terminate: () => void
  ping: () => void
  on: (event: 'message' | 'close' | 'pong', listener: (...args: unknown[]) => void) => unknown
}

export interface CounterLike { inc: (labels: Record<string, string>, value?: number) => void }
interface GaugeLike { inc: () => void, dec: () => void }

export interface BroadcasterMetrics {
  connections: GaugeLike
  frames: CounterLike
  slowConsumers: CounterLike
}

export interface Client {
  socket: SocketLike
  // Where frames shared by many clients are written whole (lib/ws-shared-frame.ts), if anywhere.
  wholeFrames: Writable | null
  userId: string
  feed: Feed
  limit: number
  k: number
  lastSeq: number
  ready: boolean
  alive: boolean
  closed: boolean
  rank: number | null
  score: number | null
  // Token bucket for the client's own messages.
  allowance: number
  allowanceAt: number
}

export interface Feed {
  competitionId: string
  channel: string
  source: FeedSource
  clients: Set<Client>
  chain: Promise<void>
  subscribed: Promise<unknown> | null
  // The top as of the last frame handled here; null until the first client starts.
  view: TopCopy | null
  // From the snapshot that made the view.
  scoreOrder: ScoreOrder
}

export const OPEN = 1

// Frame handling for one competition runs in order, one task at a time.
export function enqueue (feed: Feed, task: () => Promise<void>, log: { warn: (obj: object, msg?: string) => void }): void {
  feed.chain = feed.chain.then(task).catch((err) => log.warn({ err, competitionId: feed.competitionId }, 'live feed task failed'))
}

export type ParsedFrame = StoredUpdate | { type: 'reset', seq: number }

export function parseFrame (raw: string): ParsedFrame | null {
  try {
    const frame = JSON.parse(raw)
    if (typeof frame?.seq !== 'number' || (frame.type !== 'update' && frame.type !== 'reset')) return null
    return frame
  } catch {
    return null
  }
}

// Buffered frames as updates, or null when one is unreadable or a reset.
export function updatesOf (raws: string[] | null | undefined): StoredUpdate[] | null {
  if (!raws) return null
  const frames = raws.map(parseFrame)
  return frames.every((f) => f?.type === 'update') ? frames as StoredUpdate[] : null
}
