import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { sendStored } from '../../lib/stored-reply.ts'
import { errorResponses, PageQuerySchema, RequiredIdempotencyHeadersSchema, UserIdParamsSchema } from '../../schemas/common.ts'
import {
  OnboardingLinkSchema, PayoutAccountSchema, WithdrawalBodySchema, WithdrawalParamsSchema, WithdrawalSchema, WithdrawalsPageSchema
} from '../../schemas/payments.ts'

// Withdrawals of deposits and winnings to the user's Stripe Connect Express account.
const withdrawalRoutes: FastifyPluginAsyncTypebox = async function withdrawalRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.post('/users/:userId/payout-account', {
    preHandler: fastify.authorize.self('Only the user may set up their payout account'),
    schema: {
      tags: ['payments'],
      summary: 'Set up (or continue setting up) the payout account: returns a Stripe onboarding link',
      params: UserIdParamsSchema,
      response: { 201: OnboardingLinkSchema, ...errorResponses(400, 401, 403, 429, 502, 503) }
    }
  }, async function onboardPayoutAccount (request, reply) {
    return await reply.code(201).send(await fastify.payments!.payoutAccounts.onboard(request.user.id))
  })

  fastify.get('/users/:userId/payout-account', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['payments'],
      summary: 'The payout account\'s status: onboarding, active or restricted',
      params: UserIdParamsSchema,
      response: { 200: PayoutAccountSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function getPayoutAccount (request) {
    return await fastify.payments!.payoutAccounts.get(fastify.authorize.targetUserId(request))
  })

  fastify.post('/users/:userId/withdrawals', {
    preHandler: fastify.authorize.self('Only the user may withdraw from their wallet'),
    schema: {
      tags: ['payments'],
      summary: 'Withdraw deposits and winnings to the payout account; the amount is reserved at once',
      description: 'Winnings go first, then deposits; promotional credit is never withdrawn. Limits per currency (422 LIMIT_EXCEEDED); ' +
        'amounts above the review threshold wait for an admin. Refused with 409 while a debt is outstanding (OUTSTANDING_DEBT), ' +
        'when the withdrawable balance is short (INSUFFICIENT_FUNDS) or no active payout account exists (CONFLICT).',
      params: UserIdParamsSchema,
      headers: RequiredIdempotencyHeadersSchema,
      body: WithdrawalBodySchema,
      response: { 201: WithdrawalSchema, ...errorResponses(400, 401, 403, 409, 413, 422, 429, 503) }
    }
  }, async function requestWithdrawal (request, reply) {
    const result = await fastify.payments!.withdrawals.request(request.user.id, request.body, { idempotencyKey: request.headers['idempotency-key'] })
    return await sendStored(reply, result)
  })

  fastify.get('/users/:userId/withdrawals', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['payments'],
      summary: 'The user\'s withdrawals, newest first',
      params: UserIdParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: WithdrawalsPageSchema, ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async function listWithdrawals (request) {
    const { cursor, limit = 20 } = request.query
    return await fastify.payments!.withdrawals.list({ userId: fastify.authorize.targetUserId(request) }, { cursor, limit })
  })

  fastify.get('/users/:userId/withdrawals/:withdrawalId', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['payments'],
      summary: 'One withdrawal',
      params: WithdrawalParamsSchema,
      response: { 200: WithdrawalSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function getWithdrawal (request) {
    return await fastify.payments!.withdrawals.get(fastify.authorize.targetUserId(request), request.params.withdrawalId)
  })
}

export default withdrawalRoutes
