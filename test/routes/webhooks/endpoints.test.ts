import { test } from 'tap'
import { Webhook } from 'standardwebhooks'
import { build } from '../../helper.ts'
import { signIn } from '../competitions/fixtures.ts'
import { DOMAIN_EVENT_TYPES } from '../../../schemas/domain-events.ts'
import { signedHeaders } from '../../../services/webhooks/messages.ts'
import { inlineSchemaRefs } from '../../openapi-refs.ts'

// A literal public address: registration needs no DNS for it.
const PUBLIC_URL = 'https://93.184.215.14/hooks'
const UNKNOWN_ID = '00000000-0000-4000-8000-000000000000'

test('registration refuses targets inside the network, naming the reason', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 100000 } })
  const admin = await signIn(app, { admin: true })
  const register = async (url: string) => await app.inject({
    method: 'POST', url: '/api/v1/webhooks', headers: admin.headers, payload: { url, eventTypes: ['prize.paid'] }
  })
  const cases: Array<[string, RegExp]> = [
    ['https://127.0.0.1/hooks', /127\.0\.0\.1 .*loopback/],
    ['https://10.20.30.40/hooks', /10\.20\.30\.40, a private address/],
    ['https://169.254.169.254/latest/meta-data', /169\.254\.169\.254, a link-local address/],
    ['https://[::1]/hooks', /::1, a loopback address/],
    ['https://localhost:8443/hooks', /url host localhost resolves to .*, a loopback address/],
    ['http://93.184.215.14/hooks', /url must use https/]
  ]
  for (const [url, reason] of cases) {
    const res = await register(url)
    t.equal(res.statusCode, 400, url)
    t.match(res.json(), { statusCode: 400, code: 'BAD_REQUEST', message: reason }, url)
  }
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM webhook_endpoints')
  t.equal(rows[0].n, 0, 'none was stored')
  t.equal((await register(PUBLIC_URL)).statusCode, 201, 'a public address is accepted')
})

test('endpoints: create shows the secret once, list, get, patch, rotate, delete', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 100000 } })
  const admin = await signIn(app, { admin: true })
  const created = await app.inject({
    method: 'POST',
    url: '/api/v1/webhooks',
    headers: admin.headers,
    payload: { url: PUBLIC_URL, eventTypes: ['competition.final', 'prize.paid'], description: 'results' }
  })
  t.equal(created.statusCode, 201)
  const endpoint = created.json()
  t.match(endpoint, { url: PUBLIC_URL, eventTypes: ['competition.final', 'prize.paid'], description: 'results', enabled: true, disabledReason: null, createdBy: admin.id })
  t.match(endpoint.secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
  t.equal(Buffer.from(endpoint.secret.slice(6), 'base64').length, 32, '32 random bytes')
  t.equal(created.headers.location, `/api/v1/webhooks/${endpoint.id}`)

  const got = await app.inject({ url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers })
  t.equal(got.statusCode, 200)
  t.notOk('secret' in got.json(), 'never shown again')
  t.same(got.json(), (({ secret: _secret, ...rest }) => rest)(endpoint))

  for (let i = 0; i < 2; i++) {
    await app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: admin.headers, payload: { url: PUBLIC_URL, eventTypes: ['score.changed'] } })
  }
  const first = (await app.inject({ url: '/api/v1/webhooks?limit=2', headers: admin.headers })).json()
  t.equal(first.items.length, 2)
  t.notOk('secret' in first.items[0])
  const second = (await app.inject({ url: `/api/v1/webhooks?limit=2&cursor=${first.nextCursor}`, headers: admin.headers })).json()
  t.same(second.items.map((e: any) => e.id), [endpoint.id], 'newest first; the oldest on the next page')
  t.equal(second.nextCursor, null)

  const patched = await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers, payload: { eventTypes: ['prize.paid'], enabled: false } })
  t.match(patched.json(), { eventTypes: ['prize.paid'], enabled: false, disabledReason: 'disabled by an admin', description: 'results' })
  t.ok(patched.json().disabledAt)
  const enabled = await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers, payload: { enabled: true } })
  t.match(enabled.json(), { enabled: true, disabledReason: null, disabledAt: null })
  const badUrl = await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers, payload: { url: 'https://192.168.0.10/' } })
  t.match(badUrl.json(), { statusCode: 400, message: /private address/ })

  const rotated = await app.inject({ method: 'POST', url: `/api/v1/webhooks/${endpoint.id}/rotate-secret`, headers: admin.headers })
  t.equal(rotated.statusCode, 200)
  t.match(rotated.json().secret, /^whsec_/)
  t.not(rotated.json().secret, endpoint.secret, 'a new secret')
  // What the new secret signs verifies only with it.
  const { rows } = await app.pg.query('SELECT secret FROM webhook_endpoints WHERE id = $1', [endpoint.id])
  t.equal(rows[0].secret, rotated.json().secret)
  const body = '{"type":"prize.paid"}'
  const headers = signedHeaders(rows[0].secret, 'msg_1', body)
  t.doesNotThrow(() => new Webhook(rotated.json().secret).verify(body, headers))
  t.throws(() => new Webhook(endpoint.secret).verify(body, headers), 'the old secret no longer matches')

  t.equal((await app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${endpoint.id}`, headers: admin.headers })).statusCode, 204)
  for (const [method, url] of [['GET', `/api/v1/webhooks/${endpoint.id}`], ['DELETE', `/api/v1/webhooks/${endpoint.id}`], ['PATCH', `/api/v1/webhooks/${UNKNOWN_ID}`],
    ['POST', `/api/v1/webhooks/${UNKNOWN_ID}/rotate-secret`], ['GET', `/api/v1/webhooks/${UNKNOWN_ID}/deliveries`], ['POST', `/api/v1/webhook-deliveries/${UNKNOWN_ID}/replay`]] as const) {
    const res = await app.inject({ method, url, headers: admin.headers, ...(method === 'PATCH' ? { payload: { enabled: true } } : {}) })
    t.match({ status: res.statusCode, body: res.json() }, { status: 404, body: { code: 'NOT_FOUND', requestId: String } }, `${method} ${url}`)
  }
})

test('admins only; bodies strict', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 100000 } })
  const user = await signIn(app)
  const admin = await signIn(app, { admin: true })
  const routes = [['POST', '/api/v1/webhooks'], ['GET', '/api/v1/webhooks'], ['GET', `/api/v1/webhooks/${UNKNOWN_ID}`], ['PATCH', `/api/v1/webhooks/${UNKNOWN_ID}`],
    ['DELETE', `/api/v1/webhooks/${UNKNOWN_ID}`], ['POST', `/api/v1/webhooks/${UNKNOWN_ID}/rotate-secret`], ['GET', `/api/v1/webhooks/${UNKNOWN_ID}/deliveries`],
    ['POST', `/api/v1/webhook-deliveries/${UNKNOWN_ID}/replay`]] as const
  for (const [method, url] of routes) {
    const payload = method === 'POST' || method === 'PATCH' ? { url: PUBLIC_URL, eventTypes: ['prize.paid'] } : undefined
    const forbidden = await app.inject({ method, url, headers: user.headers, ...(payload ? { payload } : {}) })
    t.match({ status: forbidden.statusCode, body: forbidden.json() }, { status: 403, body: { code: 'FORBIDDEN', message: 'Only admins may manage webhooks' } }, `${method} ${url}: 403 for a user`)
    const anonymous = await app.inject({ method, url, ...(payload ? { payload } : {}) })
    t.equal(anonymous.statusCode, 401, `${method} ${url}: 401 without a token`)
  }

  const post = async (payload: object) => await app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: admin.headers, payload })
  const unknown = await post({ url: PUBLIC_URL, eventTypes: ['prize.paid'], secret: 'whsec_mine' })
  t.match(unknown.json(), { statusCode: 400, message: 'body.secret is not a known property', details: [{ field: 'body.secret' }] })
  t.match((await post({ url: PUBLIC_URL, eventTypes: [] })).json(), { statusCode: 400, message: /^body\.eventTypes/ })
  t.match((await post({ url: PUBLIC_URL, eventTypes: ['prize.paid', 'prize.paid'] })).json(), { statusCode: 400, message: /^body\.eventTypes/ })
  t.match((await post({ url: PUBLIC_URL, eventTypes: ['user.renamed'] })).json(), { statusCode: 400, message: /^body\.eventTypes/ })
  const patch = await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${UNKNOWN_ID}`, headers: admin.headers, payload: { enabled: 'true' } })
  t.match(patch.json(), { statusCode: 400, message: /^body\.enabled/ }, 'no coercion')
  const empty = await app.inject({ method: 'PATCH', url: `/api/v1/webhooks/${UNKNOWN_ID}`, headers: admin.headers, payload: {} })
  t.equal(empty.statusCode, 400, 'a patch changes something')
})

test('the OpenAPI document describes every event as a webhook', async (t) => {
  const app = await build(t)
  const document = inlineSchemaRefs((await app.inject({ url: '/docs/json' })).json())
  t.same(Object.keys(document.webhooks).sort(), [...DOMAIN_EVENT_TYPES].sort())
  const joined = document.webhooks['participant.joined'].post
  t.same(joined.parameters.map((p: any) => [p.in, p.name, p.required]), [['header', 'webhook-id', true], ['header', 'webhook-timestamp', true], ['header', 'webhook-signature', true]])
  const schema = joined.requestBody.content['application/json'].schema
  t.same(schema.required, ['type', 'timestamp', 'data'])
  t.equal(schema.properties.type.const, 'participant.joined')
  t.same(schema.properties.data.required, ['competitionId', 'userId', 'eventId'])
  t.ok(document.tags.some((tag: any) => tag.name === 'webhooks'))
})
