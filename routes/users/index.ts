import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import avatarRoutes from './avatar.ts'
import creditRoutes from './credit.ts'
import exportRoutes from './export.ts'
import feedRoutes from './feed.ts'
import leavingRoutes from './leaving.ts'
import profileRoutes from './profile.ts'

// The users domain: profiles, avatars, dashboard, activity, wallet, deletion and export. Every route needs a
// signed-in caller; each route names who else may call it with fastify.authorize.
const usersRoutes: FastifyPluginAsyncTypebox = async function usersRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  await fastify.register(profileRoutes)
  await fastify.register(avatarRoutes)
  await fastify.register(feedRoutes)
  await fastify.register(creditRoutes)
  await fastify.register(leavingRoutes)
  await fastify.register(exportRoutes)
}

export default usersRoutes
