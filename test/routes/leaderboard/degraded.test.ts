import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { resolveBackends } from '../../backends.ts'
import { build } from '../../helper.ts'
import { startTcpProxy } from '../../tcp-proxy.ts'
import {
  admin, eventually, flushPrefix, LEADERBOARD_TEST_CONFIG, leaderboard, postgresRanking, redisRanking, seedCompetition, seedParticipants, seedUsers, updateScore
} from './fixtures.ts'

async function seeded (app: FastifyInstance) {
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 6)
  await seedParticipants(app, competitionId, users)
  for (const [i, value] of [30, 10, 30, 20, 0, 5].entries()) await updateScore(app, { competitionId, userId: users[i]!, value })
  return { competitionId, users }
}

test('Redis flushed: reads fall back to Postgres marked degraded, writes commit, a rebuild makes Redis equal Postgres', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { competitionId, users } = await seeded(app)
  const before = await leaderboard(app, competitionId, users[3]!, '?around=me&k=1')
  t.equal(before.body.degraded, false)
  t.same(await redisRanking(app, competitionId), await postgresRanking(app, competitionId))

  t.ok(await flushPrefix(app) > 0, 'this test\'s keys are gone')
  // Keys deleted behind the service's back are noticed within LEADERBOARD_CACHE_MAX_AGE_MS.
  const during = await eventually(async () => {
    const read = await leaderboard(app, competitionId, users[3]!, '?around=me&k=1')
    return read.body.degraded === true && read
  }, 5000, 'a degraded read')
  t.equal(during.statusCode, 200)
  t.equal(during.body.degraded, true, 'served from Postgres and marked so')
  t.same({ ...during.body, degraded: false }, before.body, 'the same answer as from Redis: entries, ranks, me, around')
  const page = await leaderboard(app, competitionId, users[3]!, '?limit=2')
  const next = await leaderboard(app, competitionId, users[3]!, `?limit=2&cursor=${page.body.nextCursor}`)
  t.same([...page.body.entries, ...next.body.entries].map((e: any) => e.userId), before.body.entries.slice(0, 4).map((e: any) => e.userId), 'Postgres pages with the same cursors')

  // Writes keep committing while the projection is missing.
  const write = await updateScore(app, { competitionId, userId: users[4]!, value: 25 })
  t.equal(write.statusCode, 200)
  t.match(write.json(), { applied: true, score: 25 })

  const rebuilt = await app.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${competitionId}/rebuild`, headers: admin })
  t.equal(rebuilt.statusCode, 200)
  t.same(await redisRanking(app, competitionId), await postgresRanking(app, competitionId), 'Redis equals Postgres after the rebuild')
  const after = await leaderboard(app, competitionId, users[4]!)
  t.equal(after.body.degraded, false)
  t.match(after.body.me, { userId: users[4], score: 25, rank: 3 })
  t.same(after.body.entries.map((e: any) => ({ userId: e.userId, score: e.score })), await postgresRanking(app, competitionId), 'no page cached before the flush is served')

  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /leaderboard_reads_total\{source="postgres"\} [1-9]/)
  t.match(metrics.body, /leaderboard_score_updates_total\{result="applied"\} 6/)
})

test('Redis unreachable: reads from Postgres (degraded), writes commit, and the projection is reconciled when Redis returns', async (t) => {
  const { redisUrl } = await resolveBackends(t)
  const target = new URL(redisUrl)
  const proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) })
  t.teardown(() => proxy.close())
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, REDIS_URL: `redis://127.0.0.1:${proxy.port}` } })
  const { competitionId, users } = await seeded(app)
  t.equal((await leaderboard(app, competitionId, users[0]!)).body.degraded, false)

  proxy.cut()
  const down = await leaderboard(app, competitionId, users[0]!, '?around=me&k=1')
  t.equal(down.statusCode, 200)
  t.equal(down.body.degraded, true)
  t.same(down.body.entries.map((e: any) => [e.userId, e.rank]), [[users[0], 1], [users[2], 1], [users[3], 3], [users[1], 4], [users[5], 5], [users[4], 6]])

  // Nothing accepted is lost: each write commits in Postgres.
  const writes = await Promise.all([
    updateScore(app, { competitionId, userId: users[1]!, value: 99 }),
    updateScore(app, { competitionId, userId: users[5]!, operation: 'increment', value: 40 })
  ])
  t.same(writes.map((w) => [w.statusCode, w.json().score]), [[200, 99], [200, 45]])
  const stillDown = await leaderboard(app, competitionId, users[1]!)
  t.match(stillDown.body, { degraded: true, me: { userId: users[1], rank: 1, score: 99 } })

  proxy.restore()
  await eventually(async () => {
    const redis = await redisRanking(app, competitionId).catch(() => [])
    return JSON.stringify(redis) === JSON.stringify(await postgresRanking(app, competitionId))
  }, 10_000, 'Redis equal to Postgres after reconnecting')
  const back = await leaderboard(app, competitionId, users[1]!)
  t.match(back.body, { degraded: false, me: { userId: users[1], rank: 1, score: 99 } })
  t.same(back.body.entries.map((e: any) => e.userId), (await postgresRanking(app, competitionId)).map((r) => r.userId))
})
