import { CloseCodes } from '../../schemas/realtime.ts'
import { createConnections } from './connections.ts'
import { createSubscriptions, type SubscriptionsDeps } from './subscriptions.ts'
import { BROADCAST_SLICE, createFanOut } from './fan-out.ts'
import { createResume } from './resume.ts'
import { enqueue, type BroadcasterMetrics, type Client, type FeedSource, type SocketLike } from './feed-state.ts'

// Fan-out of leaderboard frames to this instance's WebSockets. The flow is one way: the ticker
// (ticker.ts) frames changes in Redis, which numbers them and publishes them on the
// competition's channel; this instance subscribes to a channel only while it has clients for
// it (subscriptions.ts), keeps a copy of the top from the frames and sends each client only
// what changed in its view (fan-out.ts); clients start from a snapshot or a replay (resume.ts);
// sockets, backpressure and heartbeats are in connections.ts.

export type { BroadcasterMetrics, FeedSnapshot, FeedSource, SocketLike } from './feed-state.ts'

export interface BroadcasterDeps {
  subscriber: SubscriptionsDeps['subscriber']
  log: { warn: (obj: object, msg?: string) => void }
  metrics: BroadcasterMetrics
  heartbeatMs: number
  maxBufferedBytes: number
  // Client messages allowed per second (a burst of twice that); each resume costs Redis work.
  maxMessagesPerSecond: number
  // Clients sent a frame between yields to the event loop (default BROADCAST_SLICE).
  broadcastSlice?: number
}

export function createBroadcaster (deps: BroadcasterDeps) {
  const { log } = deps
  let shuttingDown = false

  const subscriptions = createSubscriptions({
    subscriber: deps.subscriber,
    log,
    onMessage: (feed, message) => enqueue(feed, async () => await fanOut.onFrame(feed, message), log),
    // Frames published while the subscriber was away (a rebuild's reset among them) never
    // arrive: after a reconnect every open socket gets a fresh snapshot.
    onReconnected: (feeds) => { for (const feed of feeds) enqueue(feed, async () => await fanOut.resync(feed), log) }
  })
  const connections = createConnections({
    metrics: deps.metrics,
    heartbeatMs: deps.heartbeatMs,
    maxBufferedBytes: deps.maxBufferedBytes,
    maxMessagesPerSecond: deps.maxMessagesPerSecond,
    onFeedOpened: subscriptions.track,
    onFeedClosed: subscriptions.untrack
  })
  const { send, drop } = connections
  const fanOut = createFanOut({ send, metrics: deps.metrics, broadcastSlice: deps.broadcastSlice ?? BROADCAST_SLICE })
  const resume = createResume({ send, fanOut })

  function onClientMessage (client: Client, data: unknown): void {
    if (client.closed) return
    if (!connections.withinRate(client)) {
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
      enqueue(client.feed, async () => { if (client.ready && !client.closed) await resume.resumeOpen(client, seq) }, log)
    } else {
      send(client, JSON.stringify({ type: 'error', code: 'BAD_MESSAGE', message: 'Expected {"type":"resume","seq":n} or {"type":"ping"}' }), 'error')
    }
  }

  // Takes over an accepted socket: subscribes the instance to the competition if needed, then
  // sends the snapshot (or the replay of a resume) and the live updates after it.
  async function connect (socket: SocketLike, opts: { competitionId: string, userId: string, source: FeedSource, limit: number, k: number, resumeSeq?: number }): Promise<void> {
    if (shuttingDown) { socket.close(CloseCodes.GOING_AWAY, 'Server shutting down'); return }
    const client = connections.add(socket, opts)
    socket.on('message', (data) => onClientMessage(client, data))
    const { feed } = client
    try {
      await subscriptions.subscribe(feed)
    } catch (err) {
      log.warn({ err, competitionId: opts.competitionId }, 'live feed unavailable: Redis subscription failed')
      drop(client, CloseCodes.TRY_AGAIN_LATER, 'Live updates are unavailable, try again shortly')
      return
    }
    enqueue(feed, async () => {
      try {
        if (!client.closed) await resume.start(client, opts.resumeSeq)
      } catch (err) {
        log.warn({ err, competitionId: opts.competitionId }, 'live feed could not start')
        drop(client, CloseCodes.TRY_AGAIN_LATER, 'Live updates are unavailable, try again shortly')
      }
    }, log)
  }

  // Graceful shutdown: every socket is told the server is going away.
  async function shutdown (): Promise<void> {
    shuttingDown = true
    subscriptions.close()
    connections.dropAll(CloseCodes.GOING_AWAY, 'Server shutting down')
  }

  // Competitions with clients on this instance (the ticker sweeps them, see ticker.ts).
  function watched (): IterableIterator<string> {
    return connections.feeds.keys()
  }

  function stats (): { competitions: number, clients: number, channels: string[] } {
    let clients = 0
    for (const feed of connections.feeds.values()) clients += feed.clients.size
    return { competitions: connections.feeds.size, clients, channels: subscriptions.channels() }
  }

  // A message for one person on every socket they have open here (a new notification). A socket
  // still waiting for its snapshot or replay is skipped: the protocol's first frame is one of those.
  function sendToUser (userId: string, message: string): number {
    let sent = 0
    // A copy: a socket dropped as too slow leaves the set while it is walked.
    for (const client of [...connections.ofUser(userId)]) {
      if (client.ready && connections.send(client, message, 'notification')) sent++
    }
    return sent
  }

  function hasUser (userId: string): boolean {
    return connections.ofUser(userId).size > 0
  }

  // A deleted account: its open sockets here are closed, as its token would now be refused.
  function dropUser (userId: string): void {
    for (const client of [...connections.ofUser(userId)]) drop(client, CloseCodes.UNAUTHORIZED, 'This account has been deleted')
  }

  return { connect, shutdown, watched, stats, sendToUser, hasUser, dropUser }
}

export type Broadcaster = ReturnType<typeof createBroadcaster>
