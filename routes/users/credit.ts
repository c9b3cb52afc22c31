import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, RequiredIdempotencyHeadersSchema, UserIdParamsSchema } from '../../schemas/common.ts'
import { CreditBodySchema, CreditResultSchema } from '../../schemas/ledger.ts'
import { sendStored } from '../../lib/stored-reply.ts'

// Support credits until a payment gateway exists: money enters from the external account.
const creditRoutes: FastifyPluginAsyncTypebox = async function creditRoutes (fastify) {
  fastify.post('/admin/users/:userId/credit', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['admin'],
      summary: 'Credit a user\'s wallet (admins); a retry with the same Idempotency-Key changes nothing',
      params: UserIdParamsSchema,
      headers: RequiredIdempotencyHeadersSchema,
      body: CreditBodySchema,
      response: { 201: CreditResultSchema, ...errorResponses(400, 401, 403, 404, 413, 422, 429) }
    }
  }, async function creditWallet (request, reply) {
    const result = await fastify.wallet.credit(fastify.authorize.targetUserId(request), request.body, {
      actorId: request.user.id,
      idempotencyKey: request.headers['idempotency-key']
    })
    return await sendStored(reply, result)
  })
}

export default creditRoutes
