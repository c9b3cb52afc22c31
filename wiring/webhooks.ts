import fp from 'fastify-plugin'
import { DOMAIN_EVENT_TYPES } from '../schemas/domain-events.ts'
import { createTransactor } from '../services/shared/transactions.ts'
import { createWebhookEndpointsService } from '../services/webhooks/endpoints.ts'
import { createWebhookDeliveriesService, DELIVER_QUEUE, type DeliverJob } from '../services/webhooks/deliveries.ts'
import { createDeliveryAttempts } from '../services/webhooks/delivery-attempts.ts'
import { createWebhookSender } from '../services/webhooks/sender.ts'
import { webhookMetrics } from '../services/shared/metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    webhooks: {
      endpoints: ReturnType<typeof createWebhookEndpointsService>
      deliveries: ReturnType<typeof createWebhookDeliveriesService>
    }
  }
}

// Outbound webhooks: every domain event fans out to the endpoints subscribed to its type
// (a durable consumer of the outbox), and each delivery is a job of its own, retried with the
// queue's backoff until it is delivered or its retries run out.
export default fp(async function webhooksWiring (fastify) {
  const { config } = fastify
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const allowPrivate = config.WEBHOOK_ALLOW_PRIVATE_TARGETS
  if (allowPrivate) fastify.log.warn('WEBHOOK_ALLOW_PRIVATE_TARGETS is on: webhooks may reach private and loopback addresses')

  const endpoints = createWebhookEndpointsService({ pool, allowPrivateTargets: allowPrivate })
  const deliveries = createWebhookDeliveriesService({ pool, transact, jobs: fastify.jobs })
  const deliver = createDeliveryAttempts({
    pool,
    transact,
    send: createWebhookSender({ timeoutMs: config.WEBHOOK_TIMEOUT_MS, allowPrivate }),
    metrics: webhookMetrics(fastify.metricsRegistry)
  })
  fastify.decorate('webhooks', { endpoints, deliveries })

  await fastify.jobs.consume({
    name: 'webhooks',
    types: DOMAIN_EVENT_TYPES,
    wants: deliveries.subscribedTypes,
    async handle (event) { await deliveries.fanOut(event) }
  })
  // Retries become due between notifications: poll every second so a backoff of 1 s is ~1 s.
  await fastify.jobs.work<DeliverJob>(DELIVER_QUEUE, { pollingIntervalSeconds: 1 }, deliver)
}, { name: 'webhooks-service', dependencies: ['config', 'postgres', 'jobs', 'observability'] })
