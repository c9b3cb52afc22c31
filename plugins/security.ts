import fp from 'fastify-plugin'
import helmet from 'helmet'
import fastifyCors from '@fastify/cors'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { onRequestHookHandler } from 'fastify'

// The headers a request-independent middleware sets, as [name, value] pairs, names in lower
// case as Fastify keeps them.
function staticHeaders (middleware: ReturnType<typeof helmet>): Array<[string, string]> {
  const headers: Array<[string, string]> = []
  const recorder = {
    setHeader (name: string, value: string) { headers.push([name.toLowerCase(), String(value)]) },
    removeHeader () {}
  }
  let finished = false
  middleware({} as IncomingMessage, recorder as unknown as ServerResponse, () => { finished = true })
  if (!finished) throw new Error('helmet did not finish synchronously')
  return headers
}

// What an API answer (JSON, metrics) needs, as OWASP's REST security guidance lists it:
// nothing may load from or frame it, no MIME sniffing, HTTPS only, no referrer, not readable by
// other origins' no-cors requests. Helmet's document headers (a script and style policy, opener
// and agent-cluster isolation, legacy IE and Flash switches) mean nothing for JSON and were more
// than half of the bytes of a small answer's headers.
const API_SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['content-security-policy', "default-src 'none'; frame-ancestors 'none'"],
  ['strict-transport-security', 'max-age=31536000; includeSubDomains'],
  ['x-content-type-options', 'nosniff'],
  ['x-frame-options', 'DENY'],
  ['referrer-policy', 'no-referrer'],
  ['cross-origin-resource-policy', 'same-origin']
]

// The routes that serve pages to browsers (Swagger UI, the live leaderboard and their assets):
// these paths and everything below them, whole segments only (not /livestream).
const DOCUMENT_PREFIXES = ['/docs', '/live']

function servesPage (url: string): boolean {
  return DOCUMENT_PREFIXES.some((prefix) => url === prefix || url.startsWith(`${prefix}/`))
}

// An onRequest hook that sets fixed headers. Set on the reply, not the raw response: once
// anything is set on the raw response, Node sets every header Fastify writes one by one again
// (about 4 us per request measured).
function setHeaders (headers: ReadonlyArray<readonly [string, string]>): onRequestHookHandler {
  return function setSecurityHeaders (_request, reply, done) {
    for (let i = 0; i < headers.length; i++) reply.header(headers[i]![0], headers[i]![1])
    done()
  }
}

function parseOrigins (value: string): string[] {
  return value.split(',').map((o) => o.trim()).filter(Boolean)
}

export default fp(async function securityPlugin (fastify) {
  const { config } = fastify

  // One body size limit for every route that does not declare its own (uploads do).
  fastify.addHook('onRoute', (route) => {
    route.bodyLimit ??= config.BODY_LIMIT_BYTES
  })

  // Helmet's headers do not depend on the request (no CSP nonces), so they are worked out once
  // by running its middleware against a recording response, and each request only sets them:
  // the @fastify/helmet wrapper rebuilt the middleware (parsing the CSP again) per request,
  // and even the built middleware is a dozen nested calls per response.
  const documentHeaders = staticHeaders(helmet({
    // Swagger UI and the live page load their own scripts from this origin only.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'https:'],
        connectSrc: ["'self'", 'ws:', 'wss:'],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"]
      }
    },
    strictTransportSecurity: { maxAge: 31536000, includeSubDomains: true }
  }))
  // Every answer gets the API set; the pages' routes set the document set over it.
  fastify.addHook('onRequest', setHeaders(API_SECURITY_HEADERS))
  const setDocumentHeaders = setHeaders(documentHeaders)
  fastify.addHook('onRoute', (route) => {
    if (!servesPage(route.url)) return
    route.onRequest = [setDocumentHeaders, ...[route.onRequest ?? []].flat()]
  })

  const origins = parseOrigins(config.CORS_ORIGINS)
  const allowed = origins.includes('*') ? true : origins
  await fastify.register(fastifyCors, {
    // CORS headers only for callers that send an Origin (browsers); apps, devices and services
    // send none, and their answers would only carry bytes they never read. Vary: Origin stays.
    origin: (origin, callback) => { callback(null, origin ? allowed : false) },
    methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id'],
    exposedHeaders: ['X-Request-Id', 'Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset'],
    maxAge: 600
  })
}, { name: 'security', dependencies: ['config'] })
