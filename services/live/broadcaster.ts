import type { Writable } from 'node:stream'
import type { Redis } from 'ioredis'
import { CloseCodes } from '../../schemas/realtime.ts'
import { frameLength, sendSharedFrame, wholeFrameTarget, type SharedFrame, type SplitFrame } from '../../lib/ws-shared-frame.ts'
import { resetConnection } from '../../lib/ws-connection-reset.ts'
import { rankFrame, replayFrames, windowFrame, withOwnFrame, type EntryJson, type OwnChange, type WindowFrame } from './frames.ts'
import { applyToTop, TOP_DEPTH, type FeedEntry, type StoredUpdate, type TopChange, type TopCopy } from './windows.ts'

// Fan-out of leaderboard frames to this instance's WebSockets. Frames are built and numbered
// once per tick per competition in Redis (ticks are owned by ticker.ts) and published on the
// competition's channel; this instance subscribes to a channel only while it has clients for
// it. It keeps a copy of the competition's top from the frames and sends each client only
// what changed in its view: its top `limit` (one frame built per distinct limit) and its own
// rank and score. A client may therefore see seq jump; the server keeps its stream complete
// (replay from the buffer, else a fresh snapshot).

export interface FeedSnapshot {
  frame: string
  seq: number
  me: { rank: number, score: number } | null
}

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

interface CounterLike { inc: (labels: Record<string, string>, value?: number) => void }
interface GaugeLike { inc: () => void, dec: () => void }

export interface BroadcasterMetrics {
  connections: GaugeLike
  frames: CounterLike
  slowConsumers: CounterLike
}

export interface BroadcasterDeps {
  subscriber: Pick<Redis, 'subscribe' | 'unsubscribe' | 'on' | 'off' | 'connect' | 'status'>
  log: { warn: (obj: object, msg?: string) => void }
  metrics: BroadcasterMetrics
  heartbeatMs: number
  maxBufferedBytes: number
  // Client messages allowed per second (a burst of twice that); each resume costs Redis work.
  maxMessagesPerSecond: number
  // Clients sent a frame between yields to the event loop (default BROADCAST_SLICE).
  broadcastSlice?: number
}

// A frame for 10,000 sockets takes tens of milliseconds to write; in slices, database replies
// and requests that arrived meanwhile are handled between them instead of after the whole
// broadcast (score updates during a burst otherwise waited a whole broadcast per round trip).
// The feed's frames are still handled one at a time, so each client's frames stay in order.
const BROADCAST_SLICE = 500
const yieldToEventLoop = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

// How long a dropped client has to read up to its close frame before its connection is reset.
const CLOSE_GRACE_MS = 1000

interface Client {
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

interface Feed {
  competitionId: string
  channel: string
  source: FeedSource
  clients: Set<Client>
  chain: Promise<void>
  subscribed: Promise<unknown> | null
  // The top as of the last frame handled here; null until the first client starts.
  view: TopCopy | null
}

type Parsed = StoredUpdate | { type: 'reset', seq: number }

const OPEN = 1

function parse (raw: string): Parsed | null {
  try {
    const frame = JSON.parse(raw)
    if (typeof frame?.seq !== 'number' || (frame.type !== 'update' && frame.type !== 'reset')) return null
    return frame
  } catch {
    return null
  }
}

// Buffered frames as updates, or null when one is unreadable or a reset.
function updatesOf (raws: string[] | null | undefined): StoredUpdate[] | null {
  if (!raws) return null
  const frames = raws.map(parse)
  return frames.every((f) => f?.type === 'update') ? frames as StoredUpdate[] : null
}

export function createBroadcaster (deps: BroadcasterDeps) {
  const { subscriber, log, metrics, maxBufferedBytes } = deps
  const broadcastSlice = deps.broadcastSlice ?? BROADCAST_SLICE
  const feeds = new Map<string, Feed>()
  const byChannel = new Map<string, Feed>()
  let connecting: Promise<void> | null = null
  let shuttingDown = false

  function onMessage (channel: string, message: string): void {
    const feed = byChannel.get(channel)
    if (feed) enqueue(feed, async () => await onFrame(feed, message))
  }
  subscriber.on('message', onMessage)

  // Frames published while the subscriber was away (a rebuild's reset among them) never
  // arrive: after a reconnect every open socket gets a fresh snapshot.
  let wasReady = subscriber.status === 'ready'
  function onSubscriberReady (): void {
    if (wasReady) {
      for (const feed of feeds.values()) enqueue(feed, async () => await resync(feed))
    }
    wasReady = true
  }
  subscriber.on('ready', onSubscriberReady)

  const heartbeat = setInterval(function heartbeat () {
    for (const feed of feeds.values()) {
      for (const client of feed.clients) {
        // No pong since the last ping: the peer is gone without a close.
        if (!client.alive) { client.socket.terminate(); continue }
        client.alive = false
        try { client.socket.ping() } catch { client.socket.terminate() }
      }
    }
  }, deps.heartbeatMs)
  heartbeat.unref()

  // Frame handling for one competition runs in order, one task at a time.
  function enqueue (feed: Feed, task: () => Promise<void>): void {
    feed.chain = feed.chain.then(task).catch((err) => log.warn({ err, competitionId: feed.competitionId }, 'live feed task failed'))
  }

  // `counted` false: the caller counts the frames it sent in one go (a broadcast).
  function send (client: Client, data: string | SharedFrame | SplitFrame, type: string, counted = true): boolean {
    if (client.closed || client.socket.readyState !== OPEN) return false
    // Queued as bytes (a string queued as a string stays on the JavaScript heap, and a socket's
    // queue of strings and buffers is copied whole when it is finally written).
    const frame = typeof data === 'string' ? Buffer.from(data) : data
    // A consumer that cannot keep up is dropped, never buffered without bound: its unsent bytes
    // stay within the limit, frame included (a frame alone may always be queued).
    const unsent = client.socket.bufferedAmount
    if (unsent > 0 && unsent + (Buffer.isBuffer(frame) ? frame.length : frameLength(frame)) > maxBufferedBytes) {
      metrics.slowConsumers.inc({})
      drop(client, CloseCodes.SLOW_CONSUMER, 'Too slow: messages were piling up')
      return false
    }
    if (Buffer.isBuffer(frame)) client.socket.send(frame, { binary: false })
    else sendSharedFrame(client.socket, client.wholeFrames, frame)
    if (counted) metrics.frames.inc({ type })
    return true
  }

  // The close frame goes after what is already queued, so only a client that reads again
  // within the grace sees the code; one that does not is reset, which frees what it held
  // here and in the kernel at once (it sees an abnormal closure, 1006, and resumes with seq).
  function drop (client: Client, code: number, reason: string): void {
    if (client.closed) return
    detach(client)
    const { socket } = client
    socket.close(code, reason)
    const reset = setTimeout(() => resetConnection(socket), CLOSE_GRACE_MS)
    reset.unref()
    socket.on('close', () => clearTimeout(reset))
  }

  function detach (client: Client): void {
    if (client.closed) return
    client.closed = true
    metrics.connections.dec()
    const { feed } = client
    feed.clients.delete(client)
    if (feed.clients.size > 0 || feeds.get(feed.competitionId) !== feed) return
    feeds.delete(feed.competitionId)
    byChannel.delete(feed.channel)
    subscriber.unsubscribe(feed.channel).catch((err) => log.warn({ err }, 'unsubscribe failed'))
  }

  async function subscribe (feed: Feed): Promise<void> {
    if (feed.subscribed === null) {
      feed.subscribed = (async () => {
        if (subscriber.status === 'wait') {
          connecting ??= subscriber.connect().finally(() => { connecting = null })
          await connecting
        }
        await subscriber.subscribe(feed.channel)
      })()
      feed.subscribed.catch(() => { feed.subscribed = null })
    }
    await feed.subscribed
  }

  function feedFor (competitionId: string, source: FeedSource): Feed {
    let feed = feeds.get(competitionId)
    if (!feed) {
      const created: Feed = {
        competitionId,
        channel: source.channel(competitionId),
        source,
        clients: new Set(),
        chain: Promise.resolve(),
        subscribed: null,
        view: null
      }
      feed = created
      feeds.set(competitionId, feed)
      byChannel.set(feed.channel, feed)
    }
    return feed
  }

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

  function resumedFrame (client: Client, fromSeq: number, seq: number): string {
    return JSON.stringify({ type: 'resumed', competitionId: client.feed.competitionId, fromSeq, seq })
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
      for (const e of frame.entries) rank += (e.score > score ? 1 : 0) - (e.previousScore != null && e.previousScore > score ? 1 : 0)
      for (const previous of frame.removedScores) if (previous > score) rank -= 1
    }
    if (rank === client.rank && score === client.score) return null
    const previousRank = client.rank
    client.rank = rank
    client.score = score
    return { rank, previousRank, score }
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
    const frame = parse(raw)
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

  // Replays `frames` (the ones after `fromSeq`, ending at the feed's current seq) to a client.
  function replay (client: Client, fromSeq: number, frames: StoredUpdate[], previousRank: number | null): boolean {
    const seq = client.feed.view!.seq
    if (!send(client, resumedFrame(client, fromSeq, seq), 'resumed')) return false
    const own = client.rank === null && client.score === null ? null : { rank: client.rank, previousRank, score: client.score }
    for (const text of replayFrames(frames, client.feed.view!.top, client.limit, own)) send(client, text, 'update')
    client.lastSeq = seq
    return true
  }

  async function start (client: Client, resumeSeq: number | undefined): Promise<void> {
    const { feed } = client
    const view = feed.view ?? await loadView(feed, client.userId)
    if (resumeSeq !== undefined) {
      const resumed = await feed.source.resume(feed.competitionId, client.userId, resumeSeq)
      const frames = updatesOf(resumed?.frames)
      if (resumed && frames && resumeSeq <= view.seq && resumed.seq >= view.seq) {
        // The feed's copy first moves to the resumed seq (other clients get those frames now).
        for (const frame of frames) if (frame.seq === view.seq + 1) await handle(feed, frame)
        if (feed.view === view && view.seq === resumed.seq) {
          client.rank = resumed.me?.rank ?? null
          client.score = resumed.me?.score ?? null
          if (replay(client, resumeSeq, frames, null)) client.ready = true
          return
        }
      }
    }
    await sendSnapshot(client)
    client.ready = true
  }

  // A resume on an open socket: replay what the client says it missed before this socket's
  // position, from the buffer, or send a snapshot.
  async function resumeOpen (client: Client, fromSeq: number): Promise<void> {
    if (fromSeq >= client.lastSeq) {
      send(client, resumedFrame(client, fromSeq, client.lastSeq), 'resumed')
      return
    }
    const view = client.feed.view
    const frames = updatesOf(await client.feed.source.framesSince(client.feed.competitionId, fromSeq).catch(() => null))
    const missed = frames?.filter((f) => f.seq <= client.lastSeq)
    if (!view || view.seq !== client.lastSeq || !missed || missed.length !== client.lastSeq - fromSeq) {
      await sendSnapshot(client)
      return
    }
    replay(client, fromSeq, missed, client.rank)
  }

  // Refills the client's allowance by elapsed time; false when it has none left.
  function withinRate (client: Client): boolean {
    const now = Date.now()
    const burst = deps.maxMessagesPerSecond * 2
    client.allowance = Math.min(burst, client.allowance + (now - client.allowanceAt) * deps.maxMessagesPerSecond / 1000)
    client.allowanceAt = now
    if (client.allowance < 1) return false
    client.allowance -= 1
    return true
  }

  function onClientMessage (client: Client, data: unknown): void {
    if (client.closed) return
    if (!withinRate(client)) {
      drop(client, CloseCodes.TOO_MANY_MESSAGES, 'Too many messages')
      return
    }
    let message: { type?: unknown, seq?: unknown }
    try {
      message = JSON.parse(String(data))
    } catch {
      send(client, JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'Messages must be JSON' }), 'error')
      return
    }
    if (message?.type === 'ping') {
      send(client, '{"type":"pong"}', 'pong')
    } else if (message?.type === 'resume' && Number.isSafeInteger(message.seq) && (message.seq as number) >= 0) {
      const seq = message.seq as number
      enqueue(client.feed, async () => { if (client.ready && !client.closed) await resumeOpen(client, seq) })
    } else {
      send(client, JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'Expected {"type":"resume","seq":n} or {"type":"ping"}' }), 'error')
    }
  }

  // Takes over an accepted socket: subscribes the instance to the competition if needed, then
  // sends the snapshot (or the replay of a resume) and the live updates after it.
  async function connect (socket: SocketLike, opts: { competitionId: string, userId: string, source: FeedSource, limit: number, k: number, resumeSeq?: number }): Promise<void> {
    if (shuttingDown) { socket.close(CloseCodes.GOING_AWAY, 'Server shutting down'); return }
    const feed = feedFor(opts.competitionId, opts.source)
    const client: Client = { socket, wholeFrames: wholeFrameTarget(socket), userId: opts.userId, feed, limit: opts.limit, k: opts.k, lastSeq: -1, ready: false, alive: true, closed: false, rank: null, score: null, allowance: deps.maxMessagesPerSecond * 2, allowanceAt: Date.now() }
    feed.clients.add(client)
    metrics.connections.inc()
    socket.on('pong', () => { client.alive = true })
    socket.on('close', () => detach(client))
    socket.on('message', (data) => onClientMessage(client, data))
    try {
      await subscribe(feed)
    } catch (err) {
      log.warn({ err, competitionId: opts.competitionId }, 'live feed unavailable: Redis subscription failed')
      drop(client, CloseCodes.TRY_AGAIN_LATER, 'Live updates are unavailable, try again shortly')
      return
    }
    enqueue(feed, async () => {
      try {
        if (!client.closed) await start(client, opts.resumeSeq)
      } catch (err) {
        log.warn({ err, competitionId: opts.competitionId }, 'live feed could not start')
        drop(client, CloseCodes.TRY_AGAIN_LATER, 'Live updates are unavailable, try again shortly')
      }
    })
  }

  // Graceful shutdown: every socket is told the server is going away.
  async function shutdown (): Promise<void> {
    shuttingDown = true
    clearInterval(heartbeat)
    subscriber.off('message', onMessage)
    subscriber.off('ready', onSubscriberReady)
    for (const feed of [...feeds.values()]) {
      for (const client of [...feed.clients]) drop(client, CloseCodes.GOING_AWAY, 'Server shutting down')
    }
  }

  // Competitions with clients on this instance (the ticker sweeps them, see ticker.ts).
  function watched (): IterableIterator<string> {
    return feeds.keys()
  }

  function stats (): { competitions: number, clients: number, channels: string[] } {
    let clients = 0
    for (const feed of feeds.values()) clients += feed.clients.size
    return { competitions: feeds.size, clients, channels: [...byChannel.keys()] }
  }

  return { connect, shutdown, watched, stats }
}

export type Broadcaster = ReturnType<typeof createBroadcaster>
