// The Twilio sender against the local Messages API fake, through the real `twilio` SDK pointed at
// it by the `api` domain's baseUrl: basic auth, form bodies, Twilio's error codes mapped.
import t from 'tap'
import { createTwilioSender } from '../../../services/notifications/channels/twilio.ts'
import type { TwilioSenderOptions } from '../../../services/notifications/channels/twilio.ts'
import type { OutgoingSms } from '../../../services/notifications/channels/types.ts'
import { startFakeTwilio } from '../../fakes/twilio.ts'
import { byKey, senderAndFake, type Teardown } from './channel-fixtures.ts'

async function setup (test: Teardown, overrides: Partial<TwilioSenderOptions> = {}) {
  return await senderAndFake(test, startFakeTwilio, async (fake) => await createTwilioSender({
    accountSid: fake.accountSid, authToken: fake.authToken, from: '+15005550006', apiUrl: fake.url, timeoutMs: 5000, ...overrides
  }))
}

function sms (n: number, to = `+1415555${String(n).padStart(4, '0')}`): OutgoingSms {
  return { key: `k${n}`, to, body: `Message ${n}` }
}

t.test('each SMS is one Messages request; providerId is the message sid', async (t) => {
  const { fake, sender } = await setup(t)
  t.equal(sender.provider, 'twilio')
  const messages = Array.from({ length: 12 }, (_, i) => sms(i))
  const results = await sender.send(messages)
  t.equal(fake.sent.length, 12)
  const sids = new Map(fake.sent.map((m) => [m.to, m.sid]))
  t.same(results.map((r) => r.outcome === 'sent' && r.providerId), messages.map((m) => sids.get(m.to)))
  t.match(results[0], { outcome: 'sent', providerId: /^SM[0-9a-f]{32}$/ })
  t.same(fake.sent.find((m) => m.to === '+14155550003'), { sid: sids.get('+14155550003'), to: '+14155550003', from: '+15005550006', messagingServiceSid: null, body: 'Message 3' })
})

t.test('a messaging service instead of a number', async (t) => {
  const { fake, sender } = await setup(t, { from: undefined, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef' })
  t.match(await sender.send([sms(1)]), [{ outcome: 'sent' }])
  t.match(fake.sent[0], { from: null, messagingServiceSid: 'MG0123456789abcdef0123456789abcdef' })
  await t.rejects(createTwilioSender({ accountSid: fake.accountSid, authToken: 'x', timeoutMs: 1000 }), /exactly one of/)
})

t.test('Twilio\'s error codes: invalid, unsubscribed and landline numbers permanent; 429 and 5xx retryable', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failNumber('+14155550001', 'invalid-number')
  fake.failNumber('+14155550002', 'unsubscribed')
  fake.failNumber('+14155550003', 'not-mobile')
  fake.failNumber('+14155550004', 'rate-limited')
  fake.failNumber('+14155550005', 'server-error')
  const results = byKey(await sender.send([sms(0), sms(1), sms(2), sms(3), sms(4), sms(5), sms(6, '555-0100')]))
  t.match(results.get('k0'), { outcome: 'sent' })
  t.same(results.get('k1'), { key: 'k1', outcome: 'failed', reason: '21211', retryable: false })
  t.same(results.get('k2'), { key: 'k2', outcome: 'failed', reason: '21610', retryable: false })
  t.same(results.get('k3'), { key: 'k3', outcome: 'failed', reason: '21614', retryable: false })
  t.same(results.get('k4'), { key: 'k4', outcome: 'failed', reason: '20429', retryable: true })
  t.same(results.get('k5'), { key: 'k5', outcome: 'failed', reason: '20500', retryable: true })
  t.same(results.get('k6'), { key: 'k6', outcome: 'failed', reason: '21211', retryable: false }, 'not E.164')
  t.equal(fake.sent.length, 1)
})

t.test('a wrong auth token (20003) is a credentials problem: retryable', async (t) => {
  const { fake, sender } = await setup(t, { authToken: 'wrong' })
  t.same(await sender.send([sms(1)]), [{ key: 'k1', outcome: 'failed', reason: '20003', retryable: true }])
  t.equal(fake.sent.length, 0)
})

t.test('an unreachable Twilio throws the batch back', async (t) => {
  const { fake, sender } = await setup(t)
  await fake.close()
  await t.rejects(sender.send([sms(1), sms(2)]), { code: 'ECONNREFUSED' })
})
