import { test } from 'tap'
import { build } from '../../helper.ts'
import {
  eventually, LEADERBOARD_TEST_CONFIG, leaderboard, listen, liveClient, redisRanking, seedCompetition, seedParticipants, seedUsers, updateScore
} from './fixtures.ts'

// The same leaderboard and live feed on the embedded PostgreSQL and the in-process Redis stand-in (what
// `npm start` runs on a bare machine): scripts, pub/sub, snapshot, updates and resume.
test('leaderboard and live feed in embedded mode', async (t) => {
  const app = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, DATABASE_URL: '', REDIS_URL: '', MAX_EVENT_LOOP_DELAY_MS: 0 } })
  t.equal(app.redisMode, 'embedded')
  const url = await listen(app)
  const competitionId = await seedCompetition(app)
  const users = await seedUsers(app, 4)
  await seedParticipants(app, competitionId, users)

  const client = await liveClient(url, competitionId, { userId: users[3] })
  t.teardown(() => client.close())
  const snapshot = await client.next((f) => f.type === 'snapshot')
  t.match(snapshot, { total: 4, degraded: false, me: { userId: users[3], rank: 1 } })

  const results = await Promise.all([[0, 30], [1, 20], [2, 20]].map(async ([i, value]) => await updateScore(app, { competitionId, userId: users[i!]!, value: value! })))
  t.same(results.map((r) => r.statusCode), [200, 200, 200], 'concurrent writes all succeed')
  await client.next((f) => f.type === 'update' && f.entries.some((e: any) => e.userId === users[0] && e.score === 30))
  await eventually(async () => client.frames.some((f) => (f.type === 'rank' ? f : f.me)?.rank === 4), 5000, 'own rank 4')

  const board = await leaderboard(app, competitionId, users[3]!, '?around=me&k=1')
  t.match(board.body, { degraded: false, total: 4, me: { userId: users[3], rank: 4, position: 4 } })
  t.same(board.body.entries.map((e: any) => e.rank), [1, 2, 2, 4])
  t.same((await redisRanking(app, competitionId)).map((r) => r.score), [30, 20, 20, 0])

  const last = client.frames.filter((f) => f.type === 'update').at(-1)
  await client.close()
  await updateScore(app, { competitionId, userId: users[3]!, value: 25 })
  const again = await liveClient(url, competitionId, { userId: users[3], query: `&seq=${last.seq}` })
  t.teardown(() => again.close())
  t.match(await again.next(() => true), { type: 'resumed', fromSeq: last.seq })
  const replayed = await again.next(() => true)
  t.match(replayed, { type: 'update', seq: last.seq + 1, me: { rank: 2, score: 25 } })
  t.match(replayed.entries.find((e: any) => e.userId === users[3]), { score: 25, rank: 2 })
})
