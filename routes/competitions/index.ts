import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import catalogueRoutes from './catalogue.ts'
import lifecycleRoutes from './lifecycle.ts'
import membershipRoutes from './membership.ts'
import inviteRoutes from './invites.ts'
import userCompetitionRoutes from './user-competitions.ts'
import seriesRoutes from './series.ts'

// The competitions domain: catalogue, joining and leaving, admin lifecycle actions, repeating series. Every
// route needs a signed-in caller; each route names who else may call it with fastify.authorize.
const competitionsRoutes: FastifyPluginAsyncTypebox = async function competitionsRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  await fastify.register(catalogueRoutes)
  await fastify.register(membershipRoutes)
  await fastify.register(inviteRoutes)
  await fastify.register(lifecycleRoutes)
  await fastify.register(userCompetitionRoutes)
  await fastify.register(seriesRoutes)
}

export default competitionsRoutes
