import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { admin, flushPrefix, LEADERBOARD_TEST_CONFIG, postgresRanking, redisRanking, seedCompetition, seedParticipants, seedUsers } from './fixtures.ts'

// After loading Postgres, a rebuild walks the members the projection already held and drops
// those no longer participating (they left while Redis missed it). A projection that began
// empty holds none of those, and the walk is skipped (services/leaderboard/rebuild.ts).

// The HSCAN calls on the competition's members hash while `work` runs, seen through MONITOR.
// A marker sent afterwards is awaited, so every earlier command has been seen.
async function hscansDuring (app: FastifyInstance, competitionId: string, work: () => Promise<void>): Promise<number> {
  const members = app.leaderboard.keys(competitionId).members
  const marker = `marker-${randomUUID()}`
  const monitor = await app.redis.duplicate().monitor()
  let hscans = 0
  let markerSeen: () => void = () => {}
  const seen = new Promise<void>((resolve) => { markerSeen = resolve })
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args[0]?.toLowerCase() === 'hscan' && args[1] === members) hscans++
    if (args[0]?.toLowerCase() === 'echo' && args[1] === marker) markerSeen()
  })
  try {
    await work()
    await app.redis.echo(marker)
    await seen
  } finally {
    monitor.disconnect()
  }
  return hscans
}

async function rebuild (app: FastifyInstance, competitionId: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${competitionId}/rebuild`, headers: admin })
  if (res.statusCode !== 200) throw new Error(`rebuild: ${res.statusCode} ${res.body}`)
}

test('a rebuild drops a participant who left while Redis missed it, and skips the walk when it began empty', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 1200)
  await seedParticipants(app, competitionId, users, { emit: false })
  await app.pg.query(`UPDATE participants p SET score = u.n * 13 % 1009 FROM unnest($2::uuid[]) WITH ORDINALITY AS u (id, n)
    WHERE p.competition_id = $1 AND p.user_id = u.id`, [competitionId, users])

  await flushPrefix(app)
  t.equal(await hscansDuring(app, competitionId, async () => await rebuild(app, competitionId)), 0, 'into an empty projection: no walk over its members')
  t.same(await redisRanking(app, competitionId), await postgresRanking(app, competitionId), 'and Redis equals Postgres')

  // Gone from Postgres only, as when the leave's projection write failed.
  const gone = users[700]!
  await app.pg.query('DELETE FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, gone])
  await app.pg.query('UPDATE competitions SET participant_count = participant_count - 1 WHERE id = $1', [competitionId])
  t.ok((await redisRanking(app, competitionId)).some((r) => r.userId === gone), 'still projected before the rebuild')

  const walked = await hscansDuring(app, competitionId, async () => await rebuild(app, competitionId))
  t.ok(walked >= 2, `a projection that held members is walked (${walked} pages)`)
  const ranking = await redisRanking(app, competitionId)
  t.notOk(ranking.some((r) => r.userId === gone), 'the participant who left is dropped')
  t.same(ranking, await postgresRanking(app, competitionId), 'Redis equals Postgres')
  t.equal(await app.redis.hget(app.leaderboard.keys(competitionId).members, gone), 'x', 'and kept as a tombstone')
})
