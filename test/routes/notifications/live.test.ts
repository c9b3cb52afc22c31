import { test } from 'tap'
import { build } from '../../helper.ts'
import { LEADERBOARD_TEST_CONFIG, liveClient, seedCompetition, seedParticipants, seedUsers, updateScore } from '../leaderboard/fixtures.ts'
import { settled } from './fixtures.ts'
import { faults } from '../../wire-schemas.ts'
import { ServerFrameSchemas } from '../../../schemas/realtime.ts'

// New notifications reach the user's open WebSockets on whichever instance holds them: here
// the notification is made by one instance and the socket is open on another.

test('a notification arrives on the user\'s open socket on another instance, rendered, and only on theirs', async (t) => {
  const worker = await build(t, { config: { ...LEADERBOARD_TEST_CONFIG, NOTIFY_TOP_N: 1 } })
  const front = await build(t, {
    config: { ...LEADERBOARD_TEST_CONFIG, JOB_WORKERS: false },
    databaseUrl: worker.config.DATABASE_URL,
    redisPrefix: worker.config.REDIS_KEY_PREFIX
  })
  await front.listen({ host: '127.0.0.1', port: 0 })
  const base = `http://127.0.0.1:${(front.server.address() as { port: number }).port}`
  const [ada, bob] = await seedUsers(worker, 2)
  const competitionId = await seedCompetition(worker, { name: 'Live' })
  await seedParticipants(worker, competitionId, [ada!, bob!])
  await worker.pg.query('UPDATE participants SET score = 100 WHERE user_id = $1', [ada])

  const adaSocket = await liveClient(base, competitionId, { userId: ada })
  const bobSocket = await liveClient(base, competitionId, { userId: bob })
  t.teardown(async () => { await adaSocket.close(); await bobSocket.close() })
  await adaSocket.next((f) => f.type === 'snapshot')

  t.equal((await updateScore(worker, { competitionId, userId: bob!, value: 150 })).statusCode, 200)
  const frame = await adaSocket.next((f) => f.type === 'notification', 10_000)
  t.match(frame.notification, { template: 'overtaken', category: 'rank', competitionId, title: 'You were overtaken in Live', readAt: null })
  t.equal(frame.notification.body, 'Runner 2 passed you. You are now #2 with 100 points.')
  t.notOk('userId' in frame.notification)
  t.same(faults(ServerFrameSchemas.notification, frame), [], 'the frame matches the protocol\'s schema')
  const entered = await bobSocket.next((f) => f.type === 'notification', 10_000)
  t.equal(entered.notification.template, 'entered_top', 'bob hears his own climb, not ada\'s news')
  await settled(worker)
  t.equal(adaSocket.frames.filter((f) => f.type === 'notification').length, 1)
  t.equal(bobSocket.frames.filter((f) => f.type === 'notification').length, 1)
})
