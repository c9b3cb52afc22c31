import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../helper.ts'

test('request id is taken from x-request-id and echoed, or minted', async (t) => {
  const app = await build(t)
  const given = await app.inject({ url: '/health', headers: { 'x-request-id': 'client-abc.123' } })
  t.equal(given.headers['x-request-id'], 'client-abc.123')
  const minted = await app.inject({ url: '/health' })
  t.match(minted.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  const unsafe = await app.inject({ url: '/health', headers: { 'x-request-id': 'bad id\n<script>' } })
  t.not(unsafe.headers['x-request-id'], 'bad id\n<script>')
  const error = await app.inject({ url: '/nowhere', headers: { 'x-request-id': 'trace-404' } })
  t.equal(error.statusCode, 404)
  t.equal(error.json().requestId, 'trace-404', 'error bodies carry the request id')
})

test('rate limit answers 429 with Retry-After in the error shape, per user', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 3, RATE_LIMIT_WINDOW_MS: 60_000 } })
  const alice = bearer({ sub: randomUUID() })
  const codes = []
  for (let i = 0; i < 4; i++) codes.push((await app.inject({ url: '/api/v1/me', headers: alice })).statusCode)
  t.same(codes, [200, 200, 200, 429])
  const limited = await app.inject({ url: '/api/v1/me', headers: alice })
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0, 'Retry-After is set')
  t.equal(limited.headers['x-ratelimit-limit'], '3')
  t.match(limited.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests' })
  const bob = await app.inject({ url: '/api/v1/me', headers: bearer({ sub: randomUUID() }) })
  t.equal(bob.statusCode, 200, 'another user has a budget of their own')
})

test('rate limit budget is shared by instances through Redis', async (t) => {
  const first = await build(t, { config: { RATE_LIMIT_MAX: 2 } })
  const config = { databaseUrl: first.config.DATABASE_URL, redisPrefix: first.config.REDIS_KEY_PREFIX, config: { RATE_LIMIT_MAX: 2 } }
  const second = await build(t, config)
  const carol = bearer({ sub: randomUUID() })
  t.equal((await first.inject({ url: '/api/v1/me', headers: carol })).statusCode, 200)
  t.equal((await second.inject({ url: '/api/v1/me', headers: carol })).statusCode, 200)
  t.equal((await first.inject({ url: '/api/v1/me', headers: carol })).statusCode, 429)
})

test('security headers are present', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/health' })
  t.match(res.headers['content-security-policy'], /default-src 'none'/)
  t.match(res.headers['strict-transport-security'], /max-age=31536000/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.notOk(res.headers['x-powered-by'])
})

test('CORS preflight honours the configured origins', async (t) => {
  const app = await build(t, { config: { CORS_ORIGINS: 'https://app.example.com, https://admin.example.com' } })
  const preflight = async (origin: string) => await app.inject({
    method: 'OPTIONS',
    url: '/api/v1/me',
    headers: { origin, 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' }
  })
  const allowed = await preflight('https://app.example.com')
  t.equal(allowed.statusCode, 204)
  t.equal(allowed.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(allowed.headers['access-control-allow-headers'], /Authorization/)
  const denied = await preflight('https://evil.example.net')
  t.notOk(denied.headers['access-control-allow-origin'], 'an unknown origin gets no allow header')
})
