import { CloseCodes } from '../../schemas/realtime.ts'
import { frameLength, sendSharedFrame, wholeFrameTarget, type SharedFrame, type SplitFrame } from '../../lib/ws-shared-frame.ts'
import { resetConnection } from '../../lib/ws-connection-reset.ts'
import { OPEN, type BroadcasterMetrics, type Client, type Feed, type FeedSource, type SocketLike } from './feed-state.ts'

// The registry of this instance's live sockets, by competition: sending with backpressure
// (a consumer that cannot keep up is dropped), heartbeats, per-client message rate.

const NONE: ReadonlySet<Client> = new Set()

// How long a dropped client has to read up to its close frame before its connection is reset.
const CLOSE_GRACE_MS = 1000

export interface ConnectionsDeps {
  metrics: BroadcasterMetrics
  heartbeatMs: number
  maxBufferedBytes: number
  // Client messages allowed per second (a burst of twice that).
  maxMessagesPerSecond: number
  // A competition got its first client here, or lost its last one.
  onFeedOpened: (feed: Feed) => void
  onFeedClosed: (feed: Feed) => void
}

export function createConnections (deps: ConnectionsDeps) {
  const { metrics, maxBufferedBytes, maxMessagesPerSecond } = deps
  const feeds = new Map<string, Feed>()
  // The same clients by user, for messages addressed to a person (notifications).
  const byUser = new Map<string, Set<Client>>()

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

  function feedFor (competitionId: string, source: FeedSource): Feed {
    let feed = feeds.get(competitionId)
    if (!feed) {
      feed = { competitionId, channel: source.channel(competitionId), source, clients: new Set(), chain: Promise.resolve(), subscribed: null, view: null, scoreOrder: 'highest_wins' }
      feeds.set(competitionId, feed)
      deps.onFeedOpened(feed)
    }
    return feed
  }

  // A client for an accepted socket, registered with its competition's feed.
  function add (socket: SocketLike, opts: { competitionId: string, userId: string, source: FeedSource, limit: number, k: number }): Client {
    const feed = feedFor(opts.competitionId, opts.source)
    const client: Client = { socket, wholeFrames: wholeFrameTarget(socket), userId: opts.userId, feed, limit: opts.limit, k: opts.k, lastSeq: -1, ready: false, alive: true, closed: false, rank: null, score: null, allowance: maxMessagesPerSecond * 2, allowanceAt: Date.now() }
    feed.clients.add(client)
    const own = byUser.get(client.userId) ?? new Set<Client>()
    byUser.set(client.userId, own.add(client))
    metrics.connections.inc()
    socket.on('pong', () => { client.alive = true })
    socket.on('close', () => detach(client))
    return client
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
    const own = byUser.get(client.userId)
    own?.delete(client)
    if (own?.size === 0) byUser.delete(client.userId)
    const { feed } = client
    feed.clients.delete(client)
    if (feed.clients.size > 0 || feeds.get(feed.competitionId) !== feed) return
    feeds.delete(feed.competitionId)
    deps.onFeedClosed(feed)
  }

  // Refills the client's allowance by elapsed time; false when it has none left.
  function withinRate (client: Client): boolean {
    const now = Date.now()
    const burst = maxMessagesPerSecond * 2
    client.allowance = Math.min(burst, client.allowance + (now - client.allowanceAt) * maxMessagesPerSecond / 1000)
    client.allowanceAt = now
    if (client.allowance < 1) return false
    client.allowance -= 1
    return true
  }

  // Every client dropped with the same close (graceful shutdown); no heartbeats after it.
  function dropAll (code: number, reason: string): void {
    clearInterval(heartbeat)
    for (const feed of [...feeds.values()]) {
      for (const client of [...feed.clients]) drop(client, code, reason)
    }
  }

  // The user's open sockets on this instance.
  function ofUser (userId: string): ReadonlySet<Client> {
    return byUser.get(userId) ?? NONE
  }

  return { feeds, add, send, drop, withinRate, dropAll, ofUser }
}

export type Connections = ReturnType<typeof createConnections>
