import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import prizesRoutes from './prizes.ts'
import standingsRoutes from './standings.ts'

// The leaderboard domain: standings and score changes, then prizes paid from them.
const leaderboardRoutes: FastifyPluginAsyncTypebox = async function leaderboardRoutes (fastify) {
  await fastify.register(standingsRoutes)
  await fastify.register(prizesRoutes)
}

export default leaderboardRoutes
