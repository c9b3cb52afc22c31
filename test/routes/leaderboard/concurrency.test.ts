import { test } from 'tap'
import { bearer, build } from '../../helper.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, listen, liveClient, postgresScores, redisRanking, seedCompetition, seedParticipants, seedUsers, updateScore
} from './fixtures.ts'

function random (seed: number) {
  let s = seed
  return (n: number) => { s = (s * 1103515245 + 12345) % 2147483648; return s % n }
}

// A thousand requests at once queue for the pools' connections far longer than a client would
// wait in production; the test is about exactly-once, so it lets them wait.
const config = { ...LEADERBOARD_TEST_CONFIG, DATABASE_CONNECT_TIMEOUT_MS: 20_000 }

test('1,000 concurrent updates through two instances, 20% of them retries: Postgres, Redis and the live feed all equal the expected sums', async (t) => {
  const a = await build(t, { config })
  const b = await build(t, { config, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  const urlA = await listen(a)
  const competitionId = await seedCompetition(a)
  const users = await seedUsers(a, 20)
  await seedParticipants(a, competitionId, users)

  const client = await liveClient(urlA, competitionId, { userId: users[0], query: '&limit=100' })
  t.teardown(() => client.close())
  const snapshot = await client.next((f) => f.type === 'snapshot')

  const rand = random(42)
  const unique = Array.from({ length: 800 }, (_, i) => ({ key: `inc-${i}`, userId: users[rand(users.length)]!, value: 1 + rand(1000) }))
  const retries = Array.from({ length: 200 }, () => unique[rand(unique.length)]!)
  const requests = [...unique, ...retries].map((u) => ({ ...u, order: rand(1_000_000) })).sort((x, y) => x.order - y.order)
  const expected = new Map(users.map((u) => [u, 0]))
  for (const u of unique) expected.set(u.userId, expected.get(u.userId)! + u.value)

  const responses = await Promise.all(requests.map(async (u, i) =>
    await updateScore(i % 2 === 0 ? a : b, { competitionId, userId: u.userId, operation: 'increment', value: u.value }, u.key)))
  t.same([...new Set(responses.map((r) => r.statusCode))], [200], 'every request answered 200')
  const bodies = responses.map((r) => r.json())
  t.equal(bodies.filter((r) => r.applied).length, 800, '800 applied')
  t.equal(bodies.filter((r) => r.duplicate).length, 200, '200 recognised as retries')

  t.same(await postgresScores(a, competitionId), expected, 'Postgres totals')
  const { rows } = await a.pg.query('SELECT count(*)::int AS n, sum(value)::bigint AS total FROM score_events WHERE competition_id = $1', [competitionId])
  t.equal(rows[0].n, 800, 'one score event per key')
  t.equal(Number(rows[0].total), [...expected.values()].reduce((x, y) => x + y, 0))

  const redis = await redisRanking(a, competitionId)
  t.same(new Map(redis.map((r) => [r.userId, r.score])), expected, 'Redis scores')
  const ordered = [...expected].sort(([u1, s1], [u2, s2]) => s2 - s1 || (u1 < u2 ? -1 : 1))
  t.same(redis.map((r) => r.score), ordered.map(([, s]) => s), 'Redis order')

  // The live client's view: the snapshot, then every update frame applied in seq order.
  const state = new Map<string, number>(snapshot.entries.map((e: any) => [e.userId, e.score]))
  let seq = snapshot.seq
  let gaps = 0
  await eventually(async () => {
    for (const frame of client.frames.filter((f) => f.type === 'update' && f.seq > seq)) {
      if (frame.seq !== seq + 1) gaps++
      seq = frame.seq
      for (const e of frame.entries) state.set(e.userId, e.score)
    }
    return [...expected].every(([u, s]) => state.get(u) === s)
  }, 10_000, 'the live view to reach the final scores')
  t.same(state, expected, 'final WebSocket state')
  t.equal(gaps, 0, 'consecutive seq throughout')
  const board = await a.inject({ url: `/api/v1/leaderboard/${competitionId}?limit=100`, headers: bearer({ sub: users[0]! }) })
  t.same(board.json().entries.map((e: any) => [e.userId, e.score]), ordered, 'the HTTP leaderboard agrees')
})
