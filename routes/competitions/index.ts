import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { authorise } from '../users/access.ts'
import catalogueRoutes from './catalogue.ts'
import lifecycleRoutes from './lifecycle.ts'
import membershipRoutes from './membership.ts'
import userCompetitionRoutes from './user-competitions.ts'

// The competitions domain: catalogue, joining and leaving, admin lifecycle actions.
const competitionsRoutes: FastifyPluginAsyncTypebox = async function competitionsRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  fastify.addHook('preHandler', authorise(fastify))
  await fastify.register(catalogueRoutes)
  await fastify.register(membershipRoutes)
  await fastify.register(lifecycleRoutes)
  await fastify.register(userCompetitionRoutes)
}

export default competitionsRoutes
