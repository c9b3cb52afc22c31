import type { SharedFrame, SplitFrame } from '../../lib/ws-shared-frame.ts'
import { rankFrame, windowFrame, withOwnFrame, type EntryJson, type OwnChange, type WindowFrame } from './frames.ts'
import { applyToTop, TOP_DEPTH, type FeedEntry, type StoredUpdate, type TopChange, type TopCopy } from './windows.ts'
import { parseFrame, updatesOf, type BroadcasterMetrics, type Client, type Feed } from './feed-state.ts'
import { isBetter } from '../leaderboard/ranking.ts'

// The receiving end of a tick: each frame from Redis applied to the feed's copy of the top,
// then one frame per client built from parts shared by the clients of the same window.

// A frame for 10,000 sockets takes tens of milliseconds to write; in slices, database replies
// and requests that arrived meanwhile are handled between them instead of after the whole
// broadcast (score updates during a burst otherwise waited a whole broadcast per round trip).
// The feed's frames are still handled one at a time, so each client's frames stay in order.
export const BROADCAST_SLICE = 500
const yieldToEventLoop = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

export interface FanOutDeps {
  send: (client: Client, data: string | SharedFrame | SplitFrame, type: string, counted?: boolean) => boolean
  metrics: Pick<BroadcasterMetrics, 'frames'>
  // Clients sent a frame between yields to the event loop.
  broadcastSlice: number
}

// The client's own rank and score as of `frame`, from the previous ones: each changed entry
// moves the rank by one when it crosses the client's score (rank counts strictly higher
// scores). Null when neither changed.
function ownChange (client: Client, frame: StoredUpdate, changed: Map<string, FeedEntry>): OwnChange | null {
  let rank = client.rank
  let score = client.score
  const own = changed.get(client.userId)
  if (own) {
    rank = own.rank
    score = own.score
  } else if (frame.removed.includes(client.userId)) {
    rank = null
    score = null
  } else if (rank !== null && score !== null) {
    const order = client.feed.scoreOrder
    for (const e of frame.entries) rank += (isBetter(order, e.score, score) ? 1 : 0) - (e.previousScore != null && isBetter(order, e.previousScore, score) ? 1 : 0)
    for (const previous of frame.removedScores) if (isBetter(order, previous, score)) rank -= 1
  }
  if (rank === client.rank && score === client.score) return null
  const previousRank = client.rank
  client.rank = rank
  client.score = score
  return { rank, previousRank, score }
}

export function createFanOut (deps: FanOutDeps) {
  const { send, metrics, broadcastSlice } = deps

  async function sendSnapshot (client: Client): Promise<void> {
    const { feed } = client
    if (client.closed) return
    const snap = await feed.source.snapshot(feed.competitionId, client.userId, client.limit, client.k)
    if (!send(client, snap.frame, 'snapshot')) return
    client.lastSeq = snap.seq
    client.rank = snap.me?.rank ?? null
    client.score = snap.me?.score ?? null
  }

  // The feed's copy of the top, from a snapshot of TOP_DEPTH entries (any user id will do).
  async function loadView (feed: Feed, userId: string): Promise<TopCopy> {
    const snap = await feed.source.snapshot(feed.competitionId, userId, TOP_DEPTH, 0)
    const frame = JSON.parse(snap.frame) as { total: number, entries: FeedEntry[] }
    feed.scoreOrder = snap.scoreOrder
    feed.view = { seq: snap.seq, total: frame.total, top: frame.entries.map((e) => ({ ...e, previousScore: e.score })) }
    return feed.view
  }

  // Frames were lost or the top cannot be trusted: a new copy, and a snapshot for every client.
  async function resync (feed: Feed): Promise<void> {
    feed.view = null
    const first = feed.clients.values().next().value
    if (!first) return
    await loadView(feed, first.userId)
    for (const client of feed.clients) if (client.ready) await sendSnapshot(client)
  }

  // One frame applied to the feed's top, then to every client: the frame of its window (built
  // once per distinct limit), its own part appended when its rank or score moved, a rank frame
  // alone when only those moved, nothing otherwise. At most one frame per client.
  async function handle (feed: Feed, frame: StoredUpdate): Promise<void> {
    const change: TopChange | null = feed.view ? applyToTop(feed.view, frame) : null
    if (!change) { await resync(feed); return }
    const windows = new Map<number, WindowFrame>()
    const cache: EntryJson = new Map()
    let updates = 0
    let ranks = 0
    let visited = 0
    for (const client of feed.clients) {
      if (++visited % broadcastSlice === 0) await yieldToEventLoop()
      if (!client.ready || frame.seq <= client.lastSeq) continue
      if (client.lastSeq < frame.seq - 1) {
        // Not at the copy's previous state (cannot happen while frames are handled in order).
        await sendSnapshot(client)
        continue
      }
      client.lastSeq = frame.seq
      const own = ownChange(client, frame, change.changed)
      let window = windows.get(client.limit)
      if (!window) { window = windowFrame(change, client.limit, cache); windows.set(client.limit, window) }
      if (!window.empty) {
        if (send(client, own ? withOwnFrame(window, own) : window.shared, 'update', false)) updates++
      } else if (own) {
        if (send(client, rankFrame(feed.competitionId, frame.seq, client.userId, own), 'rank', false)) ranks++
      }
    }
    if (updates > 0) metrics.frames.inc({ type: 'update' }, updates)
    if (ranks > 0) metrics.frames.inc({ type: 'rank' }, ranks)
  }

  // Frames handled in seq order; a gap is filled from the buffer, else the feed resyncs.
  async function onFrame (feed: Feed, raw: string): Promise<void> {
    const frame = parseFrame(raw)
    const view = feed.view
    if (!view) {
      // The copy could not be loaded last time: try again for the clients waiting on it.
      if ([...feed.clients].some((c) => c.ready)) await resync(feed)
      return
    }
    if (!frame || frame.seq <= view.seq) return
    if (frame.type === 'reset') { await resync(feed); return }
    if (frame.seq === view.seq + 1) { await handle(feed, frame); return }
    await catchUp(feed, frame.seq)
  }

  // Brings the feed's copy to `seq` with the buffered frames, handing them to the clients.
  async function catchUp (feed: Feed, seq: number): Promise<void> {
    const from = feed.view!.seq
    const missing = updatesOf(await feed.source.framesSince(feed.competitionId, from).catch(() => null))
    if (!missing || missing.length < seq - from) { await resync(feed); return }
    for (const frame of missing) if (frame.seq <= seq && feed.view && frame.seq === feed.view.seq + 1) await handle(feed, frame)
  }

  return { onFrame, handle, resync, loadView, sendSnapshot }
}

export type FanOut = ReturnType<typeof createFanOut>
