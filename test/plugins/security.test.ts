import { test } from 'tap'
import { build } from '../helper.ts'

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
