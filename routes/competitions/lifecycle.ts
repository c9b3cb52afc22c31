import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, IdParamsSchema } from '../../schemas/common.ts'
import { CompetitionSchema } from '../../schemas/competitions.ts'

// Admin actions on the status machine; lifecycle jobs do the timed ones.
const lifecycleRoutes: FastifyPluginAsyncTypebox = async function lifecycleRoutes (fastify) {
  fastify.post('/competitions/:id/cancel', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['competitions', 'admin'],
      summary: 'Cancel a competition and refund every entry fee (admins); repeating it changes nothing',
      params: IdParamsSchema,
      response: { 200: CompetitionSchema, ...errorResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async function cancelCompetition (request) {
    await fastify.lifecycle.cancel(request.params.id, request.user.id)
    return await fastify.competitions.get(request.params.id)
  })

  fastify.post('/competitions/:id/end-early', {
    preHandler: fastify.authorize.admin(),
    schema: {
      tags: ['competitions', 'admin'],
      summary: 'End a running competition now (to grace), or end its grace period (to final) (admins)',
      params: IdParamsSchema,
      response: { 200: CompetitionSchema, ...errorResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async function endCompetitionEarly (request) {
    await fastify.lifecycle.endEarly(request.params.id)
    return await fastify.competitions.get(request.params.id)
  })
}

export default lifecycleRoutes
