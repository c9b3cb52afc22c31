import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { errorResponses, IdParamsSchema } from '../../schemas/common.ts'
import { WebhookDeliveryPageSchema, WebhookDeliverySchema, WebhookPageQuerySchema } from '../../schemas/webhooks.ts'

// The delivery log: what was sent where, how often, and the last answer.
const deliveryRoutes: FastifyPluginAsyncTypebox = async function deliveryRoutes (fastify) {
  const { deliveries } = fastify.webhooks

  fastify.get('/webhooks/:id/deliveries', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'An endpoint\'s deliveries, newest first, with attempts and the last answer (admins)',
      params: IdParamsSchema,
      querystring: WebhookPageQuerySchema,
      response: { 200: WebhookDeliveryPageSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function listWebhookDeliveries (request) {
    return await deliveries.list(request.params.id, { cursor: request.query.cursor, limit: request.query.limit ?? 20 })
  })

  fastify.post('/webhook-deliveries/:id/replay', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'Send a delivery again: same webhook-id and body, attempts counting on (admins)',
      description: 'The endpoint must be enabled (409 otherwise). The delivery is pending again until the new attempts settle it.',
      params: IdParamsSchema,
      response: { 202: WebhookDeliverySchema, ...errorResponses(400, 401, 403, 404, 409, 429) }
    }
  }, async function replayWebhookDelivery (request, reply) {
    return await reply.code(202).send(await deliveries.replay(request.params.id))
  })
}

export default deliveryRoutes
