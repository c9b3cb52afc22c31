import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build, bearer } from '../helper.ts'

// Every kind of response carries the same protective headers: success, client error, auth
// failure, rate limit, not found, metrics and the docs. Browsers are told not to sniff, frame,
// or run scripts from elsewhere, and to stay on HTTPS.

function directives (csp: string): Map<string, string> {
  return new Map(csp.split(';').map((d) => d.trim()).filter(Boolean).map((d) => {
    const [name, ...values] = d.split(/\s+/)
    return [name ?? '', values.join(' ')]
  }))
}

test('security headers on every kind of response', async (t) => {
  const app = await build(t, { config: { RATE_LIMIT_MAX: 1 } })
  const user = bearer({ sub: randomUUID() })
  await app.inject({ url: '/api/v1/me', headers: user })
  const responses = {
    'JSON 200': await app.inject({ url: '/health' }),
    readiness: await app.inject({ url: '/health/ready' }),
    401: await app.inject({ url: '/api/v1/me' }),
    404: await app.inject({ url: '/api/v1/nothing-here' }),
    '400 (malformed JSON)': await app.inject({ method: 'POST', url: '/api/v1/me', headers: { 'content-type': 'application/json' }, payload: '{' }),
    429: await app.inject({ url: '/api/v1/me', headers: user }),
    'OpenAPI JSON': await app.inject({ url: '/docs/json' }),
    metrics: await app.inject({ url: '/metrics' })
  }
  t.equal(responses['429'].statusCode, 429, 'the rate-limited case really is a 429')

  for (const [name, res] of Object.entries(responses)) {
    t.test(name, async (t) => {
      const h = res.headers
      const csp = directives(String(h['content-security-policy']))
      t.equal(csp.get('default-src'), "'self'", 'CSP default-src is self')
      t.equal(csp.get('script-src'), "'self'", 'no inline or foreign scripts')
      t.equal(csp.get('object-src'), "'none'", 'no plugins')
      t.equal(csp.get('frame-ancestors'), "'self'", 'not framed by other sites')
      t.equal(csp.get('base-uri'), "'self'")
      t.match(h['strict-transport-security'], /^max-age=31536000; includeSubDomains/, 'HSTS for a year, subdomains included')
      t.equal(h['x-frame-options'], 'SAMEORIGIN')
      t.equal(h['x-content-type-options'], 'nosniff')
      t.equal(h['referrer-policy'], 'no-referrer')
      t.equal(h['cross-origin-opener-policy'], 'same-origin')
      t.equal(h['cross-origin-resource-policy'], 'same-origin')
      t.equal(h['x-dns-prefetch-control'], 'off')
      t.equal(h['x-permitted-cross-domain-policies'], 'none')
      t.notOk(h['x-powered-by'], 'no framework banner')
      t.notOk(h.server, 'no server banner')
      t.ok(h['x-request-id'], 'request id echoed')
      t.ok(h['content-type'], 'a content type is always declared')
    })
  }

  t.test('JSON bodies are declared as JSON in UTF-8', async (t) => {
    for (const name of ['JSON 200', '401', '404', '429'] as const) {
      t.equal(responses[name].headers['content-type'], 'application/json; charset=utf-8', name)
    }
    t.match(responses.metrics.headers['content-type'], /^text\/plain/)
  })
})

test('the Swagger UI page has the same policy', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/docs/' })
  t.ok(res.statusCode < 400, `docs answer ${res.statusCode}`)
  t.match(res.headers['content-security-policy'], /script-src 'self'/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.match(res.headers['content-type'], /^text\/html/)
})
