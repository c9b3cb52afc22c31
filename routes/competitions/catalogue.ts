import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, IdParamsSchema } from '../../schemas/common.ts'
import {
  CompetitionListQuerySchema, CompetitionPageSchema, CompetitionSchema, NewCompetitionSchema, START_SKEW_SECONDS
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
      response: { 200: CompetitionPageSchema, ...errorResponses(400, 401, 429) }
    }
  }, async function listCompetitions (request) {
    const { limit = 20, ...filters } = request.query
    return await fastify.competitions.list({ id: request.user.id, isAdmin: request.user.isAdmin }, { ...filters, limit })
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

  fastify.get('/competitions/:id', {
    schema: {
      tags: ['competitions'],
      summary: 'Competition details: status, participant count, prize pool',
      params: IdParamsSchema,
      response: { 200: CompetitionSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function getCompetition (request) {
    return await fastify.competitions.get(request.params.id)
  })
}

export default catalogueRoutes
