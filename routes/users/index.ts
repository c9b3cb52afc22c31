import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authorise } from './access.ts'
import avatarRoutes from './avatar.ts'
import creditRoutes from './credit.ts'
import feedRoutes from './feed.ts'
import profileRoutes from './profile.ts'

// The users domain: profiles, avatars, dashboard, activity, wallet. Every route needs a
// signed-in caller; the access rule of each route is checked in one hook.
const usersRoutes: FastifyPluginAsyncTypebox = async function usersRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', authorise(fastify))
  await fastify.register(profileRoutes)
  await fastify.register(avatarRoutes)
  await fastify.register(feedRoutes)
  await fastify.register(creditRoutes)
}

export default usersRoutes
