import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, PageQuerySchema } from '../../schemas/common.ts'
import {
  AdminWithdrawalParamsSchema, AdminWithdrawalsQuerySchema, ReconciliationReportSchema, ReconciliationsPageSchema,
  ReconciliationRunBodySchema, WithdrawalSchema, WithdrawalsPageSchema
} from '../../schemas/payments.ts'

// Admins: withdrawals waiting for review and the decision on each; reconciliation reports.
const paymentsAdminRoutes: FastifyPluginAsyncTypebox = async function paymentsAdminRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', fastify.authorize.admin('Only admins may review payments'))

  fastify.get('/admin/payments/withdrawals', {
    schema: {
      tags: ['admin'],
      summary: 'Withdrawals of every user, newest first, by status (review: waiting for a decision)',
      querystring: AdminWithdrawalsQuerySchema,
      response: { 200: WithdrawalsPageSchema, ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async function listAllWithdrawals (request) {
    const { status, cursor, limit = 20 } = request.query
    return await fastify.payments!.withdrawals.list({ status }, { cursor, limit })
  })

  for (const decision of ['approve', 'reject'] as const) {
    fastify.post(`/admin/payments/withdrawals/:withdrawalId/${decision}`, {
      schema: {
        operationId: `${decision}Withdrawal`,
        tags: ['admin'],
        summary: decision === 'approve' ? 'Approve a withdrawal waiting for review: it is sent' : 'Reject a withdrawal waiting for review: the money goes back to the wallet',
        params: AdminWithdrawalParamsSchema,
        response: { 200: WithdrawalSchema, ...errorResponses(400, 401, 403, 404, 409, 429, 503) }
      }
    }, async function reviewWithdrawal (request) {
      return await fastify.payments!.withdrawals.review(request.params.withdrawalId, decision, request.user.id)
    })
  }

  fastify.get('/admin/payments/reconciliations', {
    schema: {
      tags: ['admin'],
      summary: 'Reconciliation runs, latest first: the ledger against the gateway\'s balance transactions, every difference listed',
      querystring: PageQuerySchema,
      response: { 200: ReconciliationsPageSchema, ...errorResponses(400, 401, 403, 429, 503) }
    }
  }, async function listReconciliations (request) {
    const { cursor, limit = 20 } = request.query
    return await fastify.payments!.reconciliation.list({ cursor, limit })
  })

  fastify.post('/admin/payments/reconciliations', {
    schema: {
      tags: ['admin'],
      summary: 'Reconcile one UTC day now (the daily job reconciles yesterday at 01:15 UTC)',
      body: ReconciliationRunBodySchema,
      response: { 201: ReconciliationReportSchema, ...errorResponses(400, 401, 403, 413, 429, 502, 503) }
    }
  }, async function runReconciliation (request, reply) {
    return await reply.code(201).send(await fastify.payments!.reconciliation.run(request.body.day))
  })
}

export default paymentsAdminRoutes
