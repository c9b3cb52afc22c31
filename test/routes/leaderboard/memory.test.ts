import { test } from 'tap'
import { build } from '../../helper.ts'
import {
  admin, eventually, flushPrefix, LEADERBOARD_TEST_CONFIG, leaderboard, seedCompetition, seedParticipants, seedUsers, updateScore
} from './fixtures.ts'

// Reads of an unchanged projection are answered from the instance's memory; every change,
// made on this instance or another, is seen by the next read.

async function readsBySource (app: Awaited<ReturnType<typeof build>>): Promise<Record<string, number>> {
  const text = (await app.inject({ url: '/metrics' })).body
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^leaderboard_reads_total\{source="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2])
  return out
}

async function twoInstances (t: { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }) {
  const a = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const b = await build(t, { config: LEADERBOARD_TEST_CONFIG, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  const competitionId = await seedCompetition(a)
  const users = await seedUsers(a, 3)
  await seedParticipants(a, competitionId, users)
  for (const [i, value] of [10, 20, 30].entries()) await updateScore(a, { competitionId, userId: users[i]!, value })
  return { a, b, competitionId, users }
}

test('an unchanged leaderboard is served from memory; a change on this instance shows at once', async (t) => {
  const { a, competitionId, users } = await twoInstances(t)
  const first = await leaderboard(a, competitionId, users[0]!, '?around=me&k=1')
  // Announcements of the set-up's writes may still be arriving: soon reads come from memory.
  const fromMemory = async () => {
    const before = (await readsBySource(a)).memory ?? 0
    const again = await leaderboard(a, competitionId, users[0]!, '?around=me&k=1')
    return ((await readsBySource(a)).memory ?? 0) - before === 1 && again
  }
  const second = await eventually(fromMemory, 5000, 'a read from memory')
  t.same(second.body, first.body, 'the same answer as from Redis')

  const write = await updateScore(a, { competitionId, userId: users[0]!, value: 40 })
  t.equal(write.statusCode, 200)
  // The projection is updated right after the commit; once it is, no read shows the old score.
  await eventually(async () => (await leaderboard(a, competitionId, users[0]!, '?around=me&k=1')).body.me.score === 40, 5000, 'new score')
  const after = await leaderboard(a, competitionId, users[0]!, '?around=me&k=1')
  t.match(after.body.me, { userId: users[0], score: 40, rank: 1 })
  t.same(after.body.entries.map((e: any) => e.score), [40, 30, 20])
})

test('a change made on another instance reaches the reads of this one', async (t) => {
  const { a, b, competitionId, users } = await twoInstances(t)
  // b remembers the board and each viewer's entry.
  await eventually(async () => {
    for (const u of users) await leaderboard(b, competitionId, u)
    return ((await readsBySource(b)).memory ?? 0) >= 3
  }, 5000, 'b answers from memory')

  const write = await updateScore(a, { competitionId, userId: users[1]!, value: 50 })
  t.equal(write.statusCode, 200)
  await eventually(async () => (await leaderboard(b, competitionId, users[1]!)).body.me.score === 50, 5000, 'b sees the write made on a')
  const board = await leaderboard(b, competitionId, users[2]!)
  t.same(board.body.entries.map((e: any) => [e.userId, e.score]), [[users[1], 50], [users[2], 30], [users[0], 10]], 'the page too')
  t.match(board.body.me, { userId: users[2], rank: 2 }, 'and another viewer\'s own entry')

  // Visibility changes without a new version of the scores: private boards hide at once.
  await a.pg.query('UPDATE competitions SET visibility = \'private\' WHERE id = $1', [competitionId])
  const rebuilt = await a.inject({ method: 'POST', url: `/api/v1/admin/leaderboard/${competitionId}/rebuild`, headers: admin })
  t.equal(rebuilt.statusCode, 200)
  const outsider = (await seedUsers(a, 1))[0]!
  await eventually(async () => (await leaderboard(b, competitionId, outsider)).statusCode === 404, 5000, 'private board hidden from b\'s outsiders')
  t.equal((await leaderboard(b, competitionId, users[0]!)).statusCode, 200, 'participants still see it')
})

test('keys deleted behind the service\'s back are noticed within the cache\'s maximum age', async (t) => {
  const { a, competitionId, users } = await twoInstances(t)
  await leaderboard(a, competitionId, users[0]!)
  t.ok(await flushPrefix(a) > 0)
  const started = Date.now()
  await eventually(async () => (await leaderboard(a, competitionId, users[0]!)).body.degraded === true, 5000, 'degraded read')
  t.ok(Date.now() - started <= a.config.LEADERBOARD_CACHE_MAX_AGE_MS + 1000, 'seen within the maximum age')
})
