import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { errorResponses, IdParamsSchema } from '../../schemas/common.ts'
import {
  NewWebhookEndpointSchema, WebhookEndpointPageSchema, WebhookEndpointPatchSchema, WebhookEndpointSchema,
  WebhookEndpointWithSecretSchema, WebhookPageQuerySchema
} from '../../schemas/webhooks.ts'

const URL_RULE = 'The url must be https and every address its host resolves to must be public (not loopback, private, ' +
  'link-local, CGNAT, unique-local or multicast); otherwise 400 names the reason. Deliveries check again on every connection.'

const endpointRoutes: FastifyPluginAsyncTypebox = async function endpointRoutes (fastify) {
  const { endpoints } = fastify.webhooks

  fastify.post('/webhooks', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'Register a webhook endpoint; the answer shows its signing secret, once (admins)',
      description: URL_RULE,
      body: NewWebhookEndpointSchema,
      response: { 201: WebhookEndpointWithSecretSchema, ...errorResponses(400, 401, 403, 413, 429) }
    }
  }, async function createWebhookEndpoint (request, reply) {
    const endpoint = await endpoints.create(request.user.id, request.body)
    return await reply.code(201).header('location', `${request.url}/${endpoint.id}`).send(endpoint)
  })

  fastify.get('/webhooks', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'List webhook endpoints, newest first (admins)',
      querystring: WebhookPageQuerySchema,
      response: { 200: WebhookEndpointPageSchema, ...errorResponses(400, 401, 403, 429) }
    }
  }, async function listWebhookEndpoints (request) {
    return await endpoints.list({ cursor: request.query.cursor, limit: request.query.limit ?? 20 })
  })

  fastify.get('/webhooks/:id', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'A webhook endpoint, with why it was disabled if it was (admins)',
      params: IdParamsSchema,
      response: { 200: WebhookEndpointSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function getWebhookEndpoint (request) {
    return await endpoints.get(request.params.id)
  })

  fastify.patch('/webhooks/:id', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'Change a webhook endpoint; enabled: true re-enables it and clears the reason (admins)',
      description: URL_RULE,
      params: IdParamsSchema,
      body: WebhookEndpointPatchSchema,
      response: { 200: WebhookEndpointSchema, ...errorResponses(400, 401, 403, 404, 413, 429) }
    }
  }, async function updateWebhookEndpoint (request) {
    return await endpoints.update(request.params.id, request.body)
  })

  fastify.delete('/webhooks/:id', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'Delete a webhook endpoint and its delivery log (admins)',
      params: IdParamsSchema,
      response: { 204: Type.Null({ description: 'Deleted' }), ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function deleteWebhookEndpoint (request, reply) {
    await endpoints.remove(request.params.id)
    return await reply.code(204).send(null)
  })

  fastify.post('/webhooks/:id/rotate-secret', {
    schema: {
      tags: ['webhooks', 'admin'],
      summary: 'Replace an endpoint\'s signing secret; the old one stops signing at once (admins)',
      params: IdParamsSchema,
      response: { 200: WebhookEndpointWithSecretSchema, ...errorResponses(400, 401, 403, 404, 429) }
    }
  }, async function rotateWebhookSecret (request) {
    return await endpoints.rotateSecret(request.params.id)
  })
}

export default endpointRoutes
