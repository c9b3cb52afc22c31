import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { admin, flushPrefix, LEADERBOARD_TEST_CONFIG, postgresRanking, redisRanking, seedCompetition, seedParticipants, seedUsers } from './fixtures.ts'

// A rebuild reads Postgres in chunks of 1,000 participants, the next while Redis loads the
// current one (services/leaderboard/rebuild.ts): every chunk must land, whether the last one is
// full or not.
async function seededCompetition (app: FastifyInstance, size: number): Promise<string> {
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, size)
  await seedParticipants(app, competitionId, users, { emit: false })
  await app.pg.query(`UPDATE participants p SET score = u.n * 7 % 10007, reached_at = now() - u.n * interval '1 second'
    FROM unnest($2::uuid[]) WITH ORDINALITY AS u (id, n) WHERE p.competition_id = $1 AND p.user_id = u.id`, [competitionId, users])
  return competitionId
}

test('a rebuild over several chunks makes Redis equal Postgres, with a full last chunk or a partial one', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  for (const size of [2000, 2345]) {
    const competitionId = await seededCompetition(app, size)
    await flushPrefix(app)
    const rebuilt = await app.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${competitionId}/rebuild`, headers: admin })
    t.equal(rebuilt.statusCode, 200, `${size} participants rebuilt`)
    const ranking = await redisRanking(app, competitionId)
    t.equal(ranking.length, size, `all ${size} participants projected`)
    t.same(ranking, await postgresRanking(app, competitionId), `Redis equals Postgres for ${size} participants`)
  }
})
