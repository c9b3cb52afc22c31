import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { WebSocket } from 'ws'
import { bearer, token } from '../helper.ts'
import { buildWithRoutes, type RouteInfo } from '../route-table.ts'
import { exampleFromSchema } from '../../lib/openapi-examples.ts'
import { createCompetition, hoursFromNow, signIn, type Person } from '../routes/competitions/fixtures.ts'
import { fakeStripeConfig } from '../routes/payments/fixtures.ts'

// Every route of the route table x {anonymous, another user, the user themselves, an admin},
// each request aimed at the user's own resources, with the status the rule table expects.
// A route missing from RULES (or a rule for a route that no longer exists) fails the test, so
// a new route cannot ship without a decision about who may call it.

type Caller = 'anonymous' | 'other' | 'self' | 'admin'
// public: anyone. user: any signed-in caller. owner: the user named by the request (path
// :userId, or body.userId) or an admin. admin: admins and trusted services only.
// ws-user: a WebSocket that needs a valid token (refusals are close codes, not statuses).
// self: only the user named by the path, not even an admin (moving a user's own money).
// secret: a shared secret header, not a token, is the authentication: every caller without it is 401.
type Rule = 'public' | 'user' | 'owner' | 'self' | 'admin' | 'ws-user' | 'secret'

const RULES: Record<string, Rule> = {
  'GET /health': 'public',
  'GET /health/ready': 'public',
  'GET /metrics': 'public',
  'GET /docs': 'public',
  'HEAD /docs/': 'public',
  'GET /docs/json': 'public',
  'GET /docs/yaml': 'public',
  'GET /docs/asyncapi.json': 'public',
  'GET /docs/static/index.html': 'public',
  'GET /docs/static/swagger-initializer.js': 'public',
  'GET /docs/static/*': 'public',
  'GET /files/*': 'public',
  'OPTIONS *': 'public',
  'GET /live/:competitionId': 'public',
  'GET /live/assets/*': 'public',

  'GET /api/v1/me': 'user',
  // Others get the public fields only (checked in test/routes/users.test.ts).
  'GET /api/v1/users/:userId/profile': 'user',
  'PUT /api/v1/users/:userId/profile': 'owner',
  'POST /api/v1/users/:userId/avatar': 'owner',
  'GET /api/v1/users/:userId/dashboard': 'owner',
  'GET /api/v1/users/:userId/activity': 'owner',
  'GET /api/v1/users/:userId/transactions': 'owner',
  'GET /api/v1/users/:userId/competitions': 'owner',
  'POST /api/v1/admin/users/:userId/credit': 'admin',
  // Each caller deletes their own account (callers made for this route alone, see ACCOUNT_ENDING).
  'DELETE /api/v1/me': 'user',
  'DELETE /api/v1/admin/users/:userId': 'admin',
  'GET /api/v1/me/export': 'user',
  'POST /api/v1/me/exports': 'user',
  // Another user's export id is 404 (checked in test/routes/users/export.test.ts).
  'GET /api/v1/me/exports/:id': 'user',
  // Supabase Database Webhooks send X-Webhook-Secret; a token is no substitute.
  'POST /api/v1/auth/supabase/webhook': 'secret',

  'GET /api/v1/competitions': 'user',
  // COMPETITION_CREATORS=admins (the default) makes creation an admin action.
  'POST /api/v1/competitions': 'admin',
  'GET /api/v1/competitions/:id': 'user',
  // Its creator (here an admin) and admins; a creator who is not an admin is checked in editing.test.ts.
  'PATCH /api/v1/competitions/:id': 'admin',
  'POST /api/v1/competitions/:id/join': 'owner',
  'POST /api/v1/competitions/:id/leave': 'owner',
  // The competition's creator (here an admin) and admins; creators who are not admins are checked in invites.test.ts.
  'POST /api/v1/competitions/:id/invites': 'admin',
  'GET /api/v1/competitions/:id/invites': 'admin',
  'DELETE /api/v1/competitions/:id/invites/:code': 'admin',
  'POST /api/v1/competitions/:id/cancel': 'admin',
  'POST /api/v1/competitions/:id/end-early': 'admin',
  'POST /api/v1/competition-series': 'admin',
  'GET /api/v1/competition-series': 'user',
  'GET /api/v1/competition-series/:id': 'user',
  // Its creator (here an admin) and admins; a creator who is not an admin is checked in series.test.ts.
  'POST /api/v1/competition-series/:id/pause': 'admin',
  'POST /api/v1/competition-series/:id/resume': 'admin',
  'POST /api/v1/competition-series/:id/stop': 'admin',
  // Anyone who sees the series subscribes themselves.
  'GET /api/v1/competition-series/:id/subscription': 'user',
  'PUT /api/v1/competition-series/:id/subscription': 'user',
  'DELETE /api/v1/competition-series/:id/subscription': 'user',

  'GET /api/v1/leaderboard/:competitionId': 'user',
  'POST /api/v1/leaderboard/update': 'admin',
  'POST /api/v1/admin/leaderboard/rebuild': 'admin',
  'POST /api/v1/admin/leaderboard/:competitionId/rebuild': 'admin',
  'GET /ws/leaderboard/:competitionId': 'ws-user',
  'POST /api/v1/prizes/calculate/:competitionId': 'user',
  'POST /api/v1/prizes/distribute/:competitionId': 'admin',

  // Sync writes the caller's own data: there is no other user to aim at.
  'POST /api/v1/fitness/sync': 'user',
  'GET /api/v1/fitness/stats/:userId': 'owner',
  'GET /api/v1/admin/flags': 'admin',
  'POST /api/v1/admin/flags/:id/clear': 'admin',
  'POST /api/v1/admin/flags/:id/confirm': 'admin',
  'GET /api/v1/admin/jobs': 'admin',
  'GET /api/v1/admin/jobs/dead': 'admin',
  'POST /api/v1/admin/jobs/dead/:id/retry': 'admin',
  'GET /api/v1/users/:userId/wallet': 'owner',
  'GET /api/v1/users/:userId/notifications': 'owner',
  'GET /api/v1/users/:userId/notifications/unread-count': 'owner',
  // An admin looking at an inbox must not mark it read.
  'POST /api/v1/users/:userId/notifications/:notificationId/read': 'self',
  'POST /api/v1/users/:userId/notifications/read-all': 'self',
  'POST /api/v1/users/:userId/devices': 'self',
  'GET /api/v1/users/:userId/devices': 'owner',
  'DELETE /api/v1/users/:userId/devices/:deviceId': 'owner',
  'GET /api/v1/users/:userId/notification-preferences': 'owner',
  'PATCH /api/v1/users/:userId/notification-preferences': 'owner',
  // Stripe holds no token: the signature is the authentication (refused with 400 when wrong).
  'POST /api/v1/payments/stripe/webhook': 'public',
  'POST /api/v1/users/:userId/deposits': 'self',
  'GET /api/v1/users/:userId/deposits': 'owner',
  'GET /api/v1/users/:userId/deposits/:depositId': 'owner',
  'POST /api/v1/users/:userId/payout-account': 'self',
  'GET /api/v1/users/:userId/payout-account': 'owner',
  'POST /api/v1/users/:userId/withdrawals': 'self',
  'GET /api/v1/users/:userId/withdrawals': 'owner',
  'GET /api/v1/users/:userId/withdrawals/:withdrawalId': 'owner',
  'GET /api/v1/admin/payments/withdrawals': 'admin',
  'POST /api/v1/admin/payments/withdrawals/:withdrawalId/approve': 'admin',
  'POST /api/v1/admin/payments/withdrawals/:withdrawalId/reject': 'admin',
  'GET /api/v1/admin/payments/reconciliations': 'admin',
  'POST /api/v1/admin/payments/reconciliations': 'admin',
  'GET /api/v1/users/:userId/connections': 'owner',
  // Granting access to one's own account at a provider: nobody else may start it.
  'POST /api/v1/users/:userId/connections/:provider': 'self',
  'DELETE /api/v1/users/:userId/connections/:provider': 'owner',
  // The provider's redirect (the single-use state is the authentication) and its webhooks
  // (signatures or verification tokens).
  'GET /api/v1/connections/:provider/callback': 'public',
  'GET /api/v1/connections/:provider/webhook': 'public',
  'POST /api/v1/connections/:provider/webhook': 'public',
  'POST /api/v1/webhooks': 'admin',
  'GET /api/v1/webhooks': 'admin',
  'GET /api/v1/webhooks/:id': 'admin',
  'PATCH /api/v1/webhooks/:id': 'admin',
  'DELETE /api/v1/webhooks/:id': 'admin',
  'POST /api/v1/webhooks/:id/rotate-secret': 'admin',
  'GET /api/v1/webhooks/:id/deliveries': 'admin',
  'POST /api/v1/webhook-deliveries/:id/replay': 'admin'
}

async function createSeries (app: Awaited<ReturnType<typeof buildWithRoutes>>['app'], admin: Person): Promise<string> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/competition-series',
    headers: admin.headers,
    payload: { name: 'Daily steps', metric: 'steps', schedule: { every: 'day', at: '06:00' }, timeZone: 'UTC', durationSeconds: 86400 }
  })
  if (res.statusCode !== 201) throw new Error(`series create failed: ${res.statusCode} ${res.body}`)
  return res.json().id
}

const DENIED = [401, 403]
const EXPECTED: Record<Exclude<Rule, 'ws-user'>, Record<Caller, number | 'allowed'>> = {
  public: { anonymous: 'allowed', other: 'allowed', self: 'allowed', admin: 'allowed' },
  user: { anonymous: 401, other: 'allowed', self: 'allowed', admin: 'allowed' },
  owner: { anonymous: 401, other: 403, self: 'allowed', admin: 'allowed' },
  self: { anonymous: 401, other: 403, self: 'allowed', admin: 403 },
  admin: { anonymous: 401, other: 403, self: 403, admin: 'allowed' },
  secret: { anonymous: 401, other: 401, self: 401, admin: 401 }
}

// Routes that end the caller's (or self's) account get callers of their own, so the routes
// after them still have theirs.
const ACCOUNT_ENDING = new Set(['DELETE /api/v1/me', 'DELETE /api/v1/admin/users/:userId'])

const WILDCARDS: Record<string, string> = {
  '/docs/static/*': 'index.css',
  '/files/*': 'avatars/none.webp',
  '/live/assets/*': 'app.js',
  '*': 'api/v1/me'
}

type Obj = Record<string, unknown>
const noRefs = () => undefined

// The smallest request the schema accepts: required fields only, from the schema's examples.
function required (schema: unknown): Obj {
  const s = schema as { properties?: Obj, required?: string[] } | undefined
  if (!s?.properties) return {}
  const out: Obj = {}
  for (const key of s.required ?? []) out[key] = exampleFromSchema(s.properties[key], noRefs, key)
  return out
}

interface Context {
  self: Person
  other: Person
  admin: Person
  competitionId: string
  seriesId?: string
}

// A request for the route, aimed at `self`'s resources.
function requestFor (route: RouteInfo, ctx: Context): { url: string, payload?: Obj, headers: Record<string, string> } {
  const schema = (route.schema ?? {}) as { params?: unknown, querystring?: unknown, body?: unknown, headers?: unknown }
  const params: Obj = { ...required(schema.params) }
  if ('userId' in params || route.url.includes(':userId')) params.userId = ctx.self.id
  if (route.url.includes(':competitionId')) params.competitionId = ctx.competitionId
  if (route.url.includes('/competitions/:id')) params.id = ctx.competitionId
  if (route.url.includes('/competition-series/:id')) params.id = ctx.seriesId
  let url = route.url.replace(/:(\w+)/g, (_m, name: string) => {
    if (params[name] === undefined) throw new Error(`no value for :${name} in ${route.key}: add one to requestFor`)
    return encodeURIComponent(String(params[name]))
  })
  if (url.endsWith('*')) {
    const filler = WILDCARDS[route.url]
    if (filler === undefined) throw new Error(`no value for the wildcard of ${route.key}: add one to WILDCARDS`)
    url = url.slice(0, -1) + filler
  }
  const query = new URLSearchParams(Object.entries(required(schema.querystring)).map(([k, v]): [string, string] => [k, String(v)]))
  if (query.size > 0) url += `?${query}`

  // OPTIONS is the CORS preflight.
  const headers: Record<string, string> = route.method === 'OPTIONS' ? { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } : {}
  for (const name of Object.keys((schema.headers as { properties?: Obj } | undefined)?.properties ?? {})) {
    if (name === 'idempotency-key') headers[name] = randomUUID()
  }
  let payload: Obj | undefined
  const body = schema.body as { content?: unknown } | undefined
  if (body && !body.content && !['GET', 'HEAD', 'OPTIONS'].includes(route.method)) {
    const example = exampleFromSchema(body, noRefs)
    payload = typeof example === 'object' && example !== null ? { ...example as Obj } : {}
    if ('userId' in payload) payload.userId = ctx.self.id
    if ('competitionId' in payload) payload.competitionId = ctx.competitionId
  }
  if (route.method === 'POST' && payload === undefined && !body?.content) payload = {}
  return { url, payload, headers }
}

function headersOf (caller: Caller, ctx: Context): Record<string, string> {
  if (caller === 'anonymous') return {}
  return { ...ctx[caller].headers }
}

// Over a real socket: the refusal is a close code after the upgrade, the admission a snapshot.
async function wsClose (base: string, url: string, jwt: string | undefined): Promise<{ code: number, firstFrame?: string }> {
  const socket = new WebSocket(`${base}${url}${jwt ? `?token=${encodeURIComponent(jwt)}` : ''}`)
  return await new Promise((resolve) => {
    const timer = setTimeout(() => { socket.terminate(); resolve({ code: 0 }) }, 5000)
    socket.once('message', (data) => { clearTimeout(timer); socket.terminate(); resolve({ code: 0, firstFrame: data.toString() }) })
    socket.once('close', (code) => { clearTimeout(timer); resolve({ code }) })
    socket.once('error', () => {})
  })
}

test('authorisation matrix over the whole route table', async (t) => {
  const stripe = await fakeStripeConfig(t)
  const { app, routes } = await buildWithRoutes(t, { config: { RATE_LIMIT_MAX: 100_000, LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0, ...stripe.config } })

  const keys = routes.map((r) => r.key)
  t.same(keys.filter((k) => !(k in RULES)), [], 'every route has a rule (add new routes to RULES)')
  t.same(Object.keys(RULES).filter((k) => !keys.includes(k)), [], 'every rule names an existing route')

  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const base = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  const admin = await signIn(app, { admin: true })
  const self = await signIn(app)
  const other = await signIn(app)

  for (const route of routes) {
    const rule = RULES[route.key]
    if (rule === undefined) continue
    // A fresh competition per route, so one route's admin action cannot spoil the next.
    const competition = await createCompetition(app, admin, { startsAt: hoursFromNow(1), endsAt: hoursFromNow(25) })
    const callers = ACCOUNT_ENDING.has(route.key)
      ? { self: await signIn(app), other: await signIn(app), admin: await signIn(app, { admin: true }) }
      : { self, other, admin }
    const ctx: Context = { ...callers, competitionId: competition.id, ...(route.url.includes('/competition-series/:id') && { seriesId: await createSeries(app, admin) }) }

    await t.test(`${route.key} (${rule})`, async (t) => {
      if (rule === 'ws-user') {
        const { url } = requestFor(route, ctx)
        t.equal((await wsClose(base, url, undefined)).code, 4401, 'anonymous: closed with 4401')
        t.equal((await wsClose(base, url, 'not-a-jwt')).code, 4401, 'bad token: closed with 4401')
        for (const caller of ['other', 'self', 'admin'] as const) {
          const result = await wsClose(base, url, token({ sub: ctx[caller].id, admin: caller === 'admin' }))
          t.match(result, { firstFrame: /"type":"snapshot"/ }, `${caller}: admitted with a snapshot`)
        }
        return
      }
      const statuses: string[] = []
      for (const caller of ['anonymous', 'other', 'self', 'admin'] as const) {
        const req = requestFor(route, ctx)
        const res = await app.inject({
          method: route.method as 'GET',
          url: req.url,
          headers: { ...req.headers, ...headersOf(caller, ctx) },
          ...(req.payload !== undefined ? { payload: req.payload } : {})
        })
        statuses.push(`${caller} ${res.statusCode}`)
        const expected = EXPECTED[rule][caller]
        t.ok(res.statusCode < 500, `${caller}: no server error (${res.statusCode})`)
        if (expected === 'allowed') {
          t.notOk(DENIED.includes(res.statusCode), `${caller}: allowed (${res.statusCode} ${res.statusCode >= 400 ? res.body.slice(0, 120) : ''})`)
        } else {
          t.equal(res.statusCode, expected, `${caller}: ${expected}`)
          t.equal(res.json().code, expected === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN')
        }
      }
      t.comment(statuses.join(', '))
    })
  }
})

test('the matrix callers are what they claim to be', async (t) => {
  // Guards the premise: "other" and "self" differ only in who they are, not in role.
  const id = randomUUID()
  t.notMatch(bearer({ sub: id }).authorization, bearer({ sub: id, admin: true }).authorization)
})
