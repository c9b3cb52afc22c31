import type { Redis } from 'ioredis'
import { CloseCodes, type UpdateFrame } from '../schemas/realtime.ts'

// Fan-out of leaderboard frames to this instance's WebSockets. Frames are built and numbered
// once per tick per competition in Redis (see leaderboard-scripts.ts) and published on the
// competition's channel; this instance subscribes to a channel only while it has clients for
// it, forwards each frame's text unchanged to every client, and per client keeps the stream
// gap-free (replay from the buffer, else a fresh snapshot) and its rank for personal events.

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
  flush: (competitionId: string) => Promise<void>
}

export interface SocketLike {
  readonly readyState: number
  readonly bufferedAmount: number
  // Frames shared by every client arrive as one UTF-8 Buffer sent as text ({ binary: false }).
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
  // How often an instance with clients frames changes another writer left unframed.
  sweepMs: number
}

interface Client {
  socket: SocketLike
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
  sweep: NodeJS.Timeout
}

// A frame as received, decoded once per instance: its UTF-8 bytes are what every client is
// sent, and its entries by user id serve each client's own rank.
interface ParsedFrame {
  raw: string
  data: Buffer
  frame: UpdateFrame | { type: 'reset', seq: number }
  byUser: Map<string, UpdateFrame['entries'][number]>
}

const OPEN = 1

function parse (raw: string): ParsedFrame | null {
  try {
    const frame = JSON.parse(raw)
    if (typeof frame?.seq !== 'number') return null
    const byUser = new Map((frame.type === 'update' ? frame.entries as UpdateFrame['entries'] : []).map((e) => [e.userId, e]))
    return { raw, data: Buffer.from(raw), frame, byUser }
  } catch {
    return null
  }
}

export function createBroadcaster (deps: BroadcasterDeps) {
  const { subscriber, log, metrics, maxBufferedBytes } = deps
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
      for (const feed of feeds.values()) {
        enqueue(feed, async () => {
          for (const client of feed.clients) if (client.ready) await sendSnapshot(client)
        })
      }
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
  function send (client: Client, data: string | Buffer, type: string, counted = true): boolean {
    if (client.closed || client.socket.readyState !== OPEN) return false
    // A consumer that cannot keep up is dropped, never buffered without bound.
    if (client.socket.bufferedAmount > maxBufferedBytes) {
      metrics.slowConsumers.inc({})
      drop(client, CloseCodes.SLOW_CONSUMER, 'Too slow: messages were piling up')
      return false
    }
    if (typeof data === 'string') client.socket.send(data)
    else client.socket.send(data, { binary: false })
    if (counted) metrics.frames.inc({ type })
    return true
  }

  function drop (client: Client, code: number, reason: string): void {
    if (client.closed) return
    client.socket.close(code, reason)
    // A peer that does not read will not complete the closing handshake either.
    setTimeout(() => client.socket.terminate(), 1000).unref()
    detach(client)
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
    clearInterval(feed.sweep)
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
        sweep: setInterval(() => { source.flush(competitionId) }, deps.sweepMs)
      }
      created.sweep.unref()
      feed = created
      feeds.set(competitionId, feed)
      byChannel.set(feed.channel, feed)
    }
    return feed
  }

  async function sendSnapshot (client: Client): Promise<void> {
    const { feed } = client
    const snap = await feed.source.snapshot(feed.competitionId, client.userId, client.limit, client.k)
    if (!send(client, snap.frame, 'snapshot')) return
    client.lastSeq = snap.seq
    client.rank = snap.me?.rank ?? null
    client.score = snap.me?.score ?? null
  }

  function resumedFrame (client: Client, fromSeq: number, seq: number): string {
    return JSON.stringify({ type: 'resumed', competitionId: client.feed.competitionId, fromSeq, seq })
  }

  // The client's own rank as of `frame`, from its previous rank: each changed entry moves it
  // by one when it crosses the client's score (rank counts strictly higher scores).
  function trackRank (client: Client, frame: UpdateFrame, byUser: ParsedFrame['byUser']): void {
    let rank = client.rank
    const own = byUser.get(client.userId)
    if (own) {
      rank = own.rank
      client.score = own.score
    } else if (frame.removed.includes(client.userId)) {
      rank = null
      client.score = null
    } else if (rank !== null && client.score !== null) {
      const score = client.score
      for (const e of frame.entries) rank += (e.score > score ? 1 : 0) - (e.previousScore !== null && e.previousScore > score ? 1 : 0)
      frame.removedScores.forEach((previous) => { if (previous > score) rank! -= 1 })
    }
    if (rank === client.rank) return
    const previousRank = client.rank
    client.rank = rank
    send(client, JSON.stringify({
      type: 'rank', competitionId: frame.competitionId, seq: frame.seq, userId: client.userId, rank, previousRank, score: client.score
    }), 'rank')
  }

  // True when the update was sent; the caller counts it.
  function deliver (client: Client, parsed: ParsedFrame): boolean {
    const { frame, data } = parsed
    if (frame.seq <= client.lastSeq || frame.type !== 'update') return false
    if (!send(client, data, 'update', false)) return false
    client.lastSeq = frame.seq
    trackRank(client, frame, parsed.byUser)
    return true
  }

  async function onFrame (feed: Feed, raw: string): Promise<void> {
    const parsed = parse(raw)
    if (!parsed) return
    const { frame } = parsed
    const lagging = new Map<number, Client[]>()
    let delivered = 0
    for (const client of feed.clients) {
      if (!client.ready || frame.seq <= client.lastSeq) continue
      if (frame.type === 'reset') await sendSnapshot(client)
      else if (frame.seq === client.lastSeq + 1) { if (deliver(client, parsed)) delivered++ } else lagging.set(client.lastSeq, [...(lagging.get(client.lastSeq) ?? []), client])
    }
    if (delivered > 0) metrics.frames.inc({ type: 'update' }, delivered)
    // Frames this instance did not receive (subscription gap, Redis reconnect): replay them
    // from the buffer, or send a snapshot when they are gone or include a reset.
    for (const [from, clients] of lagging) {
      const missing = (await feed.source.framesSince(feed.competitionId, from).catch(() => null))?.map(parse)
      const usable = missing && missing.every((m) => m !== null && m.frame.type === 'update') ? missing as ParsedFrame[] : null
      for (const client of clients) {
        if (usable) usable.forEach((m) => { if (deliver(client, m)) metrics.frames.inc({ type: 'update' }) })
        else await sendSnapshot(client)
      }
    }
  }

  async function start (client: Client, resumeSeq: number | undefined): Promise<void> {
    const { feed } = client
    if (resumeSeq !== undefined) {
      const resumed = await feed.source.resume(feed.competitionId, client.userId, resumeSeq)
      const frames = resumed?.frames?.map(parse)
      if (resumed && frames && frames.every((f) => f !== null && f.frame.type === 'update')) {
        if (!send(client, resumedFrame(client, resumeSeq, resumed.seq), 'resumed')) return
        for (const f of frames as ParsedFrame[]) send(client, f.raw, 'update')
        client.lastSeq = resumed.seq
        client.rank = resumed.me?.rank ?? null
        client.score = resumed.me?.score ?? null
        client.ready = true
        return
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
    const frames = (await client.feed.source.framesSince(client.feed.competitionId, fromSeq).catch(() => null))?.map(parse)
    const replay = frames?.filter((f) => f !== null && f.frame.seq <= client.lastSeq) as ParsedFrame[] | undefined
    if (!replay || replay.length !== client.lastSeq - fromSeq || replay.some((f) => f.frame.type !== 'update')) {
      await sendSnapshot(client)
      return
    }
    if (!send(client, resumedFrame(client, fromSeq, client.lastSeq), 'resumed')) return
    for (const f of replay) send(client, f.raw, 'update')
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
      enqueue(client.feed, async () => { if (client.ready) await resumeOpen(client, seq) })
    } else {
      send(client, JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'Expected {"type":"resume","seq":n} or {"type":"ping"}' }), 'error')
    }
  }

  // Takes over an accepted socket: subscribes the instance to the competition if needed, then
  // sends the snapshot (or the replay of a resume) and the live updates after it.
  async function connect (socket: SocketLike, opts: { competitionId: string, userId: string, source: FeedSource, limit: number, k: number, resumeSeq?: number }): Promise<void> {
    if (shuttingDown) { socket.close(CloseCodes.GOING_AWAY, 'Server shutting down'); return }
    const feed = feedFor(opts.competitionId, opts.source)
    const client: Client = { socket, userId: opts.userId, feed, limit: opts.limit, k: opts.k, lastSeq: -1, ready: false, alive: true, closed: false, rank: null, score: null, allowance: deps.maxMessagesPerSecond * 2, allowanceAt: Date.now() }
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

  function stats (): { competitions: number, clients: number, channels: string[] } {
    let clients = 0
    for (const feed of feeds.values()) clients += feed.clients.size
    return { competitions: feeds.size, clients, channels: [...byChannel.keys()] }
  }

  return { connect, shutdown, stats }
}

export type Broadcaster = ReturnType<typeof createBroadcaster>
