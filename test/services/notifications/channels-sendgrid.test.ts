// The SendGrid sender against the local mail/send fake, through the real @sendgrid/mail on a
// client of its own: each email one request, SendGrid's refusals mapped.
import t from 'tap'
import { createSendgridSender } from '../../../services/notifications/channels/sendgrid.ts'
import { startFakeSendgrid } from '../../fakes/sendgrid.ts'
import { byKey, email, senderAndFake, type Teardown } from './channel-fixtures.ts'

const FROM = 'Health Competition <no-reply@example.com>'

async function setup (test: Teardown, opts: { apiKey?: string } = {}) {
  return await senderAndFake(test, startFakeSendgrid, async (fake) =>
    await createSendgridSender({ apiKey: opts.apiKey ?? fake.apiKey, from: FROM, apiUrl: fake.url, timeoutMs: 5000 }))
}

t.test('each email is its own request; providerId is X-Message-Id', async (t) => {
  const { fake, sender } = await setup(t)
  t.equal(sender.provider, 'sendgrid')
  const emails = Array.from({ length: 25 }, (_, i) => email(i))
  const results = await sender.send(emails)
  t.equal(fake.requests, 25)
  t.equal(fake.sent.length, 25)
  const ids = new Map(fake.sent.map((m) => [m.to, m.messageId]))
  t.same(results.map((r) => r.outcome === 'sent' && r.providerId), emails.map((e) => ids.get(e.to)))
  t.same(fake.sent.find((m) => m.to === 'user3@example.com'), {
    messageId: ids.get('user3@example.com'), to: 'user3@example.com', from: 'no-reply@example.com', subject: 'Subject 3', text: 'Text 3', html: '<p>Html 3</p>'
  })
})

t.test('SendGrid\'s refusals: 429 waits for the reset, 5xx retryable, 400/403/413 permanent with its message', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failAddress('user1@example.com', 'rate-limited', { retryAfterSeconds: 20 })
  fake.failAddress('user2@example.com', 'server-error')
  fake.failAddress('user3@example.com', 'bad-request')
  fake.failAddress('user4@example.com', 'forbidden')
  fake.failAddress('user5@example.com', 'payload-too-large')
  const results = byKey(await sender.send([email(0), email(1), email(2), email(3), email(4), email(5)]))
  t.match(results.get('k0'), { outcome: 'sent' })
  const limited = results.get('k1')
  t.match(limited, { key: 'k1', outcome: 'failed', reason: 'http_429: too many requests', retryable: true })
  const wait = limited?.outcome === 'failed' ? limited.retryAfterSeconds ?? 0 : 0
  t.ok(wait >= 19 && wait <= 20, `waits until X-RateLimit-Reset (${wait}s)`)
  t.same(results.get('k2'), { key: 'k2', outcome: 'failed', reason: 'http_503: Service Unavailable', retryable: true })
  t.same(results.get('k3'), { key: 'k3', outcome: 'failed', reason: 'http_400: Does not contain a valid address.', retryable: false })
  t.match(results.get('k4'), { key: 'k4', outcome: 'failed', reason: /^http_403: The from address does not match a verified Sender Identity/, retryable: false })
  t.same(results.get('k5'), { key: 'k5', outcome: 'failed', reason: 'http_413: Payload Too Large', retryable: false })
  t.equal(fake.sent.length, 1)
})

t.test('a wrong API key is refused (401), not retried', async (t) => {
  const { fake, sender } = await setup(t, { apiKey: 'SG.wrong.key' })
  t.same(await sender.send([email(1)]), [{ key: 'k1', outcome: 'failed', reason: 'http_401: The provided authorization grant is invalid, expired, or revoked', retryable: false }])
  t.equal(fake.sent.length, 0)
})

t.test('each sender keeps its own key and host', async (t) => {
  const one = await setup(t)
  const two = await setup(t)
  await one.sender.send([email(1)])
  await two.sender.send([email(2)])
  t.same([one.fake.sent.length, two.fake.sent.length], [1, 1], 'neither took over the other\'s client')
})

t.test('an unreachable SendGrid throws the batch back', async (t) => {
  const { fake, sender } = await setup(t)
  await fake.close()
  await t.rejects(sender.send([email(1), email(2)]), { code: 'ECONNREFUSED' })
})
