// The FCM sender against the local FCM fake: google-auth-library's real JWT grant, one request
// per message over kept-alive connections, and every documented error kind mapped.
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { createFcmSender } from '../../../services/notifications/channels/fcm.ts'
import type { OutgoingPush } from '../../../services/notifications/channels/types.ts'
import { noAnswerReason } from '../../../services/notifications/channels/send-each.ts'
import { startFakeFcm } from '../../fakes/fcm.ts'
import type { FakeFcm } from '../../fakes/fcm.ts'
import { byKey, push as message, senderAndFake, type Teardown } from './channel-fixtures.ts'

const push = (n: number, overrides: Partial<OutgoingPush> = {}) => message(n, `token-${n}`, overrides)
async function setup (test: Teardown, opts: { concurrency?: number, privateKey?: string, timeoutMs?: number } = {}) {
  return await senderAndFake(test, startFakeFcm, async (fake) => await createFcmSender({
    projectId: fake.projectId,
    clientEmail: fake.clientEmail,
    privateKey: opts.privateKey ?? fake.privateKey,
    apiUrl: fake.url,
    tokenUrl: fake.tokenUrl,
    concurrency: opts.concurrency,
    timeoutMs: opts.timeoutMs ?? 5000
  }))
}

t.test('a full batch goes one request per message, at most `concurrency` at once, over kept-alive connections', async (t) => {
  const { fake, sender } = await setup(t, { concurrency: 50 })
  t.equal(sender.provider, 'fcm')
  t.equal(sender.maxBatch, 500)
  fake.setResponseDelay(20)
  fake.holdFirstAnswersUntil(50)
  const pushes = Array.from({ length: sender.maxBatch }, (_, i) => push(i))
  const results = await sender.send(pushes)

  t.equal(results.length, 500)
  t.ok(results.every((result) => result.outcome === 'sent'), 'every message sent')
  t.equal(fake.sent.length, 500)
  t.equal(fake.maxConcurrent, 50, 'fifty requests in flight at most, and the limit is used')
  t.ok(fake.connections <= 51, `connections reused (${fake.connections} for 500 requests and the token)`)
  t.equal(fake.tokensIssued, 1, 'one access token for the batch')
  const names = new Map(fake.sent.map((delivery) => [delivery.token, delivery.name]))
  t.same(results.map((result) => result.outcome === 'sent' && result.providerId), pushes.map((p) => names.get(p.token)),
    'providerId is the message name FCM answered')
  t.match(results[0], { outcome: 'sent', providerId: /^projects\/fake-project\/messages\/0:\d+%[0-9a-f]+$/ })

  await sender.send([push(900)])
  t.equal(fake.tokensIssued, 1, 'the token is cached between batches')
})

t.test('the message carries title, body, data and the priority as Android and APNs spell it', async (t) => {
  const { fake, sender } = await setup(t)
  await sender.send([
    push(1, { priority: 'high', data: { type: 'deposit', amount: '500' } }),
    push(2, { priority: 'normal' })
  ])
  const [high, normal] = [...fake.sent].sort((a, b) => a.token.localeCompare(b.token))
  t.same(high, { name: high?.name, token: 'token-1', title: 'Title 1', body: 'Body 1', data: { type: 'deposit', amount: '500' }, androidPriority: 'HIGH', apnsPriority: '10' })
  t.match(normal, { token: 'token-2', androidPriority: 'NORMAL', apnsPriority: '5' })
})

t.test('each FCM error kind maps to what the notification service does next', async (t) => {
  const { fake, sender } = await setup(t)
  fake.failToken('token-1', 'unregistered')
  fake.failToken('token-2', 'invalid-token')
  fake.failToken('token-3', 'quota-exceeded', { retryAfterSeconds: 17 })
  fake.failToken('token-4', 'unavailable', { retryAfterSeconds: 5 })
  fake.failToken('token-5', 'internal')
  fake.failToken('token-6', 'sender-id-mismatch')
  const results = byKey(await sender.send([
    push(0), push(1), push(2), push(3), push(4), push(5), push(6),
    push(7, { body: 'x'.repeat(5000) })
  ]))

  t.match(results.get('k0'), { outcome: 'sent' })
  t.same(results.get('k1'), { key: 'k1', outcome: 'failed', reason: 'UNREGISTERED', retryable: false, unregistered: true })
  t.same(results.get('k2'), { key: 'k2', outcome: 'failed', reason: 'INVALID_ARGUMENT', retryable: false, unregistered: true },
    'a malformed token is removed too')
  t.same(results.get('k3'), { key: 'k3', outcome: 'failed', reason: 'QUOTA_EXCEEDED', retryable: true, retryAfterSeconds: 17 })
  t.same(results.get('k4'), { key: 'k4', outcome: 'failed', reason: 'UNAVAILABLE', retryable: true, retryAfterSeconds: 5 })
  t.same(results.get('k5'), { key: 'k5', outcome: 'failed', reason: 'INTERNAL', retryable: true })
  t.same(results.get('k6'), { key: 'k6', outcome: 'failed', reason: 'SENDER_ID_MISMATCH', retryable: true },
    'a credentials problem: fixed on our side, then the message can go')
  t.same(results.get('k7'), { key: 'k7', outcome: 'failed', reason: 'INVALID_ARGUMENT', retryable: false },
    'a payload FCM refuses is permanent, and the token is kept')
  t.equal(fake.sent.length, 1)
})

t.test('a revoked access token is a retryable credentials failure', async (t) => {
  const { fake, sender } = await setup(t)
  await sender.send([push(1)])
  fake.revokeAccessTokens()
  t.same(await sender.send([push(2)]), [{ key: 'k2', outcome: 'failed', reason: 'UNAUTHENTICATED', retryable: true }])
})

t.test('a key the token endpoint refuses fails the whole batch', async (t) => {
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  const { fake, sender } = await setup(t, { privateKey: stranger })
  await t.rejects(sender.send([push(1), push(2)]), /invalid_grant: Invalid JWT Signature/)
  t.equal(fake.tokensIssued, 0)
  t.equal(fake.sendRequests, 0, 'nothing sent without a token')
})

t.test('the fake token endpoint checks the grant as Google does', async (t) => {
  const fake: FakeFcm = await startFakeFcm()
  t.teardown(() => fake.close())
  const post = async (body: string) => {
    const res = await fetch(fake.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body })
    return { status: res.status, body: await res.json() }
  }
  t.same(await post('grant_type=password'), { status: 400, body: { error: 'unsupported_grant_type', error_description: 'Invalid grant_type: password' } })
  const forged = ['{"alg":"RS256"}', JSON.stringify({ iss: fake.clientEmail })].map((part) => Buffer.from(part).toString('base64url')).join('.') + '.c2ln'
  t.match(await post(`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=${forged}`), { status: 400, body: { error: 'invalid_grant' } })
  const unauthorised = await fetch(`${fake.url}/v1/projects/${fake.projectId}/messages:send`, { method: 'POST', body: '{}' })
  t.equal(unauthorised.status, 401)
  t.match(await unauthorised.json(), { error: { code: 401, status: 'UNAUTHENTICATED' } })
})

t.test('an unreachable FCM throws the batch back', async (t) => {
  const { fake, sender } = await setup(t)
  await sender.send([push(1)])
  await fake.close()
  // A kept-alive socket finds the server gone (reset) or a new one is refused.
  const err = await sender.send([push(2), push(3)]).then(() => null, (e: unknown) => e as { code?: string })
  t.match(err?.code, /^ECONN(REFUSED|RESET)$/, 'the batch is thrown back')
})

t.test('an FCM too slow to answer within the timeout: the batch is thrown back', async (t) => {
  const { fake, sender } = await setup(t, { timeoutMs: 200 })
  await sender.send([push(1)])
  fake.setResponseDelay(1000)
  const err = await sender.send([push(2), push(3)]).then(() => null, (e: unknown) => e)
  t.match(err, { message: /aborted due to timeout/ })
  t.match(noAnswerReason(err), /timeout/i, 'a single message timing out beside answered ones would be retried, named as a timeout')
})
