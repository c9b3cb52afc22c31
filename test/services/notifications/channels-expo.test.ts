// The Expo sender against the local Expo fake, through the real expo-server-sdk: chunks of 100,
// tickets and receipts, request-level refusals, and a host given per sender.
import t from 'tap'
import { createExpoSender } from '../../../services/notifications/channels/expo.ts'
import type { OutgoingPush } from '../../../services/notifications/channels/types.ts'
import { startFakeExpo } from '../../fakes/expo.ts'
import { byKey, push as message, senderAndFake, type Teardown } from './channel-fixtures.ts'

async function setup (test: Teardown) {
  return await senderAndFake(test, startFakeExpo, async (fake) => await createExpoSender({ apiUrl: fake.url, timeoutMs: 5000 }))
}

const token = (n: number) => `ExponentPushToken[device-${n}]`
const push = (n: number, overrides: Partial<OutgoingPush> = {}) => message(n, token(n), overrides)

t.test('150 messages go in two requests of 100 and 50; providerId is the ticket id', async (t) => {
  const { fake, sender } = await setup(t)
  t.equal(sender.provider, 'expo')
  const pushes = Array.from({ length: 150 }, (_, i) => push(i, { priority: i === 0 ? 'high' : 'normal' }))
  const results = await sender.send(pushes)
  t.equal(fake.sendRequests, 2)
  t.same([...fake.requestSizes].sort((a, b) => b - a), [100, 50])
  t.equal(results.length, 150)
  const tickets = new Map(fake.sent.map((p) => [p.to, p.ticketId]))
  t.same(results.map((r) => r.outcome === 'sent' && r.providerId), pushes.map((p) => tickets.get(p.token)))
  const first = fake.sent.find((p) => p.to === token(0))
  t.same(first, { ticketId: first?.ticketId, to: token(0), title: 'Title 0', body: 'Body 0', data: { n: '0' }, priority: 'high' })
  t.equal(fake.sent.find((p) => p.to === token(1))?.priority, 'normal')
})

t.test('ticket errors map to unregistered, retryable or permanent', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failTicket(token(1), 'DeviceNotRegistered')
  fake.failTicket(token(2), 'MessageRateExceeded')
  fake.failTicket(token(3), 'MessageTooBig')
  fake.failTicket(token(4), 'InvalidCredentials')
  fake.failTicket(token(5), 'MismatchSenderId')
  const results = byKey(await sender.send([push(0), push(1), push(2), push(3), push(4), push(5), push(6, { token: 'fcm-token-not-expo' })]))
  t.match(results.get('k0'), { outcome: 'sent', providerId: /^[0-9a-f-]{36}$/ })
  t.same(results.get('k1'), { key: 'k1', outcome: 'failed', reason: 'DeviceNotRegistered', retryable: false, unregistered: true })
  t.same(results.get('k2'), { key: 'k2', outcome: 'failed', reason: 'MessageRateExceeded', retryable: true })
  t.same(results.get('k3'), { key: 'k3', outcome: 'failed', reason: 'MessageTooBig', retryable: false })
  t.same(results.get('k4'), { key: 'k4', outcome: 'failed', reason: 'InvalidCredentials', retryable: true })
  t.same(results.get('k5'), { key: 'k5', outcome: 'failed', reason: 'MismatchSenderId', retryable: true })
  t.same(results.get('k6'), { key: 'k6', outcome: 'failed', reason: 'InvalidExpoPushToken', retryable: false, unregistered: true },
    'a token that is not Expo\'s is refused before it could fail the whole request')
  t.equal(fake.requestSizes.length, 1)
})

t.test('receipts: DeviceNotRegistered found later, ok ones, and ids not ready yet left out', async (t) => {
  const { fake, sender } = await setup(t)
  fake.unregisterLater(token(2))
  const results = await sender.send([push(1), push(2)])
  const ids = results.map((r) => r.outcome === 'sent' ? r.providerId ?? '' : '')
  const receipts = await sender.checkReceipts([...ids, 'ffffffff-0000-4000-8000-000000000000'])
  t.same(receipts.sort((a, b) => ids.indexOf(a.id) - ids.indexOf(b.id)), [
    { id: ids[0], status: 'ok', unregistered: false },
    { id: ids[1], status: 'error', unregistered: true, reason: 'DeviceNotRegistered' }
  ])
  t.equal(fake.receiptRequests, 1)
  t.same(await sender.checkReceipts([]), [], 'nothing asked, no request')
  t.equal(fake.receiptRequests, 1)
})

t.test('a request refused whole: 5xx retryable for every message in it', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failRequests('server-error', 1)
  t.same(await sender.send([push(1), push(2)]), [
    { key: 'k1', outcome: 'failed', reason: 'INTERNAL_SERVER_ERROR', retryable: true },
    { key: 'k2', outcome: 'failed', reason: 'INTERNAL_SERVER_ERROR', retryable: true }
  ])
  t.match(await sender.send([push(3)]), [{ outcome: 'sent' }], 'the next request goes')
})

t.test('a 429 the SDK\'s own two retries do not outlast comes back retryable', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failRequests('rate-limited', 3)
  t.same(await sender.send([push(1)]), [{ key: 'k1', outcome: 'failed', reason: 'TOO_MANY_REQUESTS', retryable: true }])
  t.equal(fake.sendRequests, 3, 'the SDK tried three times')
})

t.test('a request that gets no answer beside answered ones: only its messages come back, retryable', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failRequests('connection-reset', 1)
  const results = await sender.send(Array.from({ length: 150 }, (_, i) => push(i)))
  const unanswered = results.filter((r) => r.outcome === 'failed')
  t.ok(unanswered.length === 100 || unanswered.length === 50, `one request's messages (${unanswered.length})`)
  t.ok(unanswered.every((r) => r.outcome === 'failed' && r.retryable && r.reason === 'UND_ERR_SOCKET'), 'retryable, with the socket error')
  t.equal(fake.sent.length, 150 - unanswered.length, 'the answered request\'s messages went, and are not sent again')
  t.equal(results.length, 150)
})

t.test('two senders, two hosts: the host is per sender, not per process', async (t) => {
  const one = await setup(t)
  const two = await setup(t)
  await one.sender.send([push(1)])
  await two.sender.send([push(2), push(3)])
  t.same([one.fake.sent.length, two.fake.sent.length], [1, 2])
})

t.test('an unreachable Expo throws the batch back', async (t) => {
  const { fake, sender } = await setup(t)
  await fake.close()
  await t.rejects(sender.send([push(1), push(2)]), /fetch failed/)
  await t.rejects(sender.checkReceipts(['x']), /fetch failed/)
})
