import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import type { DomainEventType } from '../../../schemas/domain-events.ts'
import { signIn, type Person } from '../../routes/competitions/fixtures.ts'
import { startReceiver } from '../../routes/webhooks/receiver.ts'
import { createTransactor } from '../../../services/shared/transactions.ts'
import { createDeliveryAttempts } from '../../../services/webhooks/delivery-attempts.ts'
import { DELIVER_QUEUE } from '../../../services/webhooks/deliveries.ts'
import { createWebhookSender } from '../../../services/webhooks/sender.ts'
import { webhookMetrics } from '../../../services/shared/metrics.ts'
import promClient from '@prometheus-io/client'

// Deliveries driven by hand: jobs are enqueued but no worker runs them (JOB_WORKERS=false), and
// the test calls the job handler itself with the attempt it wants (a first try, the last retry).

const FIRST = { id: 'job', retryCount: 0, retryLimit: 12 }
const LAST = { id: 'job', retryCount: 12, retryLimit: 12 }

async function setUp (t: Parameters<typeof build>[0], config: Record<string, unknown> = {}) {
  const app = await build(t, { config: { JOB_WORKERS: false, WEBHOOK_ALLOW_PRIVATE_TARGETS: true, RATE_LIMIT_MAX: 100000, ...config } })
  const admin = await signIn(app, { admin: true })
  const receiver = await startReceiver(t)
  const metrics = webhookMetrics(new promClient.Registry())
  const deliver = createDeliveryAttempts({
    pool: app.pg.pool,
    transact: createTransactor(app.pg.pool),
    send: createWebhookSender({ timeoutMs: 1000, allowPrivate: app.config.WEBHOOK_ALLOW_PRIVATE_TARGETS }),
    metrics
  })
  return { app, admin, receiver, deliver, metrics }
}

async function register (app: FastifyInstance, admin: Person, url: string, eventTypes: string[]): Promise<{ id: string, secret: string }> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: admin.headers, payload: { url, eventTypes } })
  if (res.statusCode !== 201) throw new Error(`register failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

async function recordEvent (app: FastifyInstance, type: DomainEventType): Promise<{ id: string, type: DomainEventType }> {
  const { rows } = await app.pg.query('INSERT INTO domain_events (type, payload) VALUES ($1, $2) RETURNING id, type', [type, { competitionId: '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f' }])
  return rows[0]
}

async function deliveriesOf (app: FastifyInstance, endpointId: string) {
  const { rows } = await app.pg.query('SELECT id, status, attempts, last_status_code, last_error FROM webhook_deliveries WHERE endpoint_id = $1 ORDER BY created_at', [endpointId])
  return rows
}

async function jobsFor (app: FastifyInstance, deliveryId: string): Promise<number> {
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND data->>\'deliveryId\' = $2', [DELIVER_QUEUE, deliveryId])
  return rows[0].n
}

test('fan-out: one delivery and one job per subscribed, enabled endpoint, however often it runs', async (t) => {
  const { app, admin, receiver } = await setUp(t)
  const finals = await register(app, admin, receiver.url, ['competition.final'])
  const everything = await register(app, admin, receiver.url, ['competition.final', 'prize.paid'])
  const off = await register(app, admin, receiver.url, ['competition.final'])
  await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${off.id}`, headers: admin.headers, payload: { enabled: false } })

  const final = await recordEvent(app, 'competition.final')
  t.equal(await app.webhooks.deliveries.fanOut(final), 2)
  t.equal(await app.webhooks.deliveries.fanOut(final), 0, 'a second run makes nothing new')
  t.equal(await app.webhooks.deliveries.fanOut(await recordEvent(app, 'prize.paid')), 1)
  t.equal((await deliveriesOf(app, finals.id)).length, 1)
  t.equal((await deliveriesOf(app, everything.id)).length, 2)
  t.equal((await deliveriesOf(app, off.id)).length, 0, 'a disabled endpoint gets nothing')
  for (const d of [...await deliveriesOf(app, finals.id), ...await deliveriesOf(app, everything.id)]) t.equal(await jobsFor(app, d.id), 1, 'one job each')
})

test('the last retry fails the delivery and disables the endpoint, visibly; replay after re-enabling', async (t) => {
  const { app, admin, receiver, deliver, metrics } = await setUp(t)
  const endpoint = await register(app, admin, receiver.url, ['competition.final'])
  receiver.secret = endpoint.secret
  receiver.answer = () => 500
  await app.webhooks.deliveries.fanOut(await recordEvent(app, 'competition.final'))
  await app.webhooks.deliveries.fanOut(await recordEvent(app, 'competition.final'))
  const [first, second] = await deliveriesOf(app, endpoint.id)

  await t.rejects(deliver({ deliveryId: first.id }, FIRST), /attempt 1 failed: HTTP 500: receiver is down/, 'thrown, so the queue retries')
  t.match((await deliveriesOf(app, endpoint.id))[0], { status: 'pending', attempts: 1, last_status_code: 500, last_error: 'HTTP 500: receiver is down' })
  await deliver({ deliveryId: first.id }, LAST)
  t.match((await deliveriesOf(app, endpoint.id))[0], { status: 'failed', attempts: 2 })

  const shown = (await app.inject({ url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers })).json()
  t.equal(shown.enabled, false)
  t.match(shown.disabledReason, new RegExp(`^delivery ${first.id} failed 2 times since \\d{4}-\\d\\d-\\d\\dT.*Z: HTTP 500: receiver is down$`))
  t.ok(shown.disabledAt)
  const outcomes = Object.fromEntries((await metrics.attempts.get()).values.map((v) => [v.labels.outcome, v.value]))
  t.same(outcomes, { failed: 1, given_up: 1 }, 'attempts counted by outcome')
  t.equal((await metrics.disabled.get()).values[0]?.value, 1, 'one endpoint disabled')

  // Its other pending delivery is not sent, and new events make none.
  const before = receiver.requests.length
  await deliver({ deliveryId: second.id }, FIRST)
  t.equal(receiver.requests.length, before, 'nothing sent to a disabled endpoint')
  t.match((await deliveriesOf(app, endpoint.id))[1], { status: 'failed', attempts: 0, last_error: /^not sent: the endpoint is disabled \(delivery .* failed 2 times/ })
  t.equal(await app.webhooks.deliveries.fanOut(await recordEvent(app, 'competition.final')), 0)

  const refused = await app.inject({ method: 'POST', url: `/api/v1/webhook-deliveries/${first.id}/replay`, headers: admin.headers })
  t.match({ status: refused.statusCode, body: refused.json() }, { status: 409, body: { code: 'CONFLICT', message: /re-enable/ } })

  // Fixed on the integrator's side, re-enabled, replayed: same id, attempts counting on.
  receiver.answer = () => 200
  await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers, payload: { enabled: true } })
  const replayed = await app.inject({ method: 'POST', url: `/api/v1/webhook-deliveries/${first.id}/replay`, headers: admin.headers })
  t.equal(replayed.statusCode, 202)
  t.match(replayed.json(), { id: first.id, endpointId: endpoint.id, eventType: 'competition.final', status: 'pending', attempts: 2 })
  t.equal(await jobsFor(app, first.id), 2, 'a new job for the same delivery')
  await deliver({ deliveryId: first.id }, FIRST)
  const sent = receiver.requests.filter((r) => r.webhookId === first.id)
  t.equal(sent.length, 3)
  t.ok(sent.every((r) => r.verified), 'every attempt signed with the endpoint secret')
  t.same(new Set(sent.map((r) => JSON.stringify(r.body))).size, 1, 'the same body every time')

  const log = (await app.inject({ url: `/api/v1/webhooks/${endpoint.id}/deliveries?limit=1`, headers: admin.headers })).json()
  t.equal(log.items.length, 1)
  t.ok(log.nextCursor)
  const older = (await app.inject({ url: `/api/v1/webhooks/${endpoint.id}/deliveries?cursor=${log.nextCursor}`, headers: admin.headers })).json()
  t.match([...log.items, ...older.items], [
    { id: second.id, status: 'failed', attempts: 0, lastStatusCode: null },
    { id: first.id, status: 'delivered', attempts: 3, lastStatusCode: 200, lastError: null, deliveredAt: String, eventType: 'competition.final' }
  ], 'newest first, with what happened')
  t.equal(older.nextCursor, null)
  await deliver({ deliveryId: first.id }, FIRST)
  t.equal(receiver.requests.filter((r) => r.webhookId === first.id).length, 3, 'a job run again after delivery sends nothing')
})

test('at send time, a name that now resolves to a private address is refused without connecting', async (t) => {
  const { app, admin, receiver, deliver } = await setUp(t, { WEBHOOK_ALLOW_PRIVATE_TARGETS: false })
  const port = new URL(receiver.url).port
  // Registered while its name pointed somewhere public (here: a literal public address),
  // then the name was repointed at the service's own network.
  const endpoint = await register(app, admin, 'https://93.184.215.14/hooks', ['competition.final'])
  for (const url of [`https://localhost:${port}/hooks`, `https://127.0.0.1:${port}/hooks`, `https://[::ffff:127.0.0.1]:${port}/hooks`]) {
    await app.pg.query('UPDATE webhook_endpoints SET url = $2 WHERE id = $1', [endpoint.id, url])
    const event = await recordEvent(app, 'competition.final')
    await app.webhooks.deliveries.fanOut(event)
    const { rows } = await app.pg.query('SELECT id FROM webhook_deliveries WHERE event_id = $1', [event.id])
    await t.rejects(deliver({ deliveryId: rows[0].id }, FIRST), /refused to connect: .*loopback address/, url)
    const [delivery] = (await deliveriesOf(app, endpoint.id)).filter((d) => d.id === rows[0].id)
    t.match(delivery, { status: 'pending', attempts: 1, last_status_code: null, last_error: /^refused to connect/ })
  }
  t.equal(receiver.connections, 0, 'no connection was ever opened')

  // The check inside the connection itself: whatever the name resolves to when it connects.
  const rebound = createWebhookSender({ timeoutMs: 1000, allowPrivate: false, resolve: async () => [{ address: '127.0.0.1', family: 4 }] })
  await t.rejects(rebound(`https://rebind.example:${port}/hooks`, {}, '{}'), /refused to connect: rebind\.example resolves to 127\.0\.0\.1, a loopback address/)
  t.equal(receiver.connections, 0)
})

test('the sender takes no redirect and reads little of a response', async (t) => {
  const receiver = await startReceiver(t)
  const send = createWebhookSender({ timeoutMs: 300, allowPrivate: true, maxResponseBytes: 8 })
  receiver.answer = () => 302
  t.equal((await send(receiver.url, {}, '{}')).statusCode, 302, 'a redirect is an answer, not followed')
  receiver.answer = () => 'hang'
  await t.rejects(send(receiver.url, {}, '{}'), /timed out after 300 ms/)
  receiver.answer = () => 'reset'
  await t.rejects(send(receiver.url, {}, '{}'), /socket hang up|ECONNRESET/)
  receiver.answer = () => 500
  t.same(await send(receiver.url, {}, '{}'), { statusCode: 500, body: 'receiver' }, 'the body cut at the limit')
})
