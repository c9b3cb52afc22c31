import t from 'tap'
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { bearer, build } from '../helper.ts'
import { seedCompetition } from '../routes/leaderboard/fixtures.ts'
import { sample } from '../routes/fitness/fixtures.ts'
import { fakeStripeConfig } from '../routes/payments/fixtures.ts'
import { connect, TOKEN_KEYS } from '../routes/connections/fixtures.ts'
import { startFitbitFake } from '../fakes/fitbit.ts'

// What a client reads first must work: every request example of the OpenAPI document is
// executed as a reader of /docs would send it (Swagger UI pre-fills every example), with a
// real token and against real state, and must answer the documented success status. The
// caller is the user the examples name (the uuid example), so ids of the caller's own things
// are used as documented; a path naming a competition or flag in another state (one to join,
// to leave, to end, to pay) gets the id of such a one, made first. Every response example
// validates against its response schema.

type Obj = Record<string, any>
const METHODS = ['get', 'put', 'post', 'patch', 'delete']
const HOUR = 3_600_000

const UUID_EXAMPLE = '6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f'

interface Operation { method: string, path: string, op: Obj }

function operations (document: Obj): Operation[] {
  return Object.entries(document.paths as Obj).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m] !== undefined).map((method) => ({ method, path, op: item[method] as Obj })))
}

function successStatus (op: Obj): number {
  return Math.min(...Object.keys(op.responses).map(Number).filter((s) => s >= 200 && s < 300))
}

// Admin operations say so in their tags or summary.
function forAdmins (op: Obj): boolean {
  return (op.tags as string[]).includes('admin') || /\(admins/.test(op.summary as string)
}

async function call (app: FastifyInstance, headers: Obj, method: string, url: string, payload?: unknown): Promise<Obj> {
  const res = await app.inject({ method: method as 'POST', url, headers, ...(payload === undefined ? {} : { payload: payload as Obj }) })
  if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`)
  return res.json()
}

t.test('every request example of the document answers its documented status', async (t) => {
  const fitbit = await startFitbitFake({ clientId: 'docs', clientSecret: 'docs-secret', accountId: 'DOCS01' })
  t.teardown(fitbit.close)
  const app = await build(t, {
    config: {
      LIFECYCLE_JOBS: false,
      RATE_LIMIT_MAX: 100000,
      PUBLIC_URL: '',
      ...(await fakeStripeConfig(t)).config,
      PROVIDER_TOKEN_KEYS: TOKEN_KEYS,
      FITBIT_CLIENT_ID: 'docs',
      FITBIT_CLIENT_SECRET: 'docs-secret',
      FITBIT_API_URL: fitbit.url
    }
  })
  const user = bearer({ sub: UUID_EXAMPLE })
  const admin = bearer({ sub: randomUUID(), admin: true })
  const document = (await app.inject({ url: '/docs/json' })).json() as Obj

  // The caller exists, and the competition the examples name is a running custom-metric one
  // the caller takes part in (what a score update needs).
  await call(app, user, 'GET', `/api/v1/users/${UUID_EXAMPLE}/profile`)
  const seeded = await seedCompetition(app)
  await app.pg.query('UPDATE competitions SET id = $1 WHERE id = $2', [UUID_EXAMPLE, seeded])
  await app.pg.query('INSERT INTO participants (competition_id, user_id) VALUES ($1, $2)', [UUID_EXAMPLE, UUID_EXAMPLE])
  await app.pg.query('UPDATE competitions SET participant_count = 1 WHERE id = $1', [UUID_EXAMPLE])
  await app.leaderboard.reconcileParticipant({ competitionId: UUID_EXAMPLE, userId: UUID_EXAMPLE })

  const later = (hours: number): string => new Date(Date.now() + hours * HOUR).toISOString()
  const scheduled = async (): Promise<string> =>
    (await call(app, admin, 'POST', '/api/v1/competitions', { name: 'Fixture', metric: 'steps', startsAt: later(1), endsAt: later(25) })).id
  // Two implausible records (600 steps a minute) raise two flags on the caller.
  const flagged = await call(app, user, 'POST', '/api/v1/fitness/sync', {
    source: 'healthkit',
    samples: [1, 2].map((i) => sample({ externalId: `sprint-${i}`, start: Date.now() - (i + 1) * HOUR, minutes: 10, value: 6000 }))
  })
  t.equal(flagged.flagged.length, 2, 'two flags to review')
  const flags = (await call(app, admin, 'GET', '/api/v1/admin/flags?status=open')).items.map((f: Obj) => String(f.id))

  // Payments: the caller's payout account is active (as account.updated would make it) and the
  // wallet holds deposits; a large withdrawal waits for review.
  const payoutReady = async (): Promise<void> => {
    await call(app, user, 'POST', `/api/v1/users/${UUID_EXAMPLE}/payout-account`)
    await app.pg.query('UPDATE payout_accounts SET payouts_enabled = true WHERE user_id = $1', [UUID_EXAMPLE])
    await app.pg.transact(async (tx) => await app.ledger.transfer(tx, {
      idempotencyKey: randomUUID(),
      kind: 'deposit',
      legs: [
        { accountId: await app.ledger.ensureAccount(tx, { kind: 'external', currency: 'USD' }), amount: -150000 },
        { accountId: await app.ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId: UUID_EXAMPLE, currency: 'USD' }), amount: 150000 }
      ]
    }))
  }
  const withdrawal = async (amount: number): Promise<string> => {
    await payoutReady()
    return (await call(app, { ...user, 'idempotency-key': randomUUID() }, 'POST', `/api/v1/users/${UUID_EXAMPLE}/withdrawals`, { amount, currency: 'USD' })).id
  }

  // A competition the example user created: its invites are theirs to manage.
  const ownCompetition = async (): Promise<string> => {
    const id = await scheduled()
    await app.pg.query('UPDATE competitions SET created_by = $2 WHERE id = $1', [id, UUID_EXAMPLE])
    return id
  }
  // A series the example user created: theirs to pause, resume and stop.
  const ownSeries = async (): Promise<string> => {
    const { id } = await call(app, admin, 'POST', '/api/v1/competition-series',
      { name: 'Fixture series', metric: 'steps', schedule: { every: 'day', at: '06:00' }, timeZone: 'UTC', durationSeconds: 86400 })
    await app.pg.query('UPDATE competition_series SET created_by = $2 WHERE id = $1', [id, UUID_EXAMPLE])
    return id
  }
  const webhook = async (): Promise<string> =>
    (await call(app, admin, 'POST', '/api/v1/webhooks', { url: 'https://93.184.215.14/hooks', eventTypes: ['prize.paid'] })).id
  // Path values for the operations that need a competition or a flag in another state.
  const paths: Record<string, () => Promise<Record<string, string>>> = {
    'POST /api/v1/competitions/{id}/join': async () => ({ id: await scheduled() }),
    'POST /api/v1/competitions/{id}/leave': async () => {
      const id = await scheduled()
      await call(app, user, 'POST', `/api/v1/competitions/${id}/join`, {})
      return { id }
    },
    'POST /api/v1/competitions/{id}/cancel': async () => ({ id: await scheduled() }),
    'PATCH /api/v1/competitions/{id}': async () => ({ id: await scheduled() }),
    'POST /api/v1/competitions/{id}/invites': async () => ({ id: await ownCompetition() }),
    'GET /api/v1/competitions/{id}/invites': async () => ({ id: await ownCompetition() }),
    'DELETE /api/v1/competitions/{id}/invites/{code}': async () => {
      const id = await ownCompetition()
      return { id, code: (await call(app, user, 'POST', `/api/v1/competitions/${id}/invites`, {})).code }
    },
    'POST /api/v1/competitions/{id}/end-early': async () => ({ id: await seedCompetition(app, { metric: 'steps' }) }),
    'POST /api/v1/prizes/distribute/{competitionId}': async () => ({ competitionId: await seedCompetition(app, { status: 'final' }) }),
    'POST /api/v1/admin/flags/{id}/clear': async () => ({ id: flags[0] }),
    'POST /api/v1/admin/flags/{id}/confirm': async () => ({ id: flags[1] }),
    ...Object.fromEntries(['GET /api/v1/competition-series/{id}', 'POST /api/v1/competition-series/{id}/pause', 'POST /api/v1/competition-series/{id}/stop',
      ...['GET', 'PUT', 'DELETE'].map((m) => `${m} /api/v1/competition-series/{id}/subscription`)].map((name) => [name, async () => ({ id: await ownSeries() })])),
    'POST /api/v1/competition-series/{id}/resume': async () => {
      const id = await ownSeries()
      await call(app, user, 'POST', `/api/v1/competition-series/${id}/pause`)
      return { id }
    },
    ...Object.fromEntries(['GET', 'PATCH', 'DELETE'].map((m) => [`${m} /api/v1/webhooks/{id}`, async () => ({ id: await webhook() })])),
    'POST /api/v1/webhooks/{id}/rotate-secret': async () => ({ id: await webhook() }),
    'GET /api/v1/webhooks/{id}/deliveries': async () => ({ id: await webhook() }),
    'POST /api/v1/webhook-deliveries/{id}/replay': async () => {
      const { rows } = await app.pg.query(`INSERT INTO webhook_deliveries (endpoint_id, event_id)
        SELECT $1, id FROM domain_events ORDER BY seq LIMIT 1 RETURNING id`, [await webhook()])
      return { id: rows[0].id }
    },
    'GET /api/v1/users/{userId}/deposits/{depositId}': async () => ({
      depositId: (await call(app, { ...user, 'idempotency-key': randomUUID() }, 'POST', `/api/v1/users/${UUID_EXAMPLE}/deposits`, { amount: 2500, currency: 'USD' })).id
    }),
    'GET /api/v1/users/{userId}/payout-account': async () => { await payoutReady(); return {} },
    'POST /api/v1/users/{userId}/withdrawals': async () => { await payoutReady(); return {} },
    'GET /api/v1/users/{userId}/withdrawals/{withdrawalId}': async () => ({ withdrawalId: await withdrawal(2500) }),
    'POST /api/v1/admin/payments/withdrawals/{withdrawalId}/approve': async () => ({ withdrawalId: await withdrawal(150000) }),
    'POST /api/v1/admin/payments/withdrawals/{withdrawalId}/reject': async () => ({ withdrawalId: await withdrawal(150000) }),
    'POST /api/v1/users/{userId}/notifications/{notificationId}/read': async () => {
      const { rows } = await app.pg.query(`INSERT INTO notifications (user_id, cause, category, template, params)
        VALUES ($1, 'example', 'security', 'flag_cleared', '{}') RETURNING id`, [UUID_EXAMPLE])
      return { notificationId: rows[0].id }
    },
    // The example's token registered before: registering it again refreshes it (200).
    'POST /api/v1/users/{userId}/devices': async () => {
      await call(app, user, 'POST', `/api/v1/users/${UUID_EXAMPLE}/devices`, { provider: 'expo', token: 'ExponentPushToken[xxxxxxxxxxxxxxxxxxxxxx]', platform: 'ios', appVersion: '2.4.1' })
      return {}
    },
    'DELETE /api/v1/users/{userId}/devices/{deviceId}': async () => ({
      deviceId: (await call(app, user, 'POST', `/api/v1/users/${UUID_EXAMPLE}/devices`, { provider: 'fcm', token: 'example-token', platform: 'android', appVersion: '1.0.0' })).id
    }),
    // Connected first, so there is a connection to end.
    'DELETE /api/v1/users/{userId}/connections/{provider}': async () => {
      await connect(app, { id: UUID_EXAMPLE, headers: user }, 'fitbit', fitbit.oauth)
      return { provider: 'fitbit' }
    },
    // An account of its own to delete (the example caller's holds money and stays).
    'DELETE /api/v1/admin/users/{userId}': async () => {
      const userId = randomUUID()
      await call(app, bearer({ sub: userId }), 'GET', '/api/v1/me')
      return { userId }
    },
    'GET /api/v1/me/exports/{id}': async () => ({ id: (await call(app, user, 'POST', '/api/v1/me/exports')).id }),
    // A job that failed its only attempt: fetched from a queue no worker runs, and failed.
    'POST /api/v1/admin/jobs/dead/{id}/retry': async () => {
      const queue = 'docs.example'
      await app.jobs.boss.createQueue(queue, { deadLetter: 'dead-letter', retryLimit: 0 })
      await app.jobs.boss.send(queue, { competitionId: UUID_EXAMPLE })
      const [job] = await app.jobs.boss.fetch(queue)
      await app.jobs.boss.fail(queue, job!.id, { message: 'example' })
      return { id: (await app.jobs.boss.findJobs('dead-letter'))[0]!.id }
    }
  }

  for (const { method, path, op } of operations(document)) {
    const name = `${method.toUpperCase()} ${path}`
    const json = op.requestBody?.content?.['application/json']
    if (op.requestBody !== undefined && json === undefined) continue // a file upload: no example file in a document
    if (name === 'POST /api/v1/payments/stripe/webhook') continue // signed by Stripe: test/routes/payments sends real ones
    // Ends the example caller's account, which the operations after it need: test/routes/users/deletion.test.ts runs both.
    if (name === 'DELETE /api/v1/me' || name === 'POST /api/v1/auth/supabase/webhook') continue
    // Reached by the providers (single-use state, signatures): test/routes/connections sends real ones.
    if (path.startsWith('/api/v1/connections/')) continue
    const values = await paths[name]?.() ?? {}
    const headers: Obj = { ...(forAdmins(op) ? admin : user) }
    const query: Record<string, string> = {}
    let url = path
    for (const p of op.parameters ?? []) {
      if (p.example === undefined) continue // Swagger UI leaves it empty
      const value = values[p.name] ?? String(p.example)
      if (p.in === 'path') url = url.replace(`{${p.name}}`, encodeURIComponent(value))
      if (p.in === 'query') query[p.name] = value
      if (p.in === 'header') headers[p.name] = value
    }
    const res = await app.inject({ method: method.toUpperCase() as 'GET', url, query, headers, ...(json ? { payload: json.example } : {}) })
    t.equal(res.statusCode, successStatus(op), `${name}: ${res.statusCode} ${res.statusCode < 300 ? '' : res.body}`)
  }
})

t.test('every response example validates against its schema and tells one story', async (t) => {
  const app = await build(t, { config: { PUBLIC_URL: '' } })
  const document = (await app.inject({ url: '/docs/json' })).json() as Obj
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats.default(ajv)
  for (const { method, path, op } of operations(document)) {
    for (const [status, response] of Object.entries(op.responses as Obj)) {
      const json = response.content?.['application/json']
      if (json?.schema === undefined) continue
      const examples = json.example !== undefined ? [json.example] : Object.values((json.examples ?? {}) as Obj).map((e: Obj) => e.value)
      t.ok(examples.length > 0, `${method.toUpperCase()} ${path} ${status}: has an example`)
      // Refs point into the document's components.
      const validate = ajv.compile({ ...json.schema, components: document.components })
      for (const example of examples) {
        t.ok(validate(example), `${method.toUpperCase()} ${path} ${status}: ${ajv.errorsText(validate.errors)}`)
      }
    }
  }

  const me = document.paths['/api/v1/me'].get.responses['200'].content['application/json'].example
  t.equal(me.isAdmin, me.role !== 'user', 'GET /me: isAdmin agrees with the role')
  const created = document.paths['/api/v1/competitions'].post.responses['201'].content['application/json'].example
  t.ok(Date.parse(created.endsAt) > Date.parse(created.startsAt), 'a competition example ends after it starts')
})

t.test('an optional body is documented as optional, and leaving it out works', async (t) => {
  const app = await build(t, { config: { PUBLIC_URL: '', LIFECYCLE_JOBS: false } })
  const document = (await app.inject({ url: '/docs/json' })).json() as Obj
  for (const action of ['join', 'leave']) {
    t.equal(document.paths[`/api/v1/competitions/{id}/${action}`].post.requestBody.required, false, `${action}: body not required`)
  }
  t.equal(document.paths['/api/v1/competitions'].post.requestBody.required, true, 'a body the route needs stays required')
  const admin = bearer({ sub: randomUUID(), admin: true })
  const user = bearer({ sub: randomUUID() })
  const { id } = await call(app, admin, 'POST', '/api/v1/competitions', {
    name: 'No body', metric: 'steps', startsAt: new Date(Date.now() + HOUR).toISOString(), endsAt: new Date(Date.now() + 2 * HOUR).toISOString()
  })
  const res = await app.inject({ method: 'POST', url: `/api/v1/competitions/${id as string}/join`, headers: user })
  t.equal(res.statusCode, 200, res.body)
})
