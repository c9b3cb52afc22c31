import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../lib/errors.ts'
import depositRoutes from './deposits.ts'
import stripeWebhookRoutes from './stripe-webhook.ts'
import withdrawalRoutes from './withdrawals.ts'
import paymentsAdminRoutes from './admin.ts'

// Money in and out through the gateway. Without Stripe keys every route here answers 503
// PAYMENTS_DISABLED (before authentication: there is nothing to authorise).
const paymentsRoutes: FastifyPluginAsyncTypebox = async function paymentsRoutes (fastify) {
  fastify.addHook('onRequest', async function paymentsEnabled () {
    if (fastify.payments === null) throw errors.PaymentsDisabled('Payments are not configured on this service')
  })
  await fastify.register(stripeWebhookRoutes)
  await fastify.register(depositRoutes)
  await fastify.register(withdrawalRoutes)
  await fastify.register(paymentsAdminRoutes)
}

export default paymentsRoutes
