import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { startFakeFcm, type FakeFcm } from '../../fakes/fcm.ts'
import { LEADERBOARD_TEST_CONFIG, seedCompetition, seedParticipants, seedUsers } from '../leaderboard/fixtures.ts'
import { createNotifications } from '../../../services/notifications/create.ts'
import { deliveriesOf, sendsDone, settled } from './fixtures.ts'

// Push through the real FCM sender (google-auth-library's JWT grant, then HTTP v1 sends)
// against a local fake of Google's token endpoint and FCM: sent once, unregistered tokens
// pruned, rate limits and outages retried with backoff until they go or their attempts run out,
// and a delivery cut off by a crash never sent a second time.

async function fcmConfig (t: { teardown: (fn: () => unknown) => void }): Promise<{ fcm: FakeFcm, config: Record<string, unknown> }> {
  const fcm = await startFakeFcm()
  t.teardown(fcm.close)
  return {
    fcm,
    config: {
      ...LEADERBOARD_TEST_CONFIG,
      FCM_PROJECT_ID: fcm.projectId,
      FCM_CLIENT_EMAIL: fcm.clientEmail,
      FCM_PRIVATE_KEY: fcm.privateKey.replaceAll('\n', '\\n'),
      FCM_API_URL: fcm.url,
      FCM_TOKEN_URL: fcm.tokenUrl,
      NOTIFY_RETRY_BASE_SECONDS: 0.2
    }
  }
}

async function withDevice (app: FastifyInstance, userId: string, token = `fcm-${userId}`): Promise<string> {
  await app.pg.query('INSERT INTO push_devices (user_id, provider, token, platform, app_version) VALUES ($1, \'fcm\', $2, \'android\', \'3.1.0\')', [userId, token])
  return token
}

async function flagCleared (app: FastifyInstance, userIds: string[], cause = randomUUID()) {
  return await app.pg.transact(async (tx) => await createNotifications(tx, app.jobs, {
    cause, category: 'security', template: 'flag_cleared', competitionId: null, recipients: userIds.map((userId) => ({ userId, params: {} }))
  }, app.notifications.channels))
}

test('a competition starting reaches each participant\'s phones once, in their language', async (t) => {
  const { fcm, config } = await fcmConfig(t)
  const app = await build(t, { config })
  t.same(app.notifications.channels, ['push'])
  const users = await seedUsers(app, 3)
  await app.pg.query('UPDATE users SET locale = \'es\' WHERE id = $1', [users[0]])
  const tokens = await Promise.all(users.map(async (u) => await withDevice(app, u)))
  const second = await withDevice(app, users[1]!, 'fcm-second-phone')
  const competitionId = await seedCompetition(app, { name: 'Spring', status: 'scheduled' })
  await app.pg.query('UPDATE competitions SET starts_at = now() + interval \'1 minute\' WHERE id = $1', [competitionId])
  await seedParticipants(app, competitionId, users, { emit: false })
  await app.lifecycle.sweep(new Date(Date.now() + 120_000))
  await settled(app)
  await sendsDone(app)

  const started = fcm.sent.filter((m) => m.data.template === 'started')
  t.same(started.map((m) => m.token).sort(), [...tokens, second].sort(), 'every phone once')
  t.equal(started.find((m) => m.token === tokens[0])!.title, 'Spring ha empezado')
  t.equal(started.find((m) => m.token === tokens[1])!.title, 'Spring has started')
  t.equal(started[0]!.androidPriority, 'NORMAL', 'routine messages are not high priority')
  const [delivery] = await deliveriesOf(app, users[1]!)
  t.equal(delivery!.status, 'sent')
  t.equal(delivery!.provider_ids.length, 2, 'both phones\' message names are logged')
  t.match(delivery!.provider_ids[0], /^projects\/.+\/messages\//)
})

test('an unregistered or malformed token is removed and its delivery failed with the reason', async (t) => {
  const { fcm, config } = await fcmConfig(t)
  const app = await build(t, { config })
  const [gone, bad, fine] = await seedUsers(app, 3)
  fcm.failToken(await withDevice(app, gone!), 'unregistered')
  fcm.failToken(await withDevice(app, bad!), 'invalid-token')
  await withDevice(app, fine!)
  await flagCleared(app, [gone!, bad!, fine!])
  await sendsDone(app)
  const { rows } = await app.pg.query('SELECT user_id FROM push_devices')
  t.same(rows.map((r) => r.user_id), [fine], 'only the working device is left')
  t.match((await deliveriesOf(app, gone!)).find((d) => d.channel === 'push'), { status: 'failed', reason: 'UNREGISTERED' })
  t.match((await deliveriesOf(app, bad!)).find((d) => d.channel === 'push'), { status: 'failed' })
  t.match((await deliveriesOf(app, fine!)).find((d) => d.channel === 'push'), { status: 'sent' })
  t.equal(fcm.sent.filter((m) => m.data.template === 'flag_cleared').length, 1)
})

test('rate limits and outages are retried after the provider\'s Retry-After until the message goes, once', async (t) => {
  const { fcm, config } = await fcmConfig(t)
  const app = await build(t, { config })
  const [ada, bob] = await seedUsers(app, 2)
  const adaToken = await withDevice(app, ada!)
  const bobToken = await withDevice(app, bob!)
  fcm.failToken(adaToken, 'quota-exceeded', { retryAfterSeconds: 1 })
  fcm.failToken(bobToken, 'unavailable', { retryAfterSeconds: 1 })
  const failedAt = Date.now()
  await flagCleared(app, [ada!, bob!])
  const { until } = await import('../webhooks/receiver.ts')
  await until('both refused once', () => fcm.sendRequests >= 2)
  fcm.clearFailures()
  await sendsDone(app)
  t.same(fcm.sent.map((m) => m.token).sort(), [adaToken, bobToken].sort(), 'each sent once in the end')
  t.ok(Date.now() - failedAt >= 1000, 'not before Retry-After')
  const { rows } = await app.pg.query('SELECT status, attempts FROM notification_deliveries ORDER BY attempts')
  t.same(rows, [{ status: 'sent', attempts: 2 }, { status: 'sent', attempts: 2 }])
})

test('a delivery whose attempts run out is failed with the last reason', async (t) => {
  const { fcm, config } = await fcmConfig(t)
  const app = await build(t, { config: { ...config, NOTIFY_MAX_ATTEMPTS: 2 } })
  const [ada] = await seedUsers(app, 1)
  fcm.failToken(await withDevice(app, ada!), 'internal')
  await flagCleared(app, [ada!])
  await sendsDone(app)
  t.match((await deliveriesOf(app, ada!))[0], { status: 'failed', reason: /^retries_exhausted/ })
  t.equal(fcm.sent.length, 0)
  t.equal(fcm.sendRequests, 2, 'two attempts')
})

test('restarts and crashes send nothing twice', async (t) => {
  const { fcm, config } = await fcmConfig(t)
  // An instance that queues but runs no jobs stops; another on the same database sends.
  const first = await build(t, { config: { ...config, JOB_WORKERS: false } })
  const users = await seedUsers(first, 20)
  for (const u of users) await withDevice(first, u)
  const cause = randomUUID()
  await flagCleared(first, users, cause)
  // One delivery was claimed by a worker that died mid-call: its outcome is unknown.
  await first.pg.query(`UPDATE notification_deliveries SET status = 'sending', attempts = 1
    WHERE notification_id = (SELECT id FROM notifications WHERE user_id = $1)`, [users[0]])
  const databaseUrl = first.config.DATABASE_URL
  await first.close()

  const second = await build(t, { config, databaseUrl })
  await sendsDone(second)
  t.equal(fcm.sent.length, 19, 'the other nineteen sent')
  t.equal(new Set(fcm.sent.map((m) => m.token)).size, 19, 'each once')
  t.match((await deliveriesOf(second, users[0]!))[0], { status: 'failed', reason: 'interrupted' })
  t.notOk(fcm.sent.some((m) => m.token === `fcm-${users[0]}`), 'the interrupted one is not sent again')

  // The same cause handled again (a retried trigger job) makes nothing new.
  t.same(await flagCleared(second, users, cause), [])
  await second.jobs.relay.settled()
  t.equal(fcm.sent.length, 19)
})
