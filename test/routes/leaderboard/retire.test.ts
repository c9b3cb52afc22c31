import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, leaderboard, seedCompetition, seedParticipants, seedUsers, updateScore
} from './fixtures.ts'

// A competition that stops scoring keeps its Redis leaderboard for
// LEADERBOARD_FINISHED_TTL_SECONDS; afterwards reads come from Postgres and rebuild it, again
// with that lifetime. Running competitions never expire.

const DAY_MS = 24 * 3600 * 1000

async function scoredCompetition (app: FastifyInstance) {
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 3)
  await seedParticipants(app, competitionId, users)
  for (const [i, value] of [30, 10, 20].entries()) ok200(await updateScore(app, { competitionId, userId: users[i]!, value }))
  await eventually(async () => (await leaderboard(app, competitionId, users[0]!)).body.degraded === false, 5000, 'the projection')
  return { competitionId, users }
}

function ok200 (res: { statusCode: number }): void {
  if (res.statusCode !== 200) throw new Error(`score update answered ${res.statusCode}`)
}

// Seconds to live of each existing projection key but the tick (-1: none); the meta, scores
// and members keys always exist.
async function ttls (app: FastifyInstance, competitionId: string): Promise<number[]> {
  const keys = Object.values(app.leaderboard.keys(competitionId)).filter((k) => !k.endsWith(':tick'))
  const all = await Promise.all(keys.map(async (k) => await app.redis.ttl(k)))
  if (all.slice(0, 3).includes(-2)) throw new Error('projection keys missing')
  return all.filter((s) => s !== -2)
}

async function finish (app: FastifyInstance, competitionId: string): Promise<void> {
  const changes = await app.lifecycle.sweep(new Date(Date.now() + 3 * DAY_MS))
  if (!changes.some((c) => c.competitionId === competitionId && c.to === 'final')) throw new Error('the competition did not reach final')
}

test('a finished competition\'s leaderboard expires after the configured time; the next read rebuilds it', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, LEADERBOARD_FINISHED_TTL_SECONDS: 2 } })
  const { competitionId, users } = await scoredCompetition(app)
  t.ok((await ttls(app, competitionId)).every((s) => s === -1), 'a running competition\'s keys never expire')
  const before = (await leaderboard(app, competitionId, users[1]!)).body

  await finish(app, competitionId)
  await eventually(async () => (await ttls(app, competitionId)).every((s) => s >= 1 && s <= 2), 5000, 'every key to expire within two seconds')
  t.same((await leaderboard(app, competitionId, users[1]!)).body, before, 'still served from Redis meanwhile')

  await eventually(async () => (await app.redis.exists(app.leaderboard.keys(competitionId).meta)) === 0, 5000, 'the keys to expire')
  const degraded = (await leaderboard(app, competitionId, users[1]!)).body
  t.equal(degraded.degraded, true, 'answered from Postgres once expired')
  t.same(degraded.entries.map((e: { userId: string, score: number }) => [e.userId, e.score]), [[users[0], 30], [users[2], 20], [users[1], 10]], 'the same standings')
  t.match(degraded.me, { userId: users[1], rank: 3, score: 10 })

  const rebuilt = await eventually(async () => {
    const body = (await leaderboard(app, competitionId, users[1]!)).body
    return body.degraded === false && body
  }, 5000, 'the rebuilt projection')
  t.same(rebuilt.entries, before.entries, 'rebuilt equal to what it was')
  t.ok((await ttls(app, competitionId)).every((s) => s >= 0 && s <= 2), 'the rebuilt projection expires too')
})

test('with LEADERBOARD_FINISHED_TTL_SECONDS=0 a finished leaderboard stays in Redis', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, LEADERBOARD_FINISHED_TTL_SECONDS: 0 } })
  const { competitionId } = await scoredCompetition(app)
  await finish(app, competitionId)
  // The status handler runs after the sweep's events; give it time to (not) act.
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok((await ttls(app, competitionId)).every((s) => s === -1))
})
