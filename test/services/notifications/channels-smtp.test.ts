// The SMTP sender against a local SMTP server (smtp-server), through nodemailer's pooled
// transport: messages over a few reused connections, reply codes mapped.
import t from 'tap'
import { createSmtpSender } from '../../../services/notifications/channels/smtp.ts'
import { startFakeSmtp } from '../../fakes/smtp.ts'
import { byKey, email, senderAndFake, type Teardown } from './channel-fixtures.ts'

async function setup (test: Teardown, opts: { url?: (url: string) => string } = {}) {
  return await senderAndFake(test, startFakeSmtp, async (fake) =>
    await createSmtpSender({ url: opts.url?.(fake.url) ?? fake.url, from: 'Health Competition <no-reply@example.com>', timeoutMs: 5000 }))
}

t.test('a batch goes over a small pool of connections; providerId is the Message-ID', async (t) => {
  const { fake, sender } = await setup(t)
  t.equal(sender.provider, 'smtp')
  const results = await sender.send(Array.from({ length: 20 }, (_, i) => email(i)))
  t.ok(results.every((r) => r.outcome === 'sent'))
  t.equal(fake.received.length, 20)
  t.ok(fake.connections <= 3, `connections reused (${fake.connections} for 20 messages)`)
  const mail = fake.received.find((m) => m.to[0] === 'user4@example.com')
  t.same(mail, { messageId: mail?.messageId, from: 'no-reply@example.com', to: ['user4@example.com'], subject: 'Subject 4', text: 'Text 4', html: '<p>Html 4</p>' })
  t.equal((results[4]?.outcome === 'sent' && results[4].providerId), mail?.messageId)
})

t.test('reply codes: 4xx retryable, 5xx permanent', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failAddress('user1@example.com', 'temporary')
  fake.failAddress('user2@example.com', 'permanent')
  const results = byKey(await sender.send([email(0), email(1), email(2)]))
  t.match(results.get('k0'), { outcome: 'sent' })
  t.same(results.get('k1'), { key: 'k1', outcome: 'failed', reason: 'smtp_451', retryable: true })
  t.same(results.get('k2'), { key: 'k2', outcome: 'failed', reason: 'smtp_550', retryable: false })
  t.same(fake.received.map((m) => m.to), [['user0@example.com']])
})

t.test('refused credentials (535) are ours to fix: retryable', async (t) => {
  const { fake, sender } = await setup(t, { url: (url) => url.replace(':secret-password@', ':wrong@') })
  t.same(await sender.send([email(1)]), [{ key: 'k1', outcome: 'failed', reason: 'smtp_535', retryable: true }])
  t.equal(fake.received.length, 0)
})

t.test('an unreachable SMTP server throws the batch back', async (t) => {
  const { fake, sender } = await setup(t)
  await fake.close()
  await t.rejects(sender.send([email(1), email(2)]), { code: /^E(CONNECTION|SOCKET)$/ })
})
