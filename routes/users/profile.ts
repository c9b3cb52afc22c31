import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, NotModifiedSchema, UserIdParamsSchema } from '../../schemas/common.ts'
import { entityTag, notModified } from '../../lib/conditional.ts'
import { ProfileSchema, ProfileUpdateSchema } from '../../schemas/users.ts'

const profileRoutes: FastifyPluginAsyncTypebox = async function profileRoutes (fastify) {
  fastify.get('/users/:userId/profile', {
    schema: {
      tags: ['users'],
      summary: 'A user\'s profile: everything for the user and admins, public fields for others',
      params: UserIdParamsSchema,
      response: { 200: ProfileSchema, 304: NotModifiedSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function getProfile (request, reply) {
    const { targetUserId, actsForSelfOrAdmin } = fastify.authorize
    const profile = await fastify.users.getProfile(targetUserId(request))
    const full = actsForSelfOrAdmin(request)
    // Every change of a profile sets updated_at (to the microsecond); the caller sees all of it or the public part.
    if (notModified(request, reply, entityTag('profile', profile.updatedAt ?? profile.createdAt, full ? 'full' : 'public'))) return await reply.code(304).send(null)
    return full ? profile : fastify.users.publicProfile(profile)
  })

  fastify.put('/users/:userId/profile', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['users'],
      summary: 'Update a profile (own, or any as admin); fields left out are unchanged',
      params: UserIdParamsSchema,
      body: ProfileUpdateSchema,
      response: { 200: ProfileSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 429) }
    }
  }, async function updateProfile (request) {
    return await fastify.users.updateProfile(fastify.authorize.targetUserId(request), request.body)
  })
}

export default profileRoutes
