import { test, type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { createLeaderboardProjection, type LeaderboardProjection } from '../../../services/leaderboard/projection.ts'
import { createLeaderboardRebuilder } from '../../../services/leaderboard/rebuild.ts'
import { createParticipantReconciler, type ReconcileParticipant } from '../../../services/leaderboard/reconcile.ts'
import { createLeaderboardStore } from '../../../services/leaderboard/store.ts'
import { build } from '../../helper.ts'
import { LEADERBOARD_TEST_CONFIG, postgresRanking, redisRanking, seedCompetition, seedParticipants, seedUsers } from './fixtures.ts'

// After loading Postgres, a rebuild walks the members the projection already held and drops
// those no longer participating (they left while Redis missed it). A projection that began
// empty holds none of those, and the walk is skipped (services/leaderboard/rebuild.ts). Users
// leaving or joining again while a rebuild runs end as Postgres has them, and so does a
// projection lost while its loads are in flight.
// The rebuilder here is the test's own, on a key prefix of its own, so the app's start-up
// rebuild of every running competition (this one included) cannot run beside it; its HSCAN
// calls are counted.
// `afterChunkRead` runs once a chunk is read and before it is loaded, and `afterCheck` once
// Postgres has said which users still participate, as concurrent requests would.
interface Hooks { afterChunkRead?: () => Promise<void>, afterCheck?: () => Promise<void> }
function countingRebuilder (app: FastifyInstance, hooks: Hooks = {}) {
  const projection = createLeaderboardProjection({ redis: app.redis, prefix: `${app.redisPrefix}walk:`, tickMs: 50, replayFrames: 100 })
  const walked = { pages: 0 }
  const quiet = { info () {}, warn () {}, error () {} }
  const store = createLeaderboardStore()
  const reconcileParticipant = createParticipantReconciler({
    pool: app.pg.pool,
    store,
    projection,
    projected () {},
    markDirty (_competitionId, err) { throw err }
  })
  const rebuilder = createLeaderboardRebuilder({
    pool: app.pg.pool,
    store: {
      ...store,
      projectionChunk: async (...args: Parameters<typeof store.projectionChunk>) => {
        const rows = await store.projectionChunk(...args)
        await hooks.afterChunkRead?.()
        return rows
      },
      participantsIn: async (...args: Parameters<typeof store.participantsIn>) => {
        const still = await store.participantsIn(...args)
        await hooks.afterCheck?.()
        return still
      }
    },
    projection,
    log: quiet,
    rebuilds: { inc () {} },
    redis: { hscan: (async (...args: Parameters<typeof app.redis.hscan>) => { walked.pages++; return await app.redis.hscan(...args) }) as typeof app.redis.hscan },
    reconcileParticipant
  })
  return { projection, rebuilder, walked, reconcileParticipant }
}

// A leave's Postgres side: the row deleted (the projection not told).
async function leaveInPostgres (app: FastifyInstance, competitionId: string, userId: string): Promise<void> {
  await app.pg.query('DELETE FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, userId])
  await app.pg.query('UPDATE competitions SET participant_count = participant_count - 1 WHERE id = $1', [competitionId])
}

// Five participants projected by a first rebuild; `rebuildDuring` rebuilds again, running
// `during` once at the hook named, and answers the ranking Redis then holds.
async function fiveProjected (t: Test, at: keyof Hooks, during: (ctx: { app: FastifyInstance, competitionId: string, projection: LeaderboardProjection, reconcileParticipant: ReconcileParticipant }) => Promise<void>) {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 5)
  await seedParticipants(app, competitionId, users, { emit: false })
  let armed = false
  const { projection, rebuilder, reconcileParticipant } = countingRebuilder(app, {
    [at]: async () => {
      if (!armed) return
      armed = false
      await during({ app, competitionId, projection, reconcileParticipant })
    }
  })
  t.teardown(() => rebuilder.close())
  const keys = projection.keys(competitionId)
  await rebuilder.rebuild(competitionId)
  t.equal((await redisRanking(app, competitionId, keys.scores)).length, 5, 'all five projected')
  async function rebuildDuring (what: string): Promise<Awaited<ReturnType<typeof redisRanking>>> {
    armed = true
    await rebuilder.rebuild(competitionId)
    t.notOk(armed, `${what} happened inside the rebuild`)
    return await redisRanking(app, competitionId, keys.scores)
  }
  return { app, competitionId, users, keys, rebuildDuring }
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
  await leaveInPostgres(app, competitionId, gone)
  t.ok((await ranking()).some((r) => r.userId === gone), 'still projected before the rebuild')

  await rebuilder.rebuild(competitionId)
  t.ok(walked.pages >= 1, `a projection that held members is walked (${walked.pages} pages)`)
  const after = await ranking()
  t.notOk(after.some((r) => r.userId === gone), 'the participant who left is dropped')
  t.same(after, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.equal(await app.redis.hget(keys.members, gone), 'x', 'and kept as a tombstone')
})

test('a participant who leaves between the read of their chunk and its load is not put back by the rebuild', async (t) => {
  // The leave as the route makes it: the row deleted, then the projection told (a tombstone).
  const { app, competitionId, users, keys, rebuildDuring } = await fiveProjected(t, 'afterChunkRead', async ({ app, competitionId, projection }) => {
    await leaveInPostgres(app, competitionId, leaver)
    await projection.remove(competitionId, leaver)
  })
  const leaver = users[2]!

  const ranking = await rebuildDuring('the leave')
  t.notOk(ranking.some((r) => r.userId === leaver), 'the leaver is not back on the board')
  t.same(ranking, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.equal(await app.redis.hget(keys.members, leaver), 'x', 'a tombstone again')
})

test('a participant found gone who joins again before the rebuild finishes stays on the board', async (t) => {
  // The join as the route makes it: the row inserted, then the projection told (reconciled).
  const { app, competitionId, users, keys, rebuildDuring } = await fiveProjected(t, 'afterCheck', async ({ app, competitionId, reconcileParticipant }) => {
    await seedParticipants(app, competitionId, [returner], { emit: false })
    await reconcileParticipant({ competitionId, userId: returner })
  })
  const returner = users[3]!

  // Gone from Postgres only (the leave's projection write failed), then back in after the
  // rebuild's check found them gone and before its finish.
  await leaveInPostgres(app, competitionId, returner)
  const ranking = await rebuildDuring('the join')
  t.ok(ranking.some((r) => r.userId === returner), 'the participant who came back is on the board')
  t.same(ranking, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.not(await app.redis.hget(keys.members, returner), 'x', 'no tombstone left')
})

test('a projection lost while chunks are being loaded is loaded again from the start', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 3500)
  await seedParticipants(app, competitionId, users, { emit: false })
  await app.pg.query(`UPDATE participants p SET score = u.n * 7 % 10007 FROM unnest($2::uuid[]) WITH ORDINALITY AS u (id, n)
    WHERE p.competition_id = $1 AND p.user_id = u.id`, [competitionId, users])
  let chunksRead = 0
  let lost = false
  // Once the second chunk is read, the first one's load is under way: Redis then loses the
  // projection (a flush, a failover to an empty replica).
  const { projection, rebuilder } = countingRebuilder(app, {
    afterChunkRead: async () => {
      if (++chunksRead !== 2) return
      await app.redis.del(...Object.values(projection.keys(competitionId)))
      lost = true
    }
  })
  t.teardown(() => rebuilder.close())
  await rebuilder.rebuild(competitionId)
  t.ok(lost, 'the projection was lost inside the rebuild')
  t.ok(chunksRead > 4, `the chunks were read again (${chunksRead} reads of 4 chunks)`)
  const ranking = await redisRanking(app, competitionId, projection.keys(competitionId).scores)
  t.equal(ranking.length, 3500, 'every participant projected')
  t.same(ranking, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.equal(await app.redis.hget(projection.keys(competitionId).meta, 'state'), 'ready', 'and the projection is ready')
})
