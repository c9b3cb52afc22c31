import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, IdParamsSchema, PageQuerySchema } from '../../schemas/common.ts'
import { InvitePageSchema, InviteParamsSchema, InviteSchema, NewInviteSchema } from '../../schemas/competitions.ts'

const WHO = 'The competition\'s creator and admins (403 for others).'

// Invites to private competitions: made, listed and revoked by the creator and admins.
const inviteRoutes: FastifyPluginAsyncTypebox = async function inviteRoutes (fastify) {
  fastify.post('/competitions/:id/invites', {
    schema: {
      tags: ['competitions'],
      summary: 'Create an invite: a code (and link) that lets friends see and join a private competition',
      description: `${WHO} An invite works until it is revoked, expires (expiresAt) or has admitted maxUses joins.`,
      params: IdParamsSchema,
      body: NewInviteSchema,
      response: { 201: InviteSchema, ...errorResponses(400, 401, 403, 404, 413, 429) }
    }
  }, async function createInvite (request, reply) {
    const invite = await fastify.competitions.invites.create(request.params.id, request.user, request.body ?? {})
    return await reply.code(201).send(invite)
  })

  fastify.get('/competitions/:id/invites', {
    schema: {
      tags: ['competitions'],
      summary: 'A competition\'s invites, newest first, with their uses',
      description: WHO,
      params: IdParamsSchema,
      querystring: PageQuerySchema,
      response: { 200: InvitePageSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function listInvites (request) {
    const { cursor, limit = 20 } = request.query
    return await fastify.competitions.invites.list(request.params.id, request.user, { cursor, limit })
  })

  fastify.delete('/competitions/:id/invites/:code', {
    schema: {
      tags: ['competitions'],
      summary: 'Revoke an invite: it admits nobody from now on (those who joined with it stay)',
      description: WHO,
      params: InviteParamsSchema,
      response: { 200: InviteSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function revokeInvite (request) {
    return await fastify.competitions.invites.revoke(request.params.id, request.params.code, request.user)
  })
}

export default inviteRoutes
