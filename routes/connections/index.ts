import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, UserIdParamsSchema } from '../../schemas/common.ts'
import {
  AuthorizationSchema, ConnectionListSchema, DISCONNECT_RULE, DisconnectQuerySchema, DisconnectResultSchema, UserProviderParamsSchema
} from '../../schemas/connections.ts'
import providerCallbackRoutes from './callback.ts'
import providerWebhookRoutes from './webhooks.ts'

// A user's connections to cloud fitness services (Fitbit, Garmin, Strava, Oura).
const connectionsRoutes: FastifyPluginAsyncTypebox = async function connectionsRoutes (fastify) {
  // Reached by the provider (its redirect, its webhooks), not by our clients: no token.
  await fastify.register(providerCallbackRoutes)
  await fastify.register(providerWebhookRoutes)
  await fastify.register(userConnectionRoutes)
}

const userConnectionRoutes: FastifyPluginAsyncTypebox = async function userConnectionRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  const { connections } = fastify

  fastify.get('/users/:userId/connections', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['connections'],
      summary: 'The user\'s connections to cloud fitness services, with status and last sync',
      params: UserIdParamsSchema,
      response: { 200: ConnectionListSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listConnections (request) {
    return { items: await connections.list(fastify.authorize.targetUserId(request)) }
  })

  fastify.post('/users/:userId/connections/:provider', {
    preHandler: fastify.authorize.self('Only the user may connect their own accounts'),
    schema: {
      tags: ['connections'],
      summary: 'Start connecting a provider (OAuth 2.0 with PKCE): open the returned authorizeUrl',
      description: 'The provider asks the user to grant access and redirects to /api/v1/connections/{provider}/callback. ' +
        'Once connected, the last days are backfilled and new data arrives by the provider\'s webhooks, ' +
        'with periodic reconciliation pulls for notifications that never came.',
      params: UserProviderParamsSchema,
      response: { 201: AuthorizationSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function beginConnection (request, reply) {
    return await reply.code(201).send(await connections.begin(fastify.authorize.targetUserId(request), request.params.provider))
  })

  fastify.delete('/users/:userId/connections/:provider', {
    preHandler: fastify.authorize.selfOrAdmin(),
    schema: {
      tags: ['connections'],
      summary: 'Disconnect a provider',
      description: DISCONNECT_RULE,
      params: UserProviderParamsSchema,
      querystring: DisconnectQuerySchema,
      response: { 200: DisconnectResultSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function disconnectProvider (request) {
    const { provider } = request.params
    const result = await connections.disconnect(fastify.authorize.targetUserId(request), provider, request.query.deleteData ?? false)
    return { provider, ...result }
  })
}

export default connectionsRoutes
