import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import inboxRoutes from './inbox.ts'
import deviceRoutes from './devices.ts'
import preferenceRoutes from './preferences.ts'

// A user's notifications: inbox, push devices, preferences. Every route needs a signed-in
// caller; each names who else may call it with fastify.authorize.
const notificationsRoutes: FastifyPluginAsyncTypebox = async function notificationsRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  await fastify.register(inboxRoutes)
  await fastify.register(deviceRoutes)
  await fastify.register(preferenceRoutes)
}

export default notificationsRoutes
