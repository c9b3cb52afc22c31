import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, IdParamsSchema, NotModifiedSchema } from '../../schemas/common.ts'
import { entityTag, notModified } from '../../lib/conditional.ts'
import {
  CompetitionListQuerySchema, CompetitionPageSchema, CompetitionPatchSchema, CompetitionQuerySchema, EDIT_RULES, CompetitionSchema, NewCompetitionSchema, START_SKEW_SECONDS
} from '../../schemas/competitions.ts'

const CREATE_DESCRIPTION = `startsAt may be up to ${START_SKEW_SECONDS} s before the server's clock (the request took time to arrive); ` +
  'earlier is 400. endsAt must be after startsAt, and a percent prizeSplit must sum to 100 (400 otherwise).'

const catalogueRoutes: FastifyPluginAsyncTypebox = async function catalogueRoutes (fastify) {
  // COMPETITION_CREATORS=admins (the default) makes creating a competition an admin action.
  const mayCreate = fastify.config.COMPETITION_CREATORS === 'admins' ? [fastify.authorize.admin('Only admins may create competitions')] : []

  fastify.get('/competitions', {
    schema: {
      tags: ['competitions'],
      summary: 'List competitions, newest first, with filters',
      querystring: CompetitionListQuerySchema,
      response: { 200: CompetitionPageSchema, 304: NotModifiedSchema, ...errorResponses(400, 401, 429) }
    }
  }, async function listCompetitions (request, reply) {
    const { limit = 20, ...filters } = request.query
    const { page, version } = await fastify.competitions.list({ id: request.user.id, isAdmin: request.user.isAdmin }, { ...filters, limit })
    // Which private competitions a page shows depends on the caller.
    if (notModified(request, reply, entityTag('competitions', version, request.user.id))) return await reply.code(304).send(null)
    return page
  })

  fastify.post('/competitions', {
    preHandler: mayCreate,
    schema: {
      tags: ['competitions'],
      summary: 'Create a competition (admins, unless COMPETITION_CREATORS=users)',
      description: CREATE_DESCRIPTION,
      body: NewCompetitionSchema,
      response: { 201: CompetitionSchema, ...errorResponses(400, 401, 403, 413, 429) }
    }
  }, async function createCompetition (request, reply) {
    const competition = await fastify.competitions.create(request.user.id, request.body)
    return await reply.code(201).header('location', `${request.url}/${competition.id}`).send(competition)
  })

  fastify.patch('/competitions/:id', {
    schema: {
      tags: ['competitions'],
      summary: 'Change a competition (admins, or its creator); what may change depends on how far it has come',
      description: EDIT_RULES,
      params: IdParamsSchema,
      body: CompetitionPatchSchema,
      response: { 200: CompetitionSchema, ...errorResponses(400, 401, 403, 404, 409, 413, 429) }
    }
  }, async function updateCompetition (request) {
    return await fastify.competitions.edit(request.params.id, request.user, request.body)
  })

  fastify.get('/competitions/:id', {
    schema: {
      tags: ['competitions'],
      summary: 'Competition details: status, participant count, prize pool',
      description: 'A private competition is shown to its creator, its participants, admins, and to whoever sends a usable invite ' +
        'code (?invite=, to decide whether to join); to anyone else it is 404, as if it did not exist. Its leaderboard and live feed ' +
        'are for its participants, creator and admins only.',
      params: IdParamsSchema,
      querystring: CompetitionQuerySchema,
      response: { 200: CompetitionSchema, 304: NotModifiedSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function getCompetition (request, reply) {
    const { invite } = request.query
    const viewer = { ...request.user, ...(invite === undefined ? {} : { inviteCode: invite }) }
    const { competition, version } = await fastify.competitions.getVersioned(request.params.id, undefined, viewer)
    if (notModified(request, reply, entityTag('competition', version))) return await reply.code(304).send(null)
    return competition
  })
}

export default catalogueRoutes
