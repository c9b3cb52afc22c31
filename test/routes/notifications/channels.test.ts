import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { startFakeExpo } from '../../fakes/expo.ts'
import { startFakeSendgrid } from '../../fakes/sendgrid.ts'
import { startFakeSmtp } from '../../fakes/smtp.ts'
import { startFakeTwilio } from '../../fakes/twilio.ts'
import { LEADERBOARD_TEST_CONFIG, seedUsers } from '../leaderboard/fixtures.ts'
import { createNotifications } from '../../../services/notifications/create.ts'
import type { Category } from '../../../services/notifications/categories.ts'
import type { TemplateName } from '../../../services/notifications/templates.ts'
import { deliveriesOf, sendsDone } from './fixtures.ts'
import { until } from '../webhooks/receiver.ts'

// Each channel's real SDK against its local fake: Expo push (tickets and receipts), SendGrid
// and SMTP email, Twilio SMS. Sent once; refusals failed with the provider's reason; rate
// limits and outages retried until they go; tokens Expo calls unregistered removed.

const BASE = { ...LEADERBOARD_TEST_CONFIG, NOTIFY_RETRY_BASE_SECONDS: 0.2, EMAIL_FROM: 'Health Competition <no-reply@example.com>' }

async function notify (app: FastifyInstance, userIds: string[], category: Category, template: TemplateName, params: Record<string, string | number> = {}) {
  return await app.pg.transact(async (tx) => await createNotifications(tx, app.jobs, {
    cause: randomUUID(), category, template, competitionId: null, recipients: userIds.map((userId) => ({ userId, params }))
  }, app.notifications.channels))
}

const expoToken = (i: number) => `ExponentPushToken[device-${i}-${randomUUID().slice(0, 8)}]`

test('Expo: sent in batches of 100, refused tokens removed at once or when their receipt says so, outages retried', async (t) => {
  const expo = await startFakeExpo()
  t.teardown(expo.close)
  const app = await build(t, { config: { ...BASE, EXPO_PUSH_ENABLED: true, EXPO_API_URL: expo.url, EXPO_RECEIPT_DELAY_SECONDS: 0 } })
  t.same(app.notifications.channels, ['push'])
  const users = await seedUsers(app, 150)
  const tokens = users.map((_, i) => expoToken(i))
  await app.pg.query(`INSERT INTO push_devices (user_id, provider, token, platform, app_version)
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[])`,
  [users, users.map(() => 'expo'), tokens, users.map(() => 'ios'), users.map(() => '2.0.0')])
  expo.failTicket(tokens[0]!, 'DeviceNotRegistered')
  expo.failTicket(tokens[1]!, 'MessageTooBig')
  expo.unregisterLater(tokens[2]!)
  await notify(app, users, 'results', 'final', { competitionName: 'Expo cup', metric: 'steps', rank: 3, participants: 150, score: 1200 })
  await sendsDone(app)
  t.equal(expo.sent.length, 148, 'all but the two refused')
  t.equal(expo.sendRequests, 2, '150 messages in two requests')
  t.equal(expo.sent[5]!.title, 'Final results: Expo cup')
  t.equal(expo.sent[5]!.priority, 'normal')
  t.match((await deliveriesOf(app, users[0]!))[0], { status: 'failed', reason: 'DeviceNotRegistered' })
  t.match((await deliveriesOf(app, users[1]!))[0], { status: 'failed', reason: 'MessageTooBig' })
  t.match((await deliveriesOf(app, users[2]!))[0], { status: 'sent' })
  await until('receipts read', async () => (await app.pg.query('SELECT 1 FROM push_devices WHERE token = $1', [tokens[2]])).rowCount === 0)
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM push_devices')
  t.equal(rows[0].n, 148, 'the ticket\'s and the receipt\'s unregistered devices are gone; MessageTooBig keeps its device')
  t.ok(expo.receiptRequests >= 1)

  expo.failRequests('server-error', 1)
  const before = expo.sent.length
  await notify(app, users.slice(10, 20), 'money', 'deposit_succeeded', { amount: 500, currency: 'USD' })
  await sendsDone(app)
  t.equal(expo.sent.length - before, 10, 'a 503 is retried and each goes once')
  t.equal(expo.sent.at(-1)!.priority, 'high', 'money is high priority')
})

test('SendGrid: each email once, refusals failed with SendGrid\'s message, 429 retried after Retry-After', async (t) => {
  const sendgrid = await startFakeSendgrid()
  const smtp = await startFakeSmtp()
  t.teardown(sendgrid.close)
  t.teardown(smtp.close)
  const app = await build(t, { config: { ...BASE, SENDGRID_API_KEY: sendgrid.apiKey, SENDGRID_API_URL: sendgrid.url, SMTP_URL: smtp.url } })
  t.same(app.notifications.channels, ['email'])
  const [ada, bob, cy] = await seedUsers(app, 3)
  const email = async (u: string) => `${u}@example.com`
  for (const u of [ada!, bob!, cy!]) await app.pg.query('UPDATE users SET email = $2 WHERE id = $1', [u, await email(u)])
  sendgrid.failAddress(await email(bob!), 'bad-request')
  sendgrid.failAddress(await email(cy!), 'rate-limited', { retryAfterSeconds: 1 })
  await notify(app, [ada!, bob!, cy!], 'money', 'withdrawal_paid', { amount: 12345, currency: 'EUR' })
  await until('the rate-limited one refused once', () => sendgrid.requests >= 3)
  sendgrid.clearFailures()
  await sendsDone(app)
  t.same(sendgrid.sent.map((m) => m.to).sort(), [await email(ada!), await email(cy!)].sort(), 'SendGrid is used when both are configured')
  t.equal(smtp.received.length, 0)
  const mail = sendgrid.sent.find((m) => m.to === `${ada}@example.com`)!
  t.equal(mail.subject, 'Withdrawal paid')
  t.equal(mail.text, '€123.45 is on its way to your bank account.')
  t.match(mail.html, '<h1>Withdrawal paid</h1>')
  t.equal(mail.from, 'no-reply@example.com')
  t.match((await deliveriesOf(app, bob!))[0], { status: 'failed', reason: /^http_400: Does not contain a valid address/ })
  t.match((await deliveriesOf(app, ada!))[0], { status: 'sent', provider_ids: [mail.messageId] })
})

test('SMTP: delivered through a pool, 550 failed for good, 451 retried', async (t) => {
  const smtp = await startFakeSmtp()
  t.teardown(smtp.close)
  const app = await build(t, { config: { ...BASE, SMTP_URL: smtp.url } })
  const users = await seedUsers(app, 6)
  for (const u of users) await app.pg.query('UPDATE users SET email = $2 WHERE id = $1', [u, `${u}@example.com`])
  smtp.failAddress(`${users[0]}@example.com`, 'permanent')
  smtp.failAddress(`${users[1]}@example.com`, 'temporary')
  await notify(app, users, 'security', 'flag_cleared')
  await until('the temporary refusal seen', async () => (await app.pg.query('SELECT 1 FROM notification_deliveries WHERE attempts >= 1 AND status = \'queued\'')).rowCount! > 0)
  smtp.clearFailures()
  await sendsDone(app)
  t.equal(smtp.received.length, 5)
  t.equal(new Set(smtp.received.map((m) => m.to[0])).size, 5, 'each once')
  t.equal(smtp.received[0]!.subject, 'Review finished')
  t.equal(smtp.received[0]!.text, 'Your activity was checked and counts in full.')
  t.match((await deliveriesOf(app, users[0]!))[0], { status: 'failed', reason: 'smtp_550' })
  t.match((await deliveriesOf(app, users[1]!))[0], { status: 'sent' })
  t.ok(smtp.connections <= 3, `a pool of connections (${smtp.connections})`)
})

test('Twilio: SMS only for money and security, invalid numbers failed, rate limits retried', async (t) => {
  const twilio = await startFakeTwilio()
  t.teardown(twilio.close)
  const app = await build(t, {
    config: { ...BASE, TWILIO_ACCOUNT_SID: twilio.accountSid, TWILIO_AUTH_TOKEN: twilio.authToken, TWILIO_FROM: '+15005550006', TWILIO_API_URL: twilio.url }
  })
  t.same(app.notifications.channels, ['sms'])
  const [ada, bob, cy] = await seedUsers(app, 3)
  await app.pg.query('UPDATE users SET phone_number = \'+14155550101\' WHERE id = $1', [ada])
  await app.pg.query('UPDATE users SET phone_number = \'+14155550102\' WHERE id = $1', [bob])
  await app.pg.query('UPDATE users SET phone_number = \'+14155550103\' WHERE id = $1', [cy])
  twilio.failNumber('+14155550102', 'invalid-number')
  twilio.failNumber('+14155550103', 'rate-limited')
  await notify(app, [ada!, bob!, cy!], 'security', 'flag_raised', { reason: 'steps_rate', competitions: 2 })
  await notify(app, [ada!], 'competition', 'started', { competitionName: 'Not by SMS' })
  await until('the rate-limited one refused once', () => twilio.requests >= 3)
  twilio.clearFailures()
  await sendsDone(app)
  t.same(twilio.sent.map((m) => m.to).sort(), ['+14155550101', '+14155550103'])
  t.match(twilio.sent[0]!.body, /^Some of your activity is under review: /)
  t.equal(twilio.sent[0]!.from, '+15005550006')
  t.match((await deliveriesOf(app, bob!))[0], { status: 'failed', reason: '21211' })
  t.same((await deliveriesOf(app, ada!)).map((d) => d.template), ['flag_raised'], 'a routine message has no SMS delivery at all')
})
