import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../helper.ts'

// Every kind of API answer carries the same protective headers: success, client error, auth
// failure, rate limit, not found and metrics. Nothing may load from or
// frame an answer, browsers must not sniff it and stay on HTTPS. Pages (Swagger UI, the live
// leaderboard, and the OpenAPI document served with Swagger UI) carry the document policy
// instead: their own scripts and styles only.

function directives (csp: string): Map<string, string> {
  return new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name, ...values] = d.split(/\s+/)
    return [name ?? '', values.join(' ')]
  }))
}

test('API security headers on every kind of answer', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 1 } })
  const user = bearer({ sub: randomUUID() })
  await app.inject({ url: '/api/v1/me', headers: user })
  const responses = {
    'JSON 200': await app.inject({ url: '/health' }),
    readiness: await app.inject({ url: '/health/ready' }),
    401: await app.inject({ url: '/api/v1/me' }),
    404: await app.inject({ url: '/api/v1/nothing-here' }),
    '404 under a page prefix': await app.inject({ url: '/docs-nothing-here' }),
    '400 (malformed JSON)': await app.inject({ method: 'POST', url: '/api/v1/me', headers: { 'content-type': 'application/json' }, payload: '{' }),
    429: await app.inject({ url: '/api/v1/me', headers: user }),
    metrics: await app.inject({ url: '/metrics' })
  }
  t.equal(responses['429'].statusCode, 429, 'the rate-limited case really is a 429')

  for (const [name, res] of Object.entries(responses)) {
    t.test(name, async (t) => {
      const h = res.headers
      const csp = directives(String(h['content-security-policy']))
      t.equal(csp.get('default-src'), "'none'", 'nothing may load from an answer')
      t.equal(csp.get('frame-ancestors'), "'none'", 'an answer is never framed')
      t.equal(h['x-frame-options'], 'DENY')
      t.match(h['strict-transport-security'], /^max-age=31536000; includeSubDomains/, 'HSTS for a year, subdomains included')
      t.equal(h['x-content-type-options'], 'nosniff')
      t.equal(h['referrer-policy'], 'no-referrer')
      t.equal(h['cross-origin-resource-policy'], 'same-origin')
      t.notOk(h['x-powered-by'], 'no framework banner')
      t.notOk(h.server, 'no server banner')
      t.ok(h['x-request-id'], 'request id echoed')
      t.ok(h['content-type'], 'a content type is always declared')
      for (const pageOnly of ['cross-origin-opener-policy', 'origin-agent-cluster', 'x-dns-prefetch-control', 'x-download-options', 'x-xss-protection']) {
        t.notOk(h[pageOnly], `no ${pageOnly}: it applies to pages only`)
      }
    })
  }

  t.test('JSON bodies are declared as JSON in UTF-8', async (t) => {
    for (const name of ['JSON 200', '401', '404', '429'] as const) {
      t.equal(responses[name].headers['content-type'], 'application/json; charset=utf-8', name)
    }
    t.match(responses.metrics.headers['content-type'], /^text\/plain/)
  })
})

test('pages carry the document policy: their own scripts and styles only', async (t) => {
  const app = await build(t)
  for (const url of ['/docs/', '/docs/json', '/live/6f1c4b7e-2d3a-4c5b-8e9f-0a1b2c3d4e5f', '/live/assets/app.js']) {
    const res = await app.inject({ url })
    t.ok(res.statusCode < 400, `${url} answers ${res.statusCode}`)
    const h = res.headers
    const csp = directives(String(h['content-security-policy']))
    t.equal(csp.get('default-src'), "'self'", url)
    t.equal(csp.get('script-src'), "'self'", 'no inline or foreign scripts')
    t.equal(csp.get('object-src'), "'none'", 'no plugins')
    t.equal(csp.get('frame-ancestors'), "'self'", 'not framed by other sites')
    t.equal(csp.get('base-uri'), "'self'")
    t.equal(h['x-frame-options'], 'SAMEORIGIN')
    t.equal(h['x-content-type-options'], 'nosniff')
    t.equal(h['cross-origin-opener-policy'], 'same-origin')
    t.equal(h['cross-origin-resource-policy'], 'same-origin')
    t.equal(h['x-permitted-cross-domain-policies'], 'none')
    t.match(h['strict-transport-security'], /^max-age=31536000/)
  }
  t.match((await app.inject({ url: '/docs/' })).headers['content-type'], /^text\/html/)
})

test('CORS headers go to callers that send an Origin, and only then', async (t) => {
  const app = await build(t, { config: { CORS_ORIGINS: 'https://app.example.com' } })
  const plain = await app.inject({ url: '/health' })
  t.notOk(plain.headers['access-control-expose-headers'], 'no CORS headers for a caller without an Origin')
  t.notOk(plain.headers['access-control-allow-origin'])
  t.match(plain.headers.vary, /Origin/, 'the answer still varies by Origin for caches')
  const browser = await app.inject({ url: '/health', headers: { origin: 'https://app.example.com' } })
  t.equal(browser.headers['access-control-allow-origin'], 'https://app.example.com')
  t.match(browser.headers['access-control-expose-headers'], /X-Request-Id/)
  t.match(browser.headers['access-control-expose-headers'], /Retry-After/)
  const stranger = await app.inject({ url: '/health', headers: { origin: 'https://evil.example.net' } })
  t.notOk(stranger.headers['access-control-allow-origin'], 'an unknown origin is not allowed')
})

test('the page policy goes by whole path segments: a route that only starts like a page is API', async (t) => {
  const app = await build(t, {
    extend: (child) => {
      child.get('/livestream', async () => ({ ok: true }))
      child.get('/docs-export', async () => ({ ok: true }))
    }
  })
  for (const url of ['/livestream', '/docs-export']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.equal(directives(String(res.headers['content-security-policy'])).get('default-src'), "'none'", `${url} has the API policy`)
    t.equal(res.headers['x-frame-options'], 'DENY')
  }
})
