import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, PageQuerySchema, UserIdParamsSchema } from '../../schemas/common.ts'
import { WalletEntriesPageSchema } from '../../schemas/ledger.ts'
import { WalletSchema } from '../../schemas/payments.ts'
import { ActivityPageSchema, DashboardSchema } from '../../schemas/users.ts'

// A user's own views: only the user and admins may read them.
const feedRoutes: FastifyPluginAsyncTypebox = async function feedRoutes (fastify) {
  fastify.get('/users/:userId/dashboard', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['users'],
      summary: 'Today\'s and this week\'s totals, running competitions with rank, wallet balances, recent activity',
      params: UserIdParamsSchema,
      response: { 200: DashboardSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function getDashboard (request) {
    return await fastify.dashboard.get(fastify.authorize.targetUserId(request))
  })

  fastify.get('/users/:userId/activity', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['users'],
      summary: 'The user\'s activity feed, newest first',
      params: UserIdParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: ActivityPageSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listActivity (request) {
    const { cursor, limit = 20 } = request.query
    return await fastify.activity.list(fastify.pg.pool, fastify.authorize.targetUserId(request), { cursor, limit })
  })

  fastify.get('/users/:userId/wallet', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['payments'],
      summary: 'The user\'s wallet per currency: pockets (deposits, winnings, promotional), what may be withdrawn, reserved, frozen and owed',
      params: UserIdParamsSchema,
      response: { 200: WalletSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function getWallet (request) {
    return await fastify.wallet.summary(fastify.authorize.targetUserId(request))
  })

  fastify.get('/users/:userId/transactions', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['users'],
      summary: 'The user\'s wallet ledger entries with running balance, newest first',
      params: UserIdParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: WalletEntriesPageSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listTransactions (request) {
    const { cursor, limit = 20 } = request.query
    return await fastify.ledger.listWalletEntries(fastify.pg.pool, fastify.authorize.targetUserId(request), { cursor, limit })
  })
}

export default feedRoutes
