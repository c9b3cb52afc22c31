import fp from 'fastify-plugin'
import metricsModule from 'fastify-metrics'
import fastifyUnderPressure from '@fastify/under-pressure'
import promClient from '@prometheus-io/client'
import { errors } from '../lib/errors.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Registry for this instance's metrics, HTTP and business alike.
    metricsRegistry: promClient.Registry
  }
}

export default fp(async function observabilityPlugin (fastify) {
  const { config } = fastify

  // Echo the request id (taken from x-request-id when the caller sent one). Set on the raw
  // response at the start, so every answer carries it, errors included, without a promise
  // per request in the send path.
  fastify.addHook('onRequest', function echoRequestId (request, reply, done) {
    reply.raw.setHeader('x-request-id', request.id)
    done()
  })

  const registry = new promClient.Registry()
  fastify.decorate('metricsRegistry', registry)
  if (config.METRICS_ENABLED) {
    // A CommonJS module whose plugin is its `default` export.
    await fastify.register(metricsModule.default, {
      endpoint: '/metrics',
      defaultMetrics: { enabled: true, register: registry },
      routeMetrics: {
        // The histogram is what the dashboards and alerts read; the summary's per-request
        // quantile sketch (about 2 % of a leaderboard read's CPU) fed nothing.
        enabled: { histogram: true, summary: false },
        registeredRoutesOnly: true,
        routeBlacklist: ['/metrics', '/health', '/health/ready'],
        overrides: { histogram: { registers: [registry] }, summary: { registers: [registry] } }
      },
      promClient
    })
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
