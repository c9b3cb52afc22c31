import fp from 'fastify-plugin'
import metricsModule from 'fastify-metrics'
import fastifyUnderPressure from '@fastify/under-pressure'
import promClient from '@prometheus-io/client'
import type { FastifyInstance } from 'fastify'
import { errors } from '../lib/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Registry for this instance's metrics, HTTP and business alike.
    metricsRegistry: promClient.Registry
  }
}

const UNTIMED_ROUTES = new Set(['/metrics', '/health', '/health/ready'])

// Request durations by method, route and status, under the names fastify-metrics uses (the
// dashboards and alerts read them). Fastify already times each request (reply.elapsedTime),
// and the labelled child of each (method, route, status) is looked up once: fastify-metrics'
// own hooks (a timer per request, the labels hashed on every observation) cost about 16 us
// of a 80 us leaderboard read.
function recordRouteDurations (fastify: FastifyInstance, registry: promClient.Registry): void {
  const histogram = new promClient.Histogram({
    name: 'http_request_duration_seconds',
    help: 'request duration in seconds',
    labelNames: ['method', 'route', 'status_code'],
    registers: [registry]
  })
  const children = new Map<string, promClient.Histogram.Internal<'method' | 'route' | 'status_code'>>()
  fastify.addHook('onResponse', function recordDuration (request, reply, done) {
    const route = request.routeOptions.url
    // Only registered routes: unmatched paths would make a label per probe.
    if (route === undefined || UNTIMED_ROUTES.has(route)) return done()
    const key = `${request.method} ${route} ${reply.statusCode}`
    let child = children.get(key)
    if (child === undefined) {
      child = histogram.labels(request.method, route, String(reply.statusCode))
      children.set(key, child)
    }
    child.observe(reply.elapsedTime / 1000)
    done()
  })
}

export default fp(async function observabilityPlugin (fastify) {
  const { config } = fastify

  // Echo the request id (taken from x-request-id when the caller sent one). Set at the start,
  // so every answer carries it, errors included, without a promise per request in the send
  // path; on the reply rather than the raw response (see setHeaders in plugins/security.ts).
  fastify.addHook('onRequest', function echoRequestId (request, reply, done) {
    reply.header('x-request-id', request.id)
    done()
  })

  const registry = new promClient.Registry()
  fastify.decorate('metricsRegistry', registry)
  if (config.METRICS_ENABLED) {
    // A CommonJS module whose plugin is its `default` export. It serves /metrics and the
    // process metrics; the per-route histogram is kept below.
    await fastify.register(metricsModule.default, {
      endpoint: '/metrics',
      defaultMetrics: { enabled: true, register: registry },
      routeMetrics: { enabled: false },
      promClient
    })
    recordRouteDurations(fastify, registry)
  }

  await fastify.register(fastifyUnderPressure, {
    maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
    maxHeapUsedBytes: config.MAX_HEAP_USED_BYTES,
    retryAfter: 5,
    // Rejecting (rather than replying here) stops the request and lets the one error
    // handler answer 503 with Retry-After in the common shape.
    pressureHandler: async (request, _reply, type, value) => {
      request.log.warn({ type, value }, 'shedding load')
      throw errors.Overloaded('The service is overloaded, try again shortly')
    }
  })
}, { name: 'observability', dependencies: ['config'] })
