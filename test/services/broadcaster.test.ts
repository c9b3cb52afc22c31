import { EventEmitter } from 'node:events'
import { test } from 'tap'
import { createBroadcaster, type FeedSource, type SocketLike } from '../../services/broadcaster.ts'

// The broadcaster's per-socket rules with stand-in sockets: what it sends, when it closes.

const CID = '00000000-0000-4000-8000-0000000000c1'
const ME = '00000000-0000-4000-8000-0000000000e1'
const X = '00000000-0000-4000-8000-0000000000e2'
const Y = '00000000-0000-4000-8000-0000000000e3'
const Z = '00000000-0000-4000-8000-0000000000e4'

class FakeSocket extends EventEmitter implements SocketLike {
  readyState = 1
  bufferedAmount = 0
  sent: any[] = []
  closedWith: [number?, string?] | null = null
  terminated = false
  pings = 0
  answerPings = true
  send (data: string) { this.sent.push(JSON.parse(data)) }
  close (code?: number, reason?: string) { this.closedWith = [code, reason]; this.readyState = 2 }
  terminate () { this.terminated = true; this.readyState = 3; this.emit('close') }
  ping () { this.pings++; if (this.answerPings) queueMicrotask(() => this.emit('pong')) }
}

function counters () {
  const counts: Record<string, number> = {}
  const counter = (name: string) => ({ inc: (labels: Record<string, string> = {}) => { const key = `${name}${JSON.stringify(labels)}`; counts[key] = (counts[key] ?? 0) + 1 } })
  return {
    counts,
    metrics: { connections: { inc () {}, dec () {} }, frames: counter('frames'), slowConsumers: counter('slow') }
  }
}

function setup (opts: { heartbeatMs?: number, maxBufferedBytes?: number, frames?: Map<number, string> } = {}) {
  const subscriber = Object.assign(new EventEmitter(), {
    status: 'ready',
    subscribe: async () => 1,
    unsubscribe: async () => 0,
    connect: async () => {}
  })
  const buffer = opts.frames ?? new Map<number, string>()
  let snapshots = 0
  const source: FeedSource = {
    channel: (id) => `feed:${id}`,
    snapshot: async () => { snapshots++; return { frame: JSON.stringify({ type: 'snapshot', seq: 10, n: snapshots }), seq: 10, me: { rank: 3, score: 50 } } },
    resume: async () => null,
    framesSince: async (_id, seq) => {
      const out: string[] = []
      for (let s = seq + 1; buffer.has(s); s++) out.push(buffer.get(s)!)
      return out.length > 0 ? out : null
    },
    flush: async () => {}
  }
  const { counts, metrics } = counters()
  const broadcaster = createBroadcaster({
    subscriber: subscriber as never,
    log: { warn () {} },
    metrics,
    heartbeatMs: opts.heartbeatMs ?? 60_000,
    maxBufferedBytes: opts.maxBufferedBytes ?? 1024,
    maxMessagesPerSecond: 1000,
    sweepMs: 60_000
  })
  const publish = (frame: object) => subscriber.emit('message', `feed:${CID}`, JSON.stringify(frame))
  return { broadcaster, source, publish, counts, buffer, subscriber }
}

const settle = async () => await new Promise((resolve) => setTimeout(resolve, 20))
const update = (seq: number, entries: object[], removed: string[] = [], removedScores: number[] = []) =>
  ({ type: 'update', competitionId: CID, seq, total: 4, entries, removed, removedScores })
const entry = (userId: string, score: number, previousScore: number | null, rank: number) =>
  ({ userId, score, previousScore, rank, position: rank, reachedAt: '2026-01-01T00:00:00.000000Z', displayName: null, avatarUrl: null })

test('personal rank events follow changes crossing the client\'s score, joins and departures', async (t) => {
  const { broadcaster, source, publish } = setup()
  t.teardown(() => broadcaster.shutdown())
  const socket = new FakeSocket()
  await broadcaster.connect(socket, { competitionId: CID, userId: ME, source, limit: 10, k: 1 })
  await settle()
  t.match(socket.sent, [{ type: 'snapshot', seq: 10 }])

  publish(update(11, [entry(X, 40, 60, 3)])) // X drops below me (50): I move up to 2
  publish(update(12, [entry(Y, 70, null, 1)])) // Y joins above me: 3
  publish(update(13, [], [Z], [80])) // Z, above me, leaves: 2
  publish(update(14, [entry(X, 45, 40, 3)])) // below me, no crossing: nothing
  publish(update(15, [entry(ME, 90, 50, 1)])) // my own change gives my rank
  await settle()
  const ranks = socket.sent.filter((f) => f.type === 'rank').map((f) => [f.seq, f.rank, f.previousRank, f.score])
  t.same(ranks, [[11, 2, 3, 50], [12, 3, 2, 50], [13, 2, 3, 50], [15, 1, 2, 90]])
  t.same(socket.sent.filter((f) => f.type === 'update').map((f) => f.seq), [11, 12, 13, 14, 15])
})

test('a gap in the received frames is filled from the replay buffer, or answered with a snapshot', async (t) => {
  const frames = new Map<number, string>()
  const { broadcaster, source, publish } = setup({ frames })
  t.teardown(() => broadcaster.shutdown())
  const socket = new FakeSocket()
  await broadcaster.connect(socket, { competitionId: CID, userId: ME, source, limit: 10, k: 1 })
  await settle()
  frames.set(11, JSON.stringify(update(11, [entry(X, 1, 0, 3)])))
  frames.set(12, JSON.stringify(update(12, [entry(X, 2, 1, 3)])))
  publish(update(12, [entry(X, 2, 1, 3)]))
  await settle()
  t.same(socket.sent.map((f) => [f.type, f.seq]), [['snapshot', 10], ['update', 11], ['update', 12]], 'missed frame replayed before the next')

  publish(update(20, [entry(X, 3, 2, 3)]))
  await settle()
  t.same(socket.sent.at(-1), { type: 'snapshot', seq: 10, n: 2 }, 'frames gone: a fresh snapshot')
  publish({ type: 'reset', competitionId: CID, seq: 21 })
  await settle()
  t.same(socket.sent.at(-1), { type: 'snapshot', seq: 10, n: 3 }, 'a reset frame becomes a snapshot')
})

test('a slow consumer is closed instead of buffered without bound', async (t) => {
  const { broadcaster, source, publish, counts } = setup({ maxBufferedBytes: 1024 })
  t.teardown(() => broadcaster.shutdown())
  const slow = new FakeSocket()
  const fast = new FakeSocket()
  for (const socket of [slow, fast]) await broadcaster.connect(socket, { competitionId: CID, userId: ME, source, limit: 10, k: 1 })
  await settle()
  slow.bufferedAmount = 4096
  publish(update(11, [entry(X, 1, 0, 3)]))
  await settle()
  t.same(slow.closedWith, [4008, 'Too slow: messages were piling up'])
  t.equal(slow.sent.filter((f) => f.type === 'update').length, 0, 'nothing more queued on it')
  t.equal(fast.sent.filter((f) => f.type === 'update').length, 1, 'others are not held back')
  t.equal(counts['slow{}'], 1)
  t.same(broadcaster.stats().clients, 1)
})

test('heartbeats: a socket that stops answering pings is terminated', async (t) => {
  const { broadcaster, source } = setup({ heartbeatMs: 30 })
  t.teardown(() => broadcaster.shutdown())
  const alive = new FakeSocket()
  const dead = new FakeSocket()
  dead.answerPings = false
  for (const socket of [alive, dead]) await broadcaster.connect(socket, { competitionId: CID, userId: ME, source, limit: 10, k: 1 })
  await new Promise((resolve) => setTimeout(resolve, 150))
  t.ok(dead.terminated, 'the silent one is gone')
  t.notOk(alive.terminated, 'the answering one stays')
  t.ok(alive.pings >= 2)
  t.equal(broadcaster.stats().clients, 1)
})

test('after the subscriber reconnects, every open socket gets a fresh snapshot', async (t) => {
  const { broadcaster, source, subscriber } = setup()
  t.teardown(() => broadcaster.shutdown())
  const socket = new FakeSocket()
  await broadcaster.connect(socket, { competitionId: CID, userId: ME, source, limit: 10, k: 1 })
  await settle()
  t.same(socket.sent.map((f) => f.type), ['snapshot'])
  subscriber.emit('ready')
  await settle()
  t.same(socket.sent.map((f) => [f.type, f.n]), [['snapshot', 1], ['snapshot', 2]], 'frames missed during the outage are covered by a snapshot')
})
