import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses } from '../../schemas/common.ts'
import { PRIZE_RULES, PrizeParamsSchema, PrizeTableSchema } from '../../schemas/prizes.ts'

// Prizes: anyone who can see a competition may preview its prize table; only admins (and the
// service role) distribute.
const prizesRoutes: FastifyPluginAsyncTypebox = async function prizesRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)

  fastify.post('/prizes/calculate/:competitionId', {
    schema: {
      tags: ['prizes'],
      summary: 'The prize table: pool, amount per place and per winner, held-out participants (changes nothing)',
      description: `${PRIZE_RULES} Once paid, the table that was paid.`,
      params: PrizeParamsSchema,
      response: { 200: PrizeTableSchema, ...errorResponses(400, 401, 404, 429, 503) }
    }
  }, async function calculatePrizes (request) {
    return await fastify.prizes.calculate(request.params.competitionId, request.user)
  })

  fastify.post('/prizes/distribute/:competitionId', {
    preHandler: fastify.authorize.admin('Only admins may distribute prizes'),
    schema: {
      tags: ['prizes', 'admin'],
      summary: 'Pay the prizes of a final competition through the ledger and mark it paid (admins)',
      description: `${PRIZE_RULES} One ledger transaction pays every winner (plus one for the house share); the competition becomes paid. ` +
        'Idempotent by competition: a repeated or concurrent call pays nothing more and returns the same result (with Idempotent-Replayed: true). ' +
        '409 unless the competition is final (or already paid).',
      params: PrizeParamsSchema,
      response: { 200: PrizeTableSchema, ...errorResponses(400, 401, 403, 404, 409, 429, 503) }
    }
  }, async function distributePrizes (request, reply) {
    const { table, created } = await fastify.prizes.distribute(request.params.competitionId, request.user.id)
    reply.header('idempotent-replayed', String(!created))
    return table
  })
}

export default prizesRoutes
