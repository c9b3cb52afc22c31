import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import { createSigner } from 'fast-jwt'
import type { FastifyInstance } from 'fastify'
import { build, token } from '../../helper.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, postgresScores, seedCompetition, seedParticipants, seedUsers, updateScore, type LiveClient
} from '../leaderboard/fixtures.ts'
import { viewOf, type View } from './live-view.ts'

// Two instances sharing Postgres and Redis, both listening on real ports.
async function pair (t: Parameters<typeof build>[0], config: Record<string, unknown> = {}) {
  const a = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, ...config } })
  const b = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, ...config }, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  return { a, b, urlA: await listen(a), urlB: await listen(b) }
}

async function race (app: FastifyInstance, size: number) {
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, size)
  await seedParticipants(app, competitionId, users)
  // The first join builds the projection; its rebuild ends with a reset frame (a fresh snapshot
  // for every client), so clients connect once it is ready, as the tests count frames.
  await eventually(async () => (await leaderboard(app, competitionId, users[0]!)).body.degraded === false, 5000, 'projection ready')
  return { competitionId, users }
}

function updates (client: LiveClient): any[] {
  return client.frames.filter((f) => f.type === 'update')
}

// The caller's own rank moves: rank frames, or the `me` part of an update in the same tick.
function ownMoves (client: LiveClient): any[] {
  return client.frames.filter((f) => f.type === 'rank' || (f.type === 'update' && f.me)).map((f) => f.type === 'rank' ? f : { seq: f.seq, ...f.me })
}

test('a client on instance A sees updates made through instance B, in order, with consecutive seq; personal rank events', async (t) => {
  const { a, b, urlA } = await pair(t)
  const { competitionId, users } = await race(a, 4)
  const [watcher, rival] = users
  const client = await liveClient(urlA, competitionId, { userId: watcher })
  t.teardown(() => client.close())

  const snapshot = await client.next((f) => f.type === 'snapshot')
  t.equal(client.frames[0], snapshot, 'the first frame is the snapshot')
  t.match(snapshot, { competitionId, total: 4, degraded: false, me: { userId: watcher, rank: 1, score: 0 } })
  t.equal(snapshot.entries.length, 4)
  t.type(snapshot.seq, 'number')

  for (const value of [10, 20, 35]) {
    t.equal((await updateScore(b, { competitionId, userId: rival!, value })).statusCode, 200)
    await client.next((f) => f.type === 'update' && f.entries.some((e: any) => e.userId === rival && e.score === value))
  }
  const seen = updates(client)
  t.same(seen.map((f) => f.seq), seen.map((_, i) => snapshot.seq + 1 + i), 'seq increases by one per frame')
  t.same(seen.flatMap((f) => f.entries.filter((e: any) => e.userId === rival).map((e: any) => e.score)), [10, 20, 35], 'in order')
  t.match(seen[0].entries[0], { userId: rival, rank: 1, position: 1, previousScore: 0, displayName: 'Runner 2' })

  t.same(ownMoves(client).map((f) => [f.rank, f.previousRank, f.score, f.seq]), [[2, 1, 0, seen[0].seq]], 'one personal event: passed once, then no change')
  t.notOk(client.frames.some((f) => f.type === 'rank'), 'in the same frame as the update: one frame per tick')

  // The watcher climbs back: its own entry gives the new rank.
  await updateScore(b, { competitionId, userId: watcher!, value: 50 })
  const back = await client.next((f) => f.type === 'update' && f.me)
  t.match(back.me, { rank: 1, previousRank: 2, score: 50 })
})

test('resume after a disconnect: on another instance with no gap, from an open socket, or a snapshot when the frames are gone', async (t) => {
  const { a, b, urlA, urlB } = await pair(t)
  const { competitionId, users } = await race(a, 3)
  const first = await liveClient(urlA, competitionId, { userId: users[0] })
  await first.next((f) => f.type === 'snapshot')
  await updateScore(a, { competitionId, userId: users[1]!, value: 5 })
  const last = await first.next((f) => f.type === 'update')
  await first.close()

  // Missed while away, written through both instances.
  await updateScore(b, { competitionId, userId: users[1]!, value: 6 })
  await eventually(async () => (await b.leaderboard.feed.framesSince(competitionId, last.seq))?.length === 1)
  await updateScore(a, { competitionId, userId: users[2]!, value: 7 })
  await eventually(async () => (await b.leaderboard.feed.framesSince(competitionId, last.seq))?.length === 2)

  const second = await liveClient(urlB, competitionId, { userId: users[0], query: `&seq=${last.seq}` })
  t.teardown(() => second.close())
  const resumed = await second.next((f) => f.type === 'resumed')
  t.equal(second.frames[0], resumed, 'no snapshot: the missed frames are replayed')
  t.match(resumed, { competitionId, fromSeq: last.seq, seq: last.seq + 2 })
  const replayed = [await second.next((f) => f.type === 'update'), await second.next((f) => f.type === 'update')]
  t.same(replayed.map((f) => f.seq), [last.seq + 1, last.seq + 2], 'no gap')
  t.same(replayed[0].entries.map((e: any) => [e.userId, e.score]), [[users[1], 6]], 'each missed frame in full')
  t.same(replayed[1].entries.map((e: any) => [e.userId, e.score]), [[users[2], 7], [users[1], 6], [users[0], 0]], 'the last one with the whole current window')
  t.same(replayed[1].me, { rank: 3, previousRank: null, score: 0 }, 'and the caller\'s own rank')

  // Live frames continue right after the replay.
  await updateScore(a, { competitionId, userId: users[2]!, value: 8 })
  const live = await second.next((f) => f.type === 'update')
  t.equal(live.seq, last.seq + 3)

  // The same through the resume message on an open socket.
  second.send({ type: 'resume', seq: last.seq + 1 })
  t.match(await second.next((f) => f.type === 'resumed'), { fromSeq: last.seq + 1, seq: last.seq + 3 })
  t.same([await second.next((f) => f.type === 'update'), await second.next((f) => f.type === 'update')].map((f) => f.seq), [last.seq + 2, last.seq + 3])

  // Frames no longer held: a fresh snapshot instead.
  second.send({ type: 'resume', seq: 1 })
  const fresh = await second.next((f) => f.type === 'snapshot')
  t.match(fresh, { seq: last.seq + 3, me: { userId: users[0] } })
  t.same(fresh.entries.map((e: any) => [e.userId, e.score]), [[users[2], 8], [users[1], 6], [users[0], 0]])
  const old = await liveClient(urlA, competitionId, { userId: users[0], query: '&seq=1' })
  t.teardown(() => old.close())
  t.match(await old.next(() => true), { type: 'snapshot', seq: last.seq + 3 }, 'connecting with a seq that is gone gives a snapshot')

  second.send({ type: 'ping' })
  t.same(await second.next((f) => f.type === 'pong'), { type: 'pong' })
  second.send('nonsense')
  t.match(await second.next((f) => f.type === 'error'), { code: 'BAD_MESSAGE' })
})

test('refused connections close with 44xx before any data frame', async (t) => {
  const { a, urlA } = await pair(t)
  const { competitionId, users } = await race(a, 1)
  const wrongKey = createSigner({ key: 'another-secret-that-is-long-enough-0123456789', algorithm: 'HS256', expiresIn: 60_000 })
  const expired = createSigner({ key: 'test-secret-that-is-long-enough-for-hs256-0123456789', algorithm: 'HS256' })({ sub: users[0], aud: 'authenticated', exp: Math.floor(Date.now() / 1000) - 3600 })
  const privateId = await seedCompetition(a, { visibility: 'private' })

  const cases: Array<[string, string, number, Parameters<typeof liveClient>[2]]> = [
    ['garbage token', competitionId, 4401, { token: 'not-a-jwt' }],
    ['empty token', competitionId, 4401, { token: '' }],
    ['token signed with another key', competitionId, 4401, { token: wrongKey({ sub: users[0], aud: 'authenticated' }) }],
    ['expired token', competitionId, 4401, { token: expired }],
    ['unknown competition', randomUUID(), 4404, { userId: users[0] }],
    ['malformed competition id', 'nope', 4404, { userId: users[0] }],
    ['private competition of others', privateId, 4404, { userId: users[0] }],
    ['bad seq', competitionId, 4400, { userId: users[0], query: '&seq=-4' }],
    ['limit out of range', competitionId, 4400, { userId: users[0], query: '&limit=1000' }]
  ]
  for (const [name, id, code, opts] of cases) {
    const client = await liveClient(urlA, id, opts)
    const closed = await client.closed
    t.equal(closed.code, code, `${name}: ${code}`)
    t.equal(closed.framesBeforeClose, 0, `${name}: no data before the close`)
    t.ok(closed.reason.length > 0, `${name}: a reason (${closed.reason})`)
  }
  const ok = await liveClient(urlA, competitionId, { token: token({ sub: users[0]! }) })
  t.teardown(() => ok.close())
  t.match(await ok.next(() => true), { type: 'snapshot' }, 'a valid token is let in')
})

test('an instance subscribes to a competition only while it has clients for it', async (t) => {
  const { a, b, urlA } = await pair(t)
  const { competitionId, users } = await race(a, 2)
  const channel = a.leaderboard.channel(competitionId)
  const subscribers = async () => Number((await a.redis.pubsub('NUMSUB', channel))[1])
  t.equal(await subscribers(), 0)

  const one = await liveClient(urlA, competitionId, { userId: users[0] })
  const two = await liveClient(urlA, competitionId, { userId: users[1] })
  await one.next((f) => f.type === 'snapshot')
  await two.next((f) => f.type === 'snapshot')
  t.same(a.broadcaster.stats(), { competitions: 1, clients: 2, channels: [channel] })
  t.same(b.broadcaster.stats(), { competitions: 0, clients: 0, channels: [] }, 'B has no clients and no subscription')
  t.equal(await subscribers(), 1, 'one subscription for two clients')

  await updateScore(b, { competitionId, userId: users[1]!, value: 3 })
  const [u1, u2] = [await one.next((f) => f.type === 'update'), await two.next((f) => f.type === 'update')]
  t.same({ ...u1, me: undefined }, { ...u2, me: undefined }, 'both clients get the same frame')
  t.match([u1.me, u2.me], [{ rank: 2, previousRank: 1, score: 0 }, { rank: 1, previousRank: 1, score: 3 }], 'with their own part')

  await one.close()
  t.equal(await subscribers(), 1)
  await two.close()
  await eventually(async () => await subscribers() === 0, 5000, 'unsubscribed')
  t.same(a.broadcaster.stats(), { competitions: 0, clients: 0, channels: [] })

  const metrics = await a.inject({ url: '/metrics' })
  t.match(metrics.body, /realtime_frames_sent_total\{type="snapshot"\} 2/)
  t.match(metrics.body, /realtime_frames_sent_total\{type="update"\} 2/)
  t.match(metrics.body, /realtime_connections 0/)
})

test('a burst of changes is coalesced: at most one frame per tick per competition', async (t) => {
  const { a, b, urlA } = await pair(t, { REALTIME_TICK_MS: 1000 })
  const { competitionId, users } = await race(a, 30)
  const client = await liveClient(urlA, competitionId, { userId: users[0], query: '&limit=100' })
  t.teardown(() => client.close())
  await client.next((f) => f.type === 'snapshot')

  // One batch (as fitness sync sends it): one frame carrying all thirty changes.
  await b.leaderboard.applyScores(users.map((userId, i) => ({ competitionId, userId, operation: 'sync' as const, value: 100 + i, idempotencyKey: `batch-${i}` })))
  const frame = await client.next((f) => f.type === 'update')
  t.equal(frame.entries.length, 30)
  t.same(frame.entries.map((e: any) => e.position), Array.from({ length: 30 }, (_, i) => i + 1), 'entries in ranking order')

  // A rebuild between a change and its frame leaves the frame's previous scores as clients saw them.
  await updateScore(a, { competitionId, userId: users[0]!, operation: 'increment', value: 1 })
  await b.leaderboard.rebuild(competitionId)
  const after = await client.next((f) => f.type === 'update')
  t.same(after.entries.map((e: any) => [e.userId, e.score, e.previousScore]), [[users[0], 101, 100]])
  t.notOk(client.frames.some((f) => f.type === 'snapshot' && f.seq > frame.seq), 'an unchanged rebuild sends no reset')

  // Thirty separate requests through both instances at once.
  await Promise.all(users.map(async (userId, i) => await updateScore(i % 2 === 0 ? a : b, { competitionId, userId, operation: 'increment', value: 1000 })))
  const last = await eventually(async () => updates(client).find((f) => f.entries.some((e: any) => e.userId === users[29] && e.score === 1129)), 10_000)
  const frames = updates(client).slice(2, updates(client).indexOf(last) + 1)
  t.ok(frames.length < 30, `${frames.length} frames for 30 changes`)
  t.equal(new Set(frames.flatMap((f) => f.entries.map((e: any) => e.userId))).size, 30, 'every change is in some frame')
})

test('shutdown closes sockets with "going away"', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const url = await listen(app)
  const { competitionId, users } = await race(app, 1)
  const client = await liveClient(url, competitionId, { userId: users[0] })
  await client.next((f) => f.type === 'snapshot')
  await app.close()
  t.equal((await client.closed).code, 1001)
})

test('a client that stops reading is closed once its unsent data passes the limit, without holding others back', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, REALTIME_MAX_BUFFERED_BYTES: 65536, REALTIME_MAX_MESSAGES_PER_SECOND: 100000 } })
  const url = await listen(app)
  const { competitionId, users } = await race(app, 100)
  const stuck = await liveClient(url, competitionId, { userId: users[0], query: '&limit=100' })
  const healthy = await liveClient(url, competitionId, { userId: users[1] })
  await stuck.next((f) => f.type === 'snapshot')
  await healthy.next((f) => f.type === 'snapshot')

  // Stop reading, then keep asking for snapshots (about 20 KB each) until the server gives up.
  const raw = (stuck.socket as unknown as { _socket: { pause: () => void } })._socket
  raw.pause()
  await eventually(async () => {
    for (let i = 0; i < 20; i++) stuck.send({ type: 'resume', seq: 1 })
    return app.broadcaster.stats().clients === 1
  }, 20_000, 'the stuck client to be dropped')
  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /realtime_slow_consumers_total 1/)

  await updateScore(app, { competitionId, userId: users[2]!, value: 5 })
  t.match(await healthy.next((f) => f.type === 'update'), { entries: [{ userId: users[2], score: 5 }] }, 'the other client still gets its updates')
  await healthy.close()
  stuck.socket.terminate()
})

// What a client of `limit` should see now: the HTTP leaderboard (checked against Postgres).
async function truth (app: FastifyInstance, competitionId: string, userId: string, limit: number): Promise<View> {
  const { body } = await leaderboard(app, competitionId, userId, `?limit=${limit}`)
  const scores = await postgresScores(app, competitionId)
  for (const e of body.entries) if (scores.get(e.userId) !== e.score) throw new Error(`projection behind Postgres for ${e.userId}`)
  return { seq: null, top: body.entries.map((e: any) => [e.userId, e.score]), me: body.me ? { rank: body.me.rank, score: body.me.score } : null }
}

test('each client gets only the changes in its top-limit window and its own rank; the top 100 is filled from below', async (t) => {
  const { a, b, urlA } = await pair(t)
  const { competitionId, users } = await race(a, 105)
  // Scores 10000, 9990, ... : users[i] at position i + 1.
  await b.leaderboard.applyScores(users.map((userId, i) => ({ competitionId, userId, operation: 'sync' as const, value: 10_000 - 10 * i, idempotencyKey: `seed-${i}` })))
  const watchers = {
    top3: await liveClient(urlA, competitionId, { userId: users[50], query: '&limit=3' }),
    top100: await liveClient(urlA, competitionId, { userId: users[104], query: '&limit=100' })
  }
  t.teardown(async () => { for (const w of Object.values(watchers)) await w.close() })
  const snap = await watchers.top3.next((f) => f.type === 'snapshot' && f.entries[0]?.score === 10_000)
  await watchers.top100.next((f) => f.type === 'snapshot' && f.entries[0]?.score === 10_000)
  t.match(snap, { total: 105, me: { userId: users[50], rank: 51 } })
  const after = (w: LiveClient, seq: number) => w.frames.filter((f) => typeof f.seq === 'number' && f.seq > seq && f.type !== 'snapshot')

  // Below the top 3 and nobody passes users[50]: nothing for top3.
  await updateScore(b, { competitionId, userId: users[60]!, value: 9405 })
  const one = await watchers.top100.next((f) => f.type === 'update')
  t.same(one.entries.map((e: any) => [e.userId, e.score, e.position]), [[users[60], 9405, 61]], 'top100 sees the change')
  t.same(after(watchers.top3, snap.seq), [], 'top3 gets nothing')

  // Someone passes users[50] below the top 3: a rank frame alone.
  await updateScore(b, { competitionId, userId: users[70]!, value: 9505 })
  const passed = await watchers.top3.next((f) => f.type === 'rank')
  t.match(passed, { userId: users[50], rank: 52, previousRank: 51, score: 9500 })
  t.same(after(watchers.top3, snap.seq).map((f) => f.type), ['rank'])

  // users[1] falls to the bottom: users[3] moves into the top 3, users[100] into the top 100.
  await updateScore(b, { competitionId, userId: users[1]!, value: 0 })
  const fell = await watchers.top3.next((f) => f.type === 'update')
  t.same(fell.entries.map((e: any) => [e.userId, e.score, e.position, e.rank]), [[users[3], 9970, 3, 3], [users[1], 0, 105, 105]], 'the one who came in, the one who left')
  t.same(fell.me, { rank: 51, previousRank: 52, score: 9500 }, 'with the own rank in the same frame')
  const filled = await watchers.top100.next((f) => f.type === 'update' && f.seq === fell.seq)
  t.same(filled.entries.map((e: any) => [e.userId, e.position]), [[users[100], 100], [users[1], 105]], 'the entry pulled into the top 100 from below')

  for (const [limit, w, userId] of [[3, watchers.top3, users[50]], [100, watchers.top100, users[104]]] as const) {
    const { top, me } = viewOf(w.frames, limit)
    const expected = await truth(a, competitionId, userId!, limit)
    t.same({ top, me }, { top: expected.top, me: expected.me }, `the limit-${limit} view equals the leaderboard`)
  }
})

test('random changes: every client\'s view converges to the leaderboard, also across a resume', async (t) => {
  const { a, b, urlA, urlB } = await pair(t)
  const { competitionId, users } = await race(a, 40)
  const specs = [[1, 0], [3, 5], [3, 39], [10, 20], [50, 7]] as const
  const clients = await Promise.all(specs.map(async ([limit, i]) => await liveClient(urlA, competitionId, { userId: users[i], query: `&limit=${limit}` })))
  t.teardown(async () => { for (const c of clients) await c.close() })
  for (const c of clients) await c.next((f) => f.type === 'snapshot')

  let random = 7
  const next = () => { random = (random * 48271) % 2147483647; return random }
  const round = async () => await b.leaderboard.applyScores(Array.from({ length: 8 }, () => {
    const userId = users[next() % users.length]!
    return { competitionId, userId, operation: 'increment' as const, value: next() % 50, idempotencyKey: `r-${next()}` }
  }))

  for (let r = 0; r < 10; r++) await round()
  // One client goes away and comes back on the other instance with the last seq it saw.
  const away = clients[1]!
  await away.close()
  // The last seq it saw, read once it is closed: frames still in flight before the close count.
  const seen = viewOf(away.frames, 3).seq!
  for (let r = 0; r < 5; r++) await round()
  await eventually(async () => (await b.leaderboard.feed.framesSince(competitionId, seen))?.length)
  const back = await liveClient(urlB, competitionId, { userId: users[5], query: `&limit=3&seq=${seen}` })
  t.teardown(() => back.close())
  t.match(await back.next(() => true), { type: 'resumed', fromSeq: seen }, 'resumed, not a snapshot')
  for (let r = 0; r < 5; r++) await round()

  for (const [n, [limit, i]] of specs.entries()) {
    const framesOf = () => n === 1 ? [...away.frames, ...back.frames] : clients[n]!.frames
    const expected = await truth(a, competitionId, users[i]!, limit)
    await eventually(async () => {
      const { top, me } = viewOf(framesOf(), limit)
      return JSON.stringify({ top, me }) === JSON.stringify({ top: expected.top, me: expected.me }) || undefined
    }, 5000, `limit ${limit} view of users[${i}]`)
    t.pass(`limit ${limit}, users[${i}]: top and own rank equal the leaderboard`)
    const perSeq = new Map<number, number>()
    for (const f of framesOf()) if (f.type === 'update' || f.type === 'rank') perSeq.set(f.seq, (perSeq.get(f.seq) ?? 0) + 1)
    t.ok([...perSeq.values()].every((count) => count === 1), 'at most one frame per seq')
  }
})
