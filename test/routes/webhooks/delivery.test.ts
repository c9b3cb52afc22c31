import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { createCompetition, credit, hoursFromNow, signIn, type Person } from '../competitions/fixtures.ts'
import { DOMAIN_EVENT_TYPES } from '../../../schemas/domain-events.ts'
import { startReceiver, until, type Answer } from './receiver.ts'

// The promise to integrators: every event of a competition reaches their endpoint, signed, in
// effect exactly once, however the endpoint misbehaves for a while (errors, silence, resets).

const TIMEOUT_MS = 400
const FAILING_MS = 2500

async function call (app: FastifyInstance, who: Person, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object): Promise<any> {
  const res = await app.inject({ method, url, headers: { ...who.headers, 'idempotency-key': randomUUID() }, ...(payload === undefined ? {} : { payload }) })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

test('a whole competition reaches a flaky endpoint: every event, signed, once in effect', async (t) => {
  const app = await build(t, { config: { WEBHOOK_ALLOW_PRIVATE_TARGETS: true, WEBHOOK_TIMEOUT_MS: TIMEOUT_MS, RATE_LIMIT_MAX: 100000 } })
  const receiver = await startReceiver(t)
  const admin = await signIn(app, { admin: true })
  const endpoint = await call(app, admin, 'POST', '/api/v1/webhooks', { url: receiver.url, eventTypes: DOMAIN_EVENT_TYPES, description: 'flaky partner' })
  receiver.secret = endpoint.secret

  // Down for a while, in each way in turn: error statuses, no answer, a reset connection.
  const failures: Answer[] = [500, 503, 'hang', 'reset']
  const failingUntil = Date.now() + FAILING_MS
  let failed = 0
  receiver.answer = () => Date.now() < failingUntil || failed < failures.length ? failures[failed++ % failures.length]! : 200

  const [ada, bo] = [await signIn(app), await signIn(app)]
  for (const p of [ada, bo]) await credit(app, admin, p.id, 1000)
  const race = await createCompetition(app, admin, {
    name: 'Webhook race', metric: 'custom', entryFee: 100, startsAt: new Date(Date.now() + 1500).toISOString(), endsAt: hoursFromNow(1)
  })
  for (const p of [ada, bo]) await call(app, p, 'POST', `/api/v1/competitions/${race.id}/join`, {})
  // It starts on time, by its lifecycle job.
  await until('the race to start', async () => (await call(app, admin, 'GET', `/api/v1/competitions/${race.id}`)).status === 'active')
  for (const [p, value] of [[ada, 500], [bo, 300], [ada, 700]] as const) {
    await call(app, admin, 'POST', '/api/v1/leaderboard/update', { competitionId: race.id, userId: p.id, operation: 'set', value })
  }
  await call(app, admin, 'POST', `/api/v1/competitions/${race.id}/end-early`)
  t.equal((await call(app, admin, 'POST', `/api/v1/competitions/${race.id}/end-early`)).status, 'final')
  t.equal((await call(app, admin, 'POST', `/api/v1/prizes/distribute/${race.id}`)).status, 'paid')
  // A second competition for the other ways a competition goes: it is edited, a user leaves, it is cancelled.
  const called = await createCompetition(app, admin, { name: 'Called off', entryFee: 100 })
  await call(app, admin, 'PATCH', `/api/v1/competitions/${called.id}`, { description: 'Postponed' })
  await call(app, ada, 'POST', `/api/v1/competitions/${called.id}/join`, {})
  await call(app, ada, 'POST', `/api/v1/competitions/${called.id}/leave`, {})
  await call(app, admin, 'POST', `/api/v1/competitions/${called.id}/cancel`)

  // Every event of this test's database: the two competitions' and the wallet credits'.
  const { rows: events } = await app.pg.query<{ id: string, type: string, competition_id: string | null }>(
    'SELECT id, type, competition_id FROM domain_events ORDER BY seq')
  // Every type about a competition (anti-cheat flags, syncs, payments and deletions are about a user's data).
  const competitionTypes = DOMAIN_EVENT_TYPES.filter((type) => !/^(flag|deposit|withdrawal|user)\./.test(type) && type !== 'sync.completed')
  const ofCompetitions = events.filter((e) => e.competition_id === race.id || e.competition_id === called.id)
  t.same(new Set(ofCompetitions.map((e) => e.type)), new Set(competitionTypes), 'the competitions raised every type of event about them')
  const accepted = () => [...receiver.accepted.values()].map((r) => r.body!.data.eventId)
  await until('every event to be taken in', () => events.every((e) => accepted().includes(e.id)), 45_000)

  t.ok(receiver.requests.length > 0 && receiver.requests.every((r) => r.verified), `all ${receiver.requests.length} requests carried a valid signature`)
  for (const way of failures) t.ok(receiver.requests.some((r) => r.answer === way), `the endpoint failed with ${way}`)
  t.same(accepted().sort(), events.map((e) => e.id).sort(), 'each event taken in exactly once, none missing')
  const idsByEvent = new Map<string, Set<string>>()
  for (const r of receiver.requests) {
    const ids = idsByEvent.get(r.body!.data.eventId) ?? new Set()
    idsByEvent.set(r.body!.data.eventId, ids.add(r.webhookId))
  }
  t.ok([...idsByEvent.values()].every((ids) => ids.size === 1), 'every attempt for one event carries the same webhook-id')
  for (const r of receiver.accepted.values()) {
    const type = events.find((e) => e.id === r.body!.data.eventId)!.type
    t.equal(r.body!.type, type, `${type}: the envelope names its type`)
  }

  // The delivery log tells the same story, retries included.
  await until('the log to settle', async () => (await app.pg.query('SELECT 1 FROM webhook_deliveries WHERE status <> \'delivered\'')).rowCount === 0)
  const log = await call(app, admin, 'GET', `/api/v1/webhooks/${endpoint.id}/deliveries?limit=100`)
  t.equal(log.items.length, events.length, 'one delivery per event')
  t.ok(log.items.every((d: any) => d.status === 'delivered' && d.lastStatusCode === 200 && d.lastError === null))
  const retried = log.items.filter((d: any) => d.attempts > 1)
  t.ok(retried.length > 0, `${retried.length} deliveries needed retries`)
  const attempts = log.items.reduce((sum: number, d: any) => sum + d.attempts, 0)
  t.equal(attempts, receiver.requests.length, 'every attempt is counted on its delivery')
  t.equal((await call(app, admin, 'GET', `/api/v1/webhooks/${endpoint.id}`)).enabled, true, 'the endpoint stays enabled')
})
