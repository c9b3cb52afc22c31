import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build } from '../../helper.ts'
import { addDays, zoneDay } from '../../../services/shared/time-zones.ts'
import { FITNESS_TEST_CONFIG, dailyTotals, person, sync, type Person } from './fixtures.ts'
import { startGoogleFitFake, type GoogleFitFake } from './google-fit-fake.ts'

const TOKEN = 'ya29.fake-access-token'

// Short timings so retries, timeouts and the circuit breaker play out in well under a second.
async function setUp (t: { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }): Promise<{ app: FastifyInstance, fake: GoogleFitFake, alice: Person }> {
  const fake = await startGoogleFitFake({ token: TOKEN })
  t.teardown(fake.close)
  const app = await build(t, {
    config: {
      ...FITNESS_TEST_CONFIG,
      GOOGLE_FIT_BASE_URL: fake.baseUrl,
      FITNESS_PROVIDER_TIMEOUT_MS: 300,
      FITNESS_PROVIDER_RETRIES: 2,
      FITNESS_PROVIDER_BACKOFF_MS: 20,
      FITNESS_PROVIDER_BACKOFF_MAX_MS: 2000,
      FITNESS_PROVIDER_BREAKER_THRESHOLD: 3,
      FITNESS_PROVIDER_BREAKER_OPEN_MS: 400
    }
  })
  return { app, fake, alice: person() }
}

async function circuitState (app: FastifyInstance): Promise<number | undefined> {
  const metric = await app.metricsRegistry.getSingleMetric('fitness_provider_circuit_state')?.get()
  return metric?.values.find((v) => v.labels.provider === 'google_fit')?.value
}

const pull = async (app: FastifyInstance, who: Person, extra: Record<string, unknown> = {}) =>
  await sync(app, who, { provider: 'google_fit', accessToken: TOKEN, ...extra })

test('pulls per-day totals from Google Fit, then only the days not yet pulled', async (t) => {
  const { app, fake, alice } = await setUp(t)
  const today = zoneDay(new Date(), 'UTC')
  fake.setDay(addDays(today, -2), { steps: 8123, distance: 6021.5, activeMinutes: 41 })
  fake.setDay(addDays(today, -1), { steps: 10456, distance: 7800.25, activeMinutes: 55 })

  const res = await pull(app, alice)
  t.equal(res.statusCode, 200, res.body)
  const body = res.json()
  t.same(body.provider, { name: 'google_fit', from: addDays(today, -6), to: today, days: 7 })
  t.equal(body.source, 'google_fit')

  const sent = fake.requests[0]!
  t.equal(sent.authorization, `Bearer ${TOKEN}`)
  t.same(sent.body.aggregateBy.map((a: { dataTypeName: string }) => a.dataTypeName), ['com.google.step_count.delta', 'com.google.distance.delta', 'com.google.active_minutes'])
  t.same(sent.body.bucketByTime, { period: { type: 'day', value: 1, timeZoneId: 'UTC' } })
  t.equal(sent.body.startTimeMillis, Date.parse(`${addDays(today, -6)}T00:00:00Z`))
  t.equal(sent.body.endTimeMillis, Date.parse(`${addDays(today, 1)}T00:00:00Z`))

  const stored = (await dailyTotals(app, alice.id)).filter((r) => r.value > 0).map((r) => [r.day, r.metric, r.value])
  t.same(stored, [
    [addDays(today, -2), 'active_minutes', 41], [addDays(today, -2), 'distance_m', 6021.5], [addDays(today, -2), 'steps', 8123],
    [addDays(today, -1), 'active_minutes', 55], [addDays(today, -1), 'distance_m', 7800.25], [addDays(today, -1), 'steps', 10456]
  ])

  // The next pull starts at the last day already stored (it may have been partial).
  fake.setDay(today, { steps: 1200 })
  const again = await pull(app, alice)
  t.same(again.json().provider, { name: 'google_fit', from: today, to: today, days: 1 })
  t.equal(again.json().unchanged, 2, 'distance and minutes of today are unchanged')
  t.equal(again.json().replaced, 1, 'today\'s steps grew')
  t.equal(fake.requests[1]!.body.startTimeMillis, Date.parse(`${today}T00:00:00Z`))

  const bad = await sync(app, alice, { provider: 'google_fit', accessToken: 'wrong' })
  t.equal(bad.statusCode, 422)
  t.match(bad.json().message, 'Google Fit rejected the access token (HTTP 401)')
})

test('a stored token is used when the request has none', async (t) => {
  const { app, fake, alice } = await setUp(t)
  const missing = await sync(app, alice, { provider: 'google_fit' })
  t.equal(missing.statusCode, 400)
  t.match(missing.json().details[0].field, 'body.accessToken')

  await app.pg.query('INSERT INTO provider_tokens (user_id, provider, access_token) VALUES ($1, \'google_fit\', $2)', [alice.id, TOKEN])
  const res = await sync(app, alice, { provider: 'google_fit' })
  t.equal(res.statusCode, 200, res.body)
  t.equal(fake.requests.at(-1)!.authorization, `Bearer ${TOKEN}`)
  const { rows } = await app.pg.query('SELECT last_synced_day::text AS day FROM provider_tokens WHERE user_id = $1', [alice.id])
  t.equal(rows[0].day, zoneDay(new Date(), 'UTC'))
})

test('a 429 with Retry-After is retried after the wait it asks for', async (t) => {
  const { app, fake, alice } = await setUp(t)
  fake.enqueue({ status: 429, headers: { 'retry-after': '1' } })
  const res = await pull(app, alice)
  t.equal(res.statusCode, 200, res.body)
  t.same(fake.requests.map((r) => r.status), [429, 200])
  t.ok(fake.requests[1]!.at - fake.requests[0]!.at >= 950, 'the retry waited for Retry-After')
})

test('a slow answer times out and is retried; a Retry-After beyond our cap is handed to the client', async (t) => {
  const { app, fake, alice } = await setUp(t)
  fake.enqueue({ status: 200, delayMs: 1500 })
  const res = await pull(app, alice)
  t.equal(res.statusCode, 200, res.body)
  t.equal(fake.requests.length, 2, 'the timed-out request was retried')

  fake.enqueue({ status: 503, headers: { 'retry-after': '120' } })
  const busy = await pull(app, alice)
  t.equal(busy.statusCode, 503)
  t.equal(busy.headers['retry-after'], '120')
  t.equal(fake.requests.length, 3, 'not retried: the provider asked for longer than we hold a request')
})

test('repeated 5xx open the circuit, calls then fail fast, and recovery closes it', async (t) => {
  const { app, fake, alice } = await setUp(t)
  t.equal(await circuitState(app), 0)
  fake.fail({ status: 500 })

  const first = await pull(app, alice)
  t.equal(first.statusCode, 503)
  t.equal(fake.requests.length, 3, 'the first attempt and two retries')
  t.equal(await circuitState(app), 1, 'three consecutive failures opened the circuit')

  const fast = await pull(app, alice)
  t.equal(fast.statusCode, 503)
  t.equal(fast.json().code, 'SERVICE_UNAVAILABLE')
  t.match(fast.json().message, /Google Fit is failing and calls to it are paused \(circuit open\); retry in \d+ s/)
  t.ok(Number(fast.headers['retry-after']) >= 1)
  t.equal(fake.requests.length, 3, 'no request reached Google Fit while the circuit was open')

  fake.fail(null)
  await new Promise((resolve) => setTimeout(resolve, 450))
  const recovered = await pull(app, alice)
  t.equal(recovered.statusCode, 200, recovered.body)
  t.equal(await circuitState(app), 0, 'a successful trial call closed the circuit')
  t.equal((await pull(app, alice)).statusCode, 200)

  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /fitness_syncs_total\{source="google_fit",outcome="unavailable"\} 2/)
  t.match(metrics.body, /fitness_syncs_total\{source="google_fit",outcome="ok"\} 2/)
  t.match(metrics.body, /fitness_provider_requests_total\{provider="google_fit",outcome="retryable"\} 3/)
})
