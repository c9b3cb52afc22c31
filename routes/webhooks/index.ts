import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import endpointRoutes from './endpoints.ts'
import deliveryRoutes from './deliveries.ts'

// Outbound webhooks for integrators: endpoints and their delivery log. Admins only, decided
// once for the whole domain (401 for no token, then 403 before the input is looked at).
const webhooksRoutes: FastifyPluginAsyncTypebox = async function webhooksRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('onRequest', fastify.authorize.admin('Only admins may manage webhooks'))
  await fastify.register(endpointRoutes)
  await fastify.register(deliveryRoutes)
}

export default webhooksRoutes
