import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import jobsRoutes from './jobs.ts'

// Operator actions that belong to no single domain (the job queue). Every route needs a
// signed-in admin.
const adminRoutes: FastifyPluginAsyncTypebox = async function adminRoutes (fastify) {
  fastify.addHook('onRequest', fastify.authenticate)
  await fastify.register(jobsRoutes)
}

export default adminRoutes
