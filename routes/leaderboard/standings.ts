import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errors } from '../../lib/errors.ts'
import { errorResponses, NotModifiedSchema, RequiredIdempotencyHeadersSchema } from '../../schemas/common.ts'
import { entityTag, notModified } from '../../lib/conditional.ts'
import {
  LeaderboardParamsSchema, LeaderboardQuerySchema, LeaderboardSchema, RANKING_RULE,
  RebuildResultSchema, ScoreUpdateResultSchema, ScoreUpdateSchema
} from '../../schemas/leaderboard.ts'

// The leaderboard domain: reads for signed-in users, score updates and rebuilds for trusted
// callers (admins and the service role). Those are refused on request, before validation.
const standingsRoutes: FastifyPluginAsyncTypebox = async function standingsRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  const trustedOnly = fastify.authorize.admin('Only admins and trusted services may do this')

  fastify.get('/leaderboard/:competitionId', {
    schema: {
      tags: ['leaderboard'],
      summary: 'A competition\'s leaderboard: top N by cursor, total, the caller\'s entry and, with around=me, their neighbours',
      description: `${RANKING_RULE} Served from Redis; when Redis is unavailable the same answer comes from Postgres with degraded: true. ` +
        'Private competitions are visible to their participants, creator and admins only (404 for others).',
      params: LeaderboardParamsSchema,
      querystring: LeaderboardQuerySchema,
      response: { 200: LeaderboardSchema, 304: NotModifiedSchema, ...errorResponses(400, 401, 404, 429, 503) }
    }
  }, async function getLeaderboard (request, reply) {
    const { competitionId } = request.params
    const { cursor, limit, around, k } = request.query
    const read = await fastify.leaderboard.getLeaderboard(competitionId, request.user, { cursor, limit, around: around === 'me', k })
    // The projection version moves with every score, departure and name change; what the page
    // holds besides depends on the caller (its own entry) and on around=me.
    const etag = read.version === null ? null : entityTag(read.version, request.user.id, around === 'me' ? k : '-')
    if (notModified(request, reply, etag)) return await reply.code(304).send(null)
    // Already JSON (the page part is serialised once per leaderboard version and reused), so
    // it is sent as it is: a string payload with a JSON content type skips the serializer.
    return await reply.type('application/json; charset=utf-8').send(read.json as never)
  })

  fastify.post('/leaderboard/update', {
    onRequest: trustedOnly,
    schema: {
      tags: ['leaderboard'],
      summary: 'Change a participant\'s score in a custom-metric competition (admins and trusted services)',
      description: 'Committed to Postgres with its Idempotency-Key before Redis and live clients see it; a retry with the same key changes nothing ' +
        'and answers with the current score (a key reused for a different update is 409). The competition must be active or in grace (409), ' +
        'its metric custom (409), and the user a participant (404). Scores are exact integers up to 2^53 - 1 (422 past it). ' +
        'reachedAt becomes the time of the change whenever the score changes. ' + RANKING_RULE,
      headers: RequiredIdempotencyHeadersSchema,
      body: ScoreUpdateSchema,
      response: { 200: ScoreUpdateResultSchema, ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503) }
    }
  }, async function updateScore (request) {
    const { competitionId, userId, operation, value } = request.body
    if (operation !== 'increment' && value < 0) throw errors.BadRequest('body.value must be >= 0 for set and best')
    const result = await fastify.leaderboard.updateScore({
      competitionId, userId: userId.toLowerCase(), operation, value, idempotencyKey: request.headers['idempotency-key']
    })
    return { competitionId: result.competitionId, userId: result.userId, applied: result.applied, duplicate: result.reason === 'duplicate', score: result.score }
  })

  fastify.post('/admin/leaderboard/rebuild', {
    onRequest: trustedOnly,
    schema: {
      tags: ['admin', 'leaderboard'],
      summary: 'Rebuild the Redis leaderboards of every active and grace competition from Postgres (admins)',
      description: 'Afterwards each projection equals Postgres; live clients receive a fresh snapshot where anything differed. ' +
        'The same runs at start-up and when Redis reconnects.',
      response: { 200: RebuildResultSchema, ...errorResponses(401, 403, 429, 503) }
    }
  }, async function rebuildLeaderboards () {
    return { rebuilt: await fastify.leaderboard.rebuildAll(), at: new Date().toISOString() }
  })

  fastify.post('/admin/leaderboard/:competitionId/rebuild', {
    onRequest: trustedOnly,
    schema: {
      tags: ['admin', 'leaderboard'],
      summary: 'Rebuild one competition\'s Redis leaderboard from Postgres, whatever its status (admins)',
      params: LeaderboardParamsSchema,
      response: { 200: RebuildResultSchema, ...errorResponses(400, 401, 403, 404, 429, 503) }
    }
  }, async function rebuildLeaderboard (request) {
    const { competitionId } = request.params
    if (!await fastify.leaderboard.exists(competitionId)) throw errors.NotFound('Competition not found')
    await fastify.leaderboard.rebuild(competitionId)
    return { rebuilt: [competitionId], at: new Date().toISOString() }
  })
}

export default standingsRoutes
