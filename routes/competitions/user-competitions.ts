import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, UserIdParamsSchema } from '../../schemas/common.ts'
import { UserCompetitionPageSchema, UserCompetitionsQuerySchema } from '../../schemas/competitions.ts'

const userCompetitionRoutes: FastifyPluginAsyncTypebox = async function userCompetitionRoutes (fastify) {
  fastify.get('/users/:userId/competitions', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['competitions'],
      summary: 'The user\'s current and past competitions with score, rank and final rank',
      params: UserIdParamsSchema,
      querystring: UserCompetitionsQuerySchema,
      response: { 200: UserCompetitionPageSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listUserCompetitions (request) {
    const { scope = 'all', cursor, limit = 20 } = request.query
    return await fastify.userCompetitions.list(fastify.authorize.targetUserId(request), { scope, cursor, limit })
  })
}

export default userCompetitionRoutes
