import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyRequest } from 'fastify'
import { errorResponses, IdParamsSchema } from '../../schemas/common.ts'
import { NewSeriesSchema, SeriesListQuerySchema, SeriesPageSchema, SeriesSchema, SubscriptionSchema } from '../../schemas/series.ts'

type IdRequest = FastifyRequest<{ Params: { id: string } }>

const PRIVATE = 'A private series is seen by its creator and admins only (404 for others).'
const MANAGE = 'Its creator and admins (403 for others); a stopped series cannot change (409).'

// Repeating competitions: a series creates a competition per occurrence of its schedule, ahead
// of its start, and joins its subscribers to each (services/competitions/series-runs.ts).
const seriesRoutes: FastifyPluginAsyncTypebox = async function seriesRoutes (fastify) {
  // The same rule as creating one competition.
  const mayCreate = fastify.config.COMPETITION_CREATORS === 'admins' ? [fastify.authorize.admin('Only admins may create competition series')] : []

  fastify.post('/competition-series', {
    preHandler: mayCreate,
    schema: {
      tags: ['competitions'],
      summary: 'Create a repeating competition (admins, unless COMPETITION_CREATORS=users)',
      description: 'The competition fields are a template; each occurrence of the schedule (in timeZone) gets a competition of ' +
        'durationSeconds, created createAheadSeconds before it starts. The template is checked as a competition is (400).',
      body: NewSeriesSchema,
      response: { 201: SeriesSchema, ...errorResponses(400, 401, 403, 413, 429) }
    }
  }, async function createSeries (request, reply) {
    const series = await fastify.series.create(request.user.id, request.body)
    return await reply.code(201).header('location', `${request.url}/${series.id}`).send(series)
  })

  fastify.get('/competition-series', {
    schema: {
      tags: ['competitions'],
      summary: 'List competition series, newest first: public ones and the caller\'s own (admins: all)',
      querystring: SeriesListQuerySchema,
      response: { 200: SeriesPageSchema, ...errorResponses(400, 401, 429) }
    }
  }, async function listSeries (request) {
    const { limit = 20, ...filters } = request.query
    return await fastify.series.list(request.user, { ...filters, limit })
  })

  fastify.get('/competition-series/:id', {
    schema: {
      tags: ['competitions'],
      summary: 'A competition series: its template, schedule, status and next occurrence',
      description: PRIVATE,
      params: IdParamsSchema,
      response: { 200: SeriesSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function getSeries (request) {
    return await fastify.series.get(request.params.id, request.user)
  })

  // Named handlers, one per action: a handler's name is its operationId.
  const transitions = [
    ['pause', 'Pause a series: no competitions are created until it is resumed',
      async function pauseSeries (request: IdRequest) { return await fastify.series.setStatus(request.params.id, request.user, 'paused') }],
    ['resume', 'Resume a paused series from its next occurrence after now',
      async function resumeSeries (request: IdRequest) { return await fastify.series.setStatus(request.params.id, request.user, 'active') }],
    ['stop', 'Stop a series for good; competitions already created go on',
      async function stopSeries (request: IdRequest) { return await fastify.series.setStatus(request.params.id, request.user, 'stopped') }]
  ] as const
  for (const [action, summary, handler] of transitions) {
    fastify.post(`/competition-series/:id/${action}`, {
      schema: {
        tags: ['competitions'],
        summary,
        description: `${MANAGE} Repeating it changes nothing.`,
        params: IdParamsSchema,
        response: { 200: SeriesSchema, ...errorResponses(400, 401, 403, 404, 409, 429) }
      }
    }, handler)
  }

  fastify.get('/competition-series/:id/subscription', {
    schema: {
      tags: ['competitions'],
      summary: 'The caller\'s subscription to a series, with the outcomes of their latest automatic joins',
      description: 'A failed join says why (reason) and moved no money.',
      params: IdParamsSchema,
      response: { 200: SubscriptionSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function getSubscription (request) {
    return await fastify.series.getSubscription(request.params.id, request.user)
  })

  fastify.put('/competition-series/:id/subscription', {
    schema: {
      tags: ['competitions'],
      summary: 'Join each competition the series creates from now on automatically, paying its entry fee from the wallet',
      description: 'Subscribers are joined in the order they subscribed when a competition is created; when a join fails ' +
        '(insufficient funds, full, ...) the outcome says why and the user is notified. Subscribing again changes nothing. A stopped ' +
        'series is 409; a private one is subscribed to by its creator only (403 for admins).',
      params: IdParamsSchema,
      response: { 200: SubscriptionSchema, ...errorResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async function subscribeToSeries (request) {
    return await fastify.series.subscribe(request.params.id, request.user)
  })

  fastify.delete('/competition-series/:id/subscription', {
    schema: {
      tags: ['competitions'],
      summary: 'Stop joining the series\' competitions automatically; competitions already joined are kept',
      params: IdParamsSchema,
      response: { 200: SubscriptionSchema, ...errorResponses(400, 401, 404, 429) }
    }
  }, async function unsubscribeFromSeries (request) {
    return await fastify.series.unsubscribe(request.params.id, request.user)
  })
}

export default seriesRoutes
