import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import sharp from 'sharp'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { build } from '../../helper.ts'
import { createCompetition, hoursFromNow, signIn, type Person, TEST_CONFIG } from '../competitions/fixtures.ts'
import { inlineSchemaRefs } from '../../openapi-refs.ts'

type Caller = 'anonymous' | 'other' | 'self' | 'admin'
const CALLERS: Caller[] = ['anonymous', 'other', 'self', 'admin']

interface Endpoint {
  method: 'GET' | 'POST' | 'PUT'
  // OpenAPI path, e.g. /api/v1/users/{userId}/profile
  path: string
  expect: Record<Caller, number>
  // Builds the request for one caller; may prepare state first (e.g. a competition to act on).
  request: (ctx: { app: FastifyInstance, owner: Person, admin: Person, caller: Caller }) => Promise<Omit<InjectOptions, 'headers'> & { headers?: Record<string, string> }>
}

const OWNER_ONLY = { anonymous: 401, other: 403, self: 200, admin: 200 }
const ADMIN_ONLY = { anonymous: 401, other: 403, self: 403, admin: 200 }
const ANY_USER = { anonymous: 401, other: 200, self: 200, admin: 200 }

function multipartPng (png: Buffer): { payload: Buffer, headers: Record<string, string> } {
  const boundary = `----authz${randomUUID()}`
  return {
    payload: Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      png,
      Buffer.from(`\r\n--${boundary}--\r\n`)
    ]),
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` }
  }
}

async function joinAs (app: FastifyInstance, id: string, owner: Person): Promise<void> {
  await app.inject({ method: 'POST', url: `/api/v1/competitions/${id}/join`, headers: owner.headers })
}

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/api/v1/users/{userId}/profile', expect: ANY_USER, request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/profile` }) },
  { method: 'PUT', path: '/api/v1/users/{userId}/profile', expect: OWNER_ONLY, request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/profile`, payload: { bio: 'hello' } }) },
  {
    method: 'POST',
    path: '/api/v1/users/{userId}/avatar',
    expect: OWNER_ONLY,
    request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/avatar`, ...multipartPng(await sharp({ create: { width: 32, height: 32, channels: 3, background: '#0a0' } }).png().toBuffer()) })
  },
  { method: 'GET', path: '/api/v1/users/{userId}/dashboard', expect: OWNER_ONLY, request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/dashboard` }) },
  { method: 'GET', path: '/api/v1/users/{userId}/activity', expect: OWNER_ONLY, request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/activity` }) },
  { method: 'GET', path: '/api/v1/users/{userId}/transactions', expect: OWNER_ONLY, request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/transactions` }) },
  { method: 'GET', path: '/api/v1/users/{userId}/competitions', expect: OWNER_ONLY, request: async ({ owner }) => ({ url: `/api/v1/users/${owner.id}/competitions` }) },
  {
    method: 'POST',
    path: '/api/v1/admin/users/{userId}/credit',
    expect: { anonymous: 401, other: 403, self: 403, admin: 201 },
    request: async ({ owner }) => ({ url: `/api/v1/admin/users/${owner.id}/credit`, headers: { 'idempotency-key': randomUUID() }, payload: { amount: 100, currency: 'USD' } })
  },
  { method: 'GET', path: '/api/v1/competitions', expect: ANY_USER, request: async () => ({ url: '/api/v1/competitions' }) },
  {
    method: 'POST',
    path: '/api/v1/competitions',
    expect: { anonymous: 401, other: 403, self: 403, admin: 201 },
    request: async () => ({ url: '/api/v1/competitions', payload: { name: 'Matrix', metric: 'steps', startsAt: hoursFromNow(1), endsAt: hoursFromNow(2) } })
  },
  {
    method: 'GET',
    path: '/api/v1/competitions/{id}',
    expect: ANY_USER,
    // A public one: who sees a private one (members, its creator, admins, invite holders) is in competitions/invites.test.ts.
    request: async ({ app, admin }) => ({ url: `/api/v1/competitions/${(await createCompetition(app, admin)).id}` })
  },
  {
    method: 'POST',
    path: '/api/v1/competitions/{id}/join',
    expect: OWNER_ONLY,
    // Acting for the owner: themselves, or an admin (or someone else) naming them.
    request: async ({ app, admin, owner }) => ({ url: `/api/v1/competitions/${(await createCompetition(app, admin)).id}/join`, payload: { userId: owner.id } })
  },
  {
    method: 'POST',
    path: '/api/v1/competitions/{id}/leave',
    expect: OWNER_ONLY,
    request: async ({ app, admin, owner }) => {
      const { id } = await createCompetition(app, admin)
      await joinAs(app, id, owner)
      return { url: `/api/v1/competitions/${id}/leave`, payload: { userId: owner.id } }
    }
  },
  {
    method: 'POST',
    path: '/api/v1/competitions/{id}/cancel',
    expect: ADMIN_ONLY,
    request: async ({ app, admin, owner }) => {
      const { id } = await createCompetition(app, admin)
      await joinAs(app, id, owner)
      return { url: `/api/v1/competitions/${id}/cancel` }
    }
  },
  {
    method: 'POST',
    path: '/api/v1/competitions/{id}/end-early',
    expect: ADMIN_ONLY,
    request: async ({ app, admin }) => {
      const { id } = await createCompetition(app, admin, { startsAt: hoursFromNow(0), endsAt: hoursFromNow(3) })
      await app.lifecycle.sweep(new Date(Date.now() + 60_000))
      return { url: `/api/v1/competitions/${id}/end-early` }
    }
  }
]

test('authorisation matrix: anonymous 401, another user 403 on writes and private reads, self and admin allowed', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, RATE_LIMIT_MAX: 10_000 } })
  const admin = await signIn(app, { admin: true })
  const owner = await signIn(app)
  const other = await signIn(app)
  const headersOf: Record<Caller, Record<string, string>> = { anonymous: {}, other: other.headers, self: owner.headers, admin: admin.headers }

  for (const endpoint of ENDPOINTS) {
    for (const caller of CALLERS) {
      const { headers, ...request } = await endpoint.request({ app, owner, admin, caller })
      const res = await app.inject({ method: endpoint.method, ...request, headers: { ...headersOf[caller], ...headers } })
      const expected = endpoint.expect[caller]
      t.equal(res.statusCode, expected, `${endpoint.method} ${endpoint.path} as ${caller}: ${expected}`)
      if (expected >= 400) {
        t.match(res.json(), { statusCode: expected, code: expected === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', requestId: String }, 'in the error shape')
      }
      if (endpoint.path.endsWith('/profile') && endpoint.method === 'GET' && caller === 'other') {
        t.notOk('email' in res.json(), 'another user sees no private fields')
      }
    }
  }
})

test('every endpoint is in the OpenAPI document with its request, response and error schemas', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const spec = inlineSchemaRefs((await app.inject({ url: '/docs/json' })).json())
  for (const endpoint of ENDPOINTS) {
    const operation = spec.paths[endpoint.path]?.[endpoint.method.toLowerCase()]
    t.ok(operation, `${endpoint.method} ${endpoint.path} is documented`)
    if (!operation) continue
    const success = String(Math.max(endpoint.expect.self, endpoint.expect.admin))
    t.ok(operation.responses[success]?.content, `${endpoint.path}: ${success} response schema`)
    for (const status of ['401', '429', ...(endpoint.expect.other === 403 || endpoint.expect.self === 403 ? ['403'] : [])]) {
      t.ok(operation.responses[status], `${endpoint.method} ${endpoint.path}: ${status} documented`)
    }
    if (['PUT', 'POST'].includes(endpoint.method) && !endpoint.path.endsWith('/cancel') && !endpoint.path.endsWith('/end-early')) {
      t.ok(operation.requestBody, `${endpoint.method} ${endpoint.path}: request body documented`)
    }
    t.ok(operation.tags?.length > 0 && operation.summary, `${endpoint.path}: tagged and summarised`)
  }
})
