import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { createLeaderboardProjection } from '../../../services/leaderboard/projection.ts'
import { createLeaderboardRebuilder } from '../../../services/leaderboard/rebuild.ts'
import { createLeaderboardStore } from '../../../services/leaderboard/store.ts'
import { build } from '../../helper.ts'
import { LEADERBOARD_TEST_CONFIG, postgresRanking, redisRanking, seedCompetition, seedParticipants, seedUsers } from './fixtures.ts'

// After loading Postgres, a rebuild walks the members the projection already held and drops
// those no longer participating (they left while Redis missed it). A projection that began
// empty holds none of those, and the walk is skipped (services/leaderboard/rebuild.ts).
// The rebuilder here is the test's own, on a key prefix of its own, so the app's start-up
// rebuild of every running competition (this one included) cannot run beside it; its HSCAN
// calls are counted.
// `afterChunkRead` runs once a chunk is read and before it is loaded, as a concurrent request would.
function countingRebuilder (app: FastifyInstance, afterChunkRead: () => Promise<void> = async () => {}) {
  const projection = createLeaderboardProjection({ redis: app.redis, prefix: `${app.redisPrefix}walk:`, tickMs: 50, replayFrames: 100 })
  const walked = { pages: 0 }
  const quiet = { info () {}, warn () {}, error () {} }
  const store = createLeaderboardStore()
  const rebuilder = createLeaderboardRebuilder({
    pool: app.pg.pool,
    store: {
      ...store,
      projectionChunk: async (...args: Parameters<typeof store.projectionChunk>) => {
        const rows = await store.projectionChunk(...args)
        await afterChunkRead()
        return rows
      }
    },
    projection,
    log: quiet,
    rebuilds: { inc () {} },
    redis: { hscan: (async (...args: Parameters<typeof app.redis.hscan>) => { walked.pages++; return await app.redis.hscan(...args) }) as typeof app.redis.hscan }
  })
  return { projection, rebuilder, walked }
}

test('a rebuild drops a participant who left while Redis missed it, and skips the walk when it began empty', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const { projection, rebuilder, walked } = countingRebuilder(app)
  t.teardown(() => rebuilder.close())
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 1200)
  await seedParticipants(app, competitionId, users, { emit: false })
  await app.pg.query(`UPDATE participants p SET score = u.n * 13 % 1009 FROM unnest($2::uuid[]) WITH ORDINALITY AS u (id, n)
    WHERE p.competition_id = $1 AND p.user_id = u.id`, [competitionId, users])
  const keys = projection.keys(competitionId)
  const ranking = async () => await redisRanking(app, competitionId, keys.scores)

  t.equal(await app.redis.exists(keys.members), 0, 'the projection starts empty')
  await rebuilder.rebuild(competitionId)
  t.equal(walked.pages, 0, 'into an empty projection: no walk over its members')
  t.same(await ranking(), await postgresRanking(app, competitionId), 'and Redis equals Postgres')

  // Gone from Postgres only, as when the leave's projection write failed.
  const gone = users[700]!
  await app.pg.query('DELETE FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, gone])
  await app.pg.query('UPDATE competitions SET participant_count = participant_count - 1 WHERE id = $1', [competitionId])
  t.ok((await ranking()).some((r) => r.userId === gone), 'still projected before the rebuild')

  await rebuilder.rebuild(competitionId)
  t.ok(walked.pages >= 1, `a projection that held members is walked (${walked.pages} pages)`)
  const after = await ranking()
  t.notOk(after.some((r) => r.userId === gone), 'the participant who left is dropped')
  t.same(after, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.equal(await app.redis.hget(keys.members, gone), 'x', 'and kept as a tombstone')
})

test('a participant who leaves between the read of their chunk and its load is not put back by the rebuild', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 5)
  await seedParticipants(app, competitionId, users, { emit: false })
  const leaver = users[2]!
  let leaveDuringRebuild = false
  // The leave as the route makes it: the row deleted, then the projection told (a tombstone).
  const { projection, rebuilder } = countingRebuilder(app, async () => {
    if (!leaveDuringRebuild) return
    leaveDuringRebuild = false
    await app.pg.query('DELETE FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, leaver])
    await app.pg.query('UPDATE competitions SET participant_count = participant_count - 1 WHERE id = $1', [competitionId])
    await projection.remove(competitionId, leaver)
  })
  t.teardown(() => rebuilder.close())
  const keys = projection.keys(competitionId)
  await rebuilder.rebuild(competitionId)
  t.equal((await redisRanking(app, competitionId, keys.scores)).length, 5, 'all five projected')

  leaveDuringRebuild = true
  await rebuilder.rebuild(competitionId)
  t.equal(leaveDuringRebuild, false, 'the leave happened inside the rebuild')
  const ranking = await redisRanking(app, competitionId, keys.scores)
  t.notOk(ranking.some((r) => r.userId === leaver), 'the leaver is not back on the board')
  t.same(ranking, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.equal(await app.redis.hget(keys.members, leaver), 'x', 'a tombstone again')
})
