import { EventEmitter } from 'node:events'
import { test } from 'tap'
import { createBroadcaster, type FeedSource, type SocketLike } from '../../../services/live/broadcaster.ts'

// The broadcaster's per-socket rules with stand-in sockets: what it sends, when it closes.

const CID = '00000000-0000-4000-8000-0000000000c1'
const ME = '00000000-0000-4000-8000-0000000000e1'
const X = '00000000-0000-4000-8000-0000000000e2'
const Y = '00000000-0000-4000-8000-0000000000e3'
const Z = '00000000-0000-4000-8000-0000000000e4'
const V = '00000000-0000-4000-8000-0000000000e5'
const W = '00000000-0000-4000-8000-0000000000e6'

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

// A board as the stand-in source's snapshots show it (top entries at seq 10).
function board (scores: Array<[string, number]>) {
  return scores.map(([userId, score], i) => entry(userId, score, score, i + 1))
}

function setup (opts: { heartbeatMs?: number, maxBufferedBytes?: number, frames?: Map<number, string>, top?: ReturnType<typeof board>, broadcastSlice?: number } = {}) {
  const subscriber = Object.assign(new EventEmitter(), {
    status: 'ready',
    subscribe: async () => 1,
    unsubscribe: async () => 0,
    connect: async () => {}
  })
  const buffer = opts.frames ?? new Map<number, string>()
  const top = opts.top ?? board([[X, 60], [ME, 50], [Z, 40]])
  let snapshots = 0
  const source: FeedSource = {
    channel: (id) => `feed:${id}`,
    snapshot: async (_id, userId, limit) => {
      snapshots++
      const me = top.find((e) => e.userId === userId) ?? null
      return { frame: JSON.stringify({ type: 'snapshot', seq: 10, n: snapshots, total: top.length, entries: top.slice(0, limit) }), seq: 10, scoreOrder: 'highest_wins' as const, me }
    },
    resume: async () => null,
    framesSince: async (_id, seq) => {
      const out: string[] = []
      for (let s = seq + 1; buffer.has(s); s++) out.push(buffer.get(s)!)
      return out.length > 0 ? out : null
    }
  }
  const { counts, metrics } = counters()
  const broadcaster = createBroadcaster({
    subscriber: subscriber as never,
    log: { warn () {} },
    metrics,
    heartbeatMs: opts.heartbeatMs ?? 60_000,
    maxBufferedBytes: opts.maxBufferedBytes ?? 1024,
    maxMessagesPerSecond: 1000,
    broadcastSlice: opts.broadcastSlice
  })
  const publish = (frame: object) => subscriber.emit('message', `feed:${CID}`, JSON.stringify(frame))
  return { broadcaster, source, publish, counts, buffer, subscriber }
}

const settle = async () => await new Promise((resolve) => setTimeout(resolve, 20))

// A broadcaster (shut down with the test) and one socket watching CID as ME, past its snapshot.
async function oneClient (t: { teardown: (fn: () => unknown) => void }, opts: Parameters<typeof setup>[0] & { limit?: number, k?: number } = {}) {
  const ctx = setup(opts)
  t.teardown(() => ctx.broadcaster.shutdown())
  const socket = new FakeSocket()
  await ctx.broadcaster.connect(socket, { competitionId: CID, userId: ME, source: ctx.source, limit: opts.limit ?? 10, k: opts.k ?? 1 })
  await settle()
  return { ...ctx, socket }
}
const update = (seq: number, entries: object[], removed: string[] = [], removedScores: number[] = [], total = 3) =>
  ({ type: 'update', competitionId: CID, seq, total, entries, fill: [], removed, removedScores })
function entry (userId: string, score: number, previousScore: number | null, rank: number, position = rank) {
  return { userId, score, previousScore, rank, position, reachedAt: '2026-01-01T00:00:00.000000Z', displayName: null, avatarUrl: null }
}
const own = (socket: FakeSocket) => socket.sent.filter((f) => f.type === 'rank' || f.me).map((f) => [f.seq, f.me?.rank ?? f.rank, f.me?.previousRank ?? f.previousRank, f.me?.score ?? f.score])

test('personal rank events follow changes crossing the client\'s score, joins and departures', async (t) => {
  const { publish, socket } = await oneClient(t)
  t.match(socket.sent, [{ type: 'snapshot', seq: 10 }])

  publish(update(11, [entry(X, 40, 60, 2, 2)])) // X drops below me (50): I move up to 1
  publish(update(12, [entry(Y, 70, null, 1)], [], [], 4)) // Y joins above me: 2
  publish(update(13, [], [Y], [70])) // Y, above me, leaves: 1
  publish(update(14, [entry(X, 45, 40, 2, 2)])) // below me, no crossing: nothing
  publish(update(15, [entry(ME, 90, 50, 1)])) // my own change gives my rank
  await settle()
  t.same(own(socket), [[11, 1, 2, 50], [12, 2, 1, 50], [13, 1, 2, 50], [15, 1, 1, 90]])
  t.same(socket.sent.filter((f) => f.type === 'update').map((f) => f.seq), [11, 12, 13, 14, 15], 'the whole board is in the window: every frame')
  t.notOk(socket.sent.some((f) => f.type === 'rank'), 'own moves ride in the update of the same tick')
})

test('each client gets only what changed in its top-limit window, and its own rank', async (t) => {
  const top = board([[X, 100], [Y, 90], [Z, 80], [ME, 50], [V, 40], [W, 30]])
  const { broadcaster, source, publish } = setup({ top })
  t.teardown(() => broadcaster.shutdown())
  const narrow = new FakeSocket()
  const wide = new FakeSocket()
  await broadcaster.connect(narrow, { competitionId: CID, userId: ME, source, limit: 2, k: 0 })
  await broadcaster.connect(wide, { competitionId: CID, userId: V, source, limit: 10, k: 0 })
  await settle()

  publish(update(11, [entry(W, 35, 30, 6, 6)], [], [], 6)) // below both windows' reach and below me
  publish(update(12, [entry(V, 60, 40, 4, 4)], [], [], 6)) // passes me, outside the top 2
  publish(update(13, [entry(Z, 95, 80, 2, 2)], [], [], 6)) // into the top 2: Y is pushed out
  publish(update(14, [entry(X, 10, 100, 6, 6)], [], [], 6)) // X falls out of the top 2: Y comes back
  await settle()

  const narrowFrames = narrow.sent.slice(1)
  t.same(narrowFrames.map((f) => [f.type, f.seq]), [['rank', 12], ['update', 13], ['update', 14]], 'nothing for seq 11; a rank frame alone for 12')
  t.match(narrowFrames[0], { userId: ME, rank: 5, previousRank: 4, score: 50 })
  t.same(narrowFrames[1].entries.map((e: any) => [e.userId, e.score, e.position]), [[Z, 95, 2]], 'only the entry that came in')
  t.notOk(narrowFrames[1].me, 'own rank unchanged')
  t.same(narrowFrames[2].entries.map((e: any) => [e.userId, e.score, e.position, e.rank, e.previousScore]), [[Y, 90, 2, 2, 90], [X, 10, 6, 6, 100]],
    'the entry pushed back in by someone leaving, and the one that left with its new place')
  t.same(narrowFrames[2].me, { rank: 4, previousRank: 5, score: 50 })

  t.same(wide.sent.slice(1).map((f) => f.seq), [11, 12, 13, 14], 'a window holding the whole board sees every change')
  t.same(wide.sent.slice(1).map((f) => f.entries.length), [1, 1, 1, 1])
})

test('a broadcast is written in slices with the event loop free between them; each client still gets the frames in order', async (t) => {
  const top = board([[X, 100], [Y, 90], [Z, 80], [ME, 50], [V, 40]])
  const { broadcaster, source, publish } = setup({ top, broadcastSlice: 2 })
  t.teardown(() => broadcaster.shutdown())
  const sockets = [X, Y, Z, ME, V].map(() => new FakeSocket())
  for (const [i, userId] of [X, Y, Z, ME, V].entries()) await broadcaster.connect(sockets[i]!, { competitionId: CID, userId, source, limit: 10, k: 0 })
  await settle()

  publish(update(11, [entry(W, 10, null, 6)], [], [], 6))
  publish(update(12, [entry(W, 20, 10, 6)], [], [], 6))
  const reachedMeanwhile = await new Promise<number>((resolve) => setImmediate(() => resolve(sockets.filter((s) => s.sent.some((f) => f.seq === 11)).length)))
  t.ok(reachedMeanwhile > 0 && reachedMeanwhile < sockets.length, `other work ran while the frame had reached ${reachedMeanwhile} of ${sockets.length} sockets`)
  await settle()
  for (const socket of sockets) t.same(socket.sent.slice(1).map((f) => f.seq), [11, 12])
})

test('a gap in the received frames is filled from the replay buffer, or answered with a snapshot', async (t) => {
  const frames = new Map<number, string>()
  const { publish, socket } = await oneClient(t, { frames })
  frames.set(11, JSON.stringify(update(11, [entry(Z, 1, 40, 3)])))
  frames.set(12, JSON.stringify(update(12, [entry(Z, 2, 1, 3)])))
  publish(update(12, [entry(Z, 2, 1, 3)]))
  await settle()
  t.same(socket.sent.map((f) => [f.type, f.seq]), [['snapshot', 10], ['update', 11], ['update', 12]], 'missed frame replayed before the next')

  publish(update(20, [entry(Z, 3, 2, 3)]))
  await settle()
  t.match(socket.sent.at(-1), { type: 'snapshot', seq: 10 }, 'frames gone: a fresh snapshot')
  const before = socket.sent.length
  publish({ type: 'reset', competitionId: CID, seq: 21 })
  await settle()
  t.equal(socket.sent.length, before + 1)
  t.match(socket.sent.at(-1), { type: 'snapshot', seq: 10 }, 'a reset frame becomes a snapshot')
})

test('a frame that would leave a hole in the top copy (an entry came in that the frame does not carry) gives a snapshot', async (t) => {
  const { publish, socket } = await oneClient(t, { k: 0 })
  // Five participants now, but only four are known: the fifth is missing from entries and fill.
  publish(update(11, [entry(Y, 70, null, 1)], [], [], 5))
  await settle()
  t.same(socket.sent.map((f) => f.type), ['snapshot', 'snapshot'], 'no update built from an incomplete top')
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
  const { subscriber, socket } = await oneClient(t)
  t.same(socket.sent.map((f) => f.type), ['snapshot'])
  subscriber.emit('ready')
  await settle()
  const [first, again] = socket.sent
  t.same([socket.sent.length, again?.type], [2, 'snapshot'], 'frames missed during the outage are covered by a snapshot')
  t.ok(again.n > first.n, 'a new one')
})
