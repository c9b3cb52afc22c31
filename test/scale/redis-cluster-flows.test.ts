import { test } from 'tap'
import { Cluster } from 'ioredis'
import { build, bearer } from '../helper.ts'
import { startRedisCluster } from '../processes.ts'
import { hashTag } from '../../lib/redis-keys.ts'
import {
  eventually, leaderboard, LEADERBOARD_TEST_CONFIG, listen, liveClient, postgresScores, redisRanking,
  seedCompetition, seedParticipants, seedUsers, updateScore
} from '../routes/leaderboard/fixtures.ts'
import { HOUR, insertCompetition, join, person, sample, syncOk } from '../routes/fitness/fixtures.ts'

// The leaderboard, realtime and fitness flows on a real 3-node Redis Cluster, with two
// instances: every key of a competition shares one hash tag, so its scripts run on one shard,
// and pub/sub frames reach WebSocket clients on the other instance.

test('leaderboards, live feed and syncs through a 3-node Redis Cluster', async (t) => {
  const cluster = await startRedisCluster(t)
  const config = { ...LEADERBOARD_TEST_CONFIG, MAX_EVENT_LOOP_DELAY_MS: 0, REDIS_CLUSTER_NODES: cluster.nodes.join(',') }
  const a = await build(t, { config })
  const b = await build(t, { config, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  t.ok(a.redis instanceof Cluster && b.redis instanceof Cluster, 'both instances use the cluster client')
  const urlB = await listen(b)

  // Several competitions, so their keys spread over the shards.
  const races = []
  for (let i = 0; i < 4; i++) {
    const competitionId = await seedCompetition(a)
    const users = await seedUsers(a, 5)
    await seedParticipants(a, competitionId, users)
    races.push({ competitionId, users })
  }
  const slots = new Set<number>()
  for (const { competitionId } of races) {
    const keys = a.leaderboard.keys(competitionId)
    t.equal(new Set(Object.values(keys).map(hashTag)).size, 1, 'one hash tag for all of a competition\'s keys')
    t.equal(hashTag(a.leaderboard.channel(competitionId)), hashTag(keys.meta), 'and its channel')
    slots.add(Number(await a.redis.cluster('KEYSLOT', keys.meta)))
  }
  t.ok(slots.size > 1, `the competitions live in ${slots.size} different slots`)

  const { competitionId, users } = races[0]!
  const watcher = await liveClient(urlB, competitionId, { userId: users[0] })
  t.teardown(() => watcher.close())
  const snapshot = await watcher.next((f) => f.type === 'snapshot')
  t.match(snapshot, { competitionId, total: 5, degraded: false })

  // Scores written through instance A reach the client on instance B, in order.
  for (const [i, value] of [30, 10, 20].entries()) {
    t.equal((await updateScore(a, { competitionId, userId: users[i + 1]!, value })).statusCode, 200)
  }
  await watcher.next((f) => f.type === 'update' && f.entries.some((e: any) => e.score === 20))
  const seqs = watcher.frames.filter((f) => f.type === 'update').map((f) => f.seq)
  t.same(seqs, seqs.map((_, i) => snapshot.seq + 1 + i), 'consecutive sequence numbers')

  const board = await leaderboard(b, competitionId, users[0]!)
  t.equal(board.statusCode, 200)
  t.equal(board.body.degraded, false, 'served from the cluster, not degraded')
  t.same(board.body.entries.slice(0, 3).map((e: any) => [e.userId, e.score, e.rank]), [[users[1], 30, 1], [users[3], 20, 2], [users[2], 10, 3]])

  // Every competition's projection equals Postgres, and survives a rebuild on the cluster.
  for (const race of races) await updateScore(b, { competitionId: race.competitionId, userId: race.users[4]!, value: 7 })
  const rebuild = await a.inject({ method: 'POST', url: '/api/v1/admin/leaderboard/rebuild', headers: bearer({ sub: users[0]!, admin: true }), payload: {} })
  t.equal(rebuild.statusCode, 200)
  for (const race of races) {
    const pg = await postgresScores(a, race.competitionId)
    const redis = await eventually(async () => {
      const ranking = await redisRanking(a, race.competitionId)
      return ranking.length === pg.size ? ranking : undefined
    })
    t.same(new Map(redis.map((r) => [r.userId, r.score])), pg, 'Redis equals Postgres')
  }

  // A fitness sync on a steps competition moves its leaderboard through the cluster too.
  const now = Date.now()
  const steps = await insertCompetition(a, { startsAt: now - 2 * HOUR, endsAt: now + 24 * HOUR })
  const walker = person()
  await join(a, walker, steps)
  const stepsClient = await liveClient(urlB, steps, { userId: walker.id })
  t.teardown(() => stepsClient.close())
  await stepsClient.next((f) => f.type === 'snapshot')
  await syncOk(a, walker, { source: 'healthkit', samples: [sample({ start: now - HOUR, value: 1234 })] })
  // An update, or a fresh snapshot when the first join's projection rebuild finished meanwhile
  // (its reset frame resynchronises every client): either way the new score reaches the client.
  await stepsClient.next((f) => (f.type === 'update' || f.type === 'snapshot') && f.entries.some((e: any) => e.userId === walker.id && e.score === 1234))
  t.equal((await leaderboard(b, steps, walker.id)).body.me.score, 1234)
  t.pass('sync -> Postgres -> cluster projection -> live frame on the other instance')
})
