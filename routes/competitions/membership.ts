import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { errorResponses, IdempotencyHeadersSchema, IdParamsSchema } from '../../schemas/common.ts'
import { ActorBodySchema, DepartureSchema, JoinBodySchema, MembershipSchema } from '../../schemas/competitions.ts'

function actor (request: FastifyRequest): { actorId: string, actorIsAdmin: boolean, idempotencyKey?: string } {
  const key = request.headers['idempotency-key']
  return { actorId: request.user.id, actorIsAdmin: request.user.isAdmin, ...(typeof key === 'string' ? { idempotencyKey: key } : {}) }
}

// Join and leave act for the caller, or for body.userId when an admin calls.
const membershipRoutes: FastifyPluginAsyncTypebox = async function membershipRoutes (fastify) {
  fastify.post('/competitions/:id/join', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['competitions'],
      summary: 'Join a competition, paying its entry fee; joining again returns the same membership',
      description: 'A private competition needs an invite code (inviteCode): 403 without one, or with one that was revoked, has ' +
        'expired or is used up. Its creator and admins join without.',
      params: IdParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: JoinBodySchema,
      response: { 200: MembershipSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 422, 429) }
    }
  }, async function joinCompetition (request) {
    const inviteCode = request.body?.inviteCode
    return await fastify.competitions.join(request.params.id, fastify.authorize.targetUserId(request), { ...actor(request), ...(inviteCode === undefined ? {} : { inviteCode }) })
  })

  fastify.post('/competitions/:id/leave', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['competitions'],
      summary: 'Leave a competition before it starts; the entry fee is refunded',
      params: IdParamsSchema,
      headers: IdempotencyHeadersSchema,
      body: ActorBodySchema,
      response: { 200: DepartureSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 422, 429) }
    }
  }, async function leaveCompetition (request) {
    return await fastify.competitions.leave(request.params.id, fastify.authorize.targetUserId(request), actor(request))
  })
}

export default membershipRoutes
