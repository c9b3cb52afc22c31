import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendStored } from '../../lib/stored-reply.ts'
import { errorResponses, PageQuerySchema, RequiredIdempotencyHeadersSchema, UserIdParamsSchema } from '../../schemas/common.ts'
import { DepositBodySchema, DepositParamsSchema, DepositSchema, DepositsPageSchema, StartedDepositSchema } from '../../schemas/payments.ts'

// Deposits: started by the user, confirmed by the app with Stripe, credited by the webhook.
const depositRoutes: FastifyPluginAsyncTypebox = async function depositRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.post('/users/:userId/deposits', {
    preHandler: fastify.authorize.self('Only the user may deposit into their wallet'),
    schema: {
      tags: ['payments'],
      summary: 'Start a deposit: returns the PaymentIntent client secret the app confirms; the wallet is credited when Stripe confirms the payment',
      description: 'Only the user may deposit into their own wallet. Limits per currency: minimum, maximum and a 24-hour total (422 LIMIT_EXCEEDED).',
      params: UserIdParamsSchema,
      headers: RequiredIdempotencyHeadersSchema,
      body: DepositBodySchema,
      response: { 201: StartedDepositSchema, ...errorResponses(400, 401, 403, 413, 422, 429, 502, 503) }
    }
  }, async function startDeposit (request, reply) {
    const result = await fastify.payments!.deposits.start(request.user.id, request.body, { idempotencyKey: request.headers['idempotency-key'] })
    return await sendStored(reply, result)
  })

  fastify.get('/users/:userId/deposits', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['payments'],
      summary: 'The user\'s deposits, newest first',
      params: UserIdParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: DepositsPageSchema, ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async function listDeposits (request) {
    const { cursor, limit = 20 } = request.query
    return await fastify.payments!.deposits.list(fastify.authorize.targetUserId(request), { cursor, limit })
  })

  fastify.get('/users/:userId/deposits/:depositId', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['payments'],
      summary: 'One deposit: pending, succeeded or failed',
      params: DepositParamsSchema,
      response: { 200: DepositSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function getDeposit (request) {
    return await fastify.payments!.deposits.get(fastify.authorize.targetUserId(request), request.params.depositId)
  })
}

export default depositRoutes
