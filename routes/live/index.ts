import type { FastifyPluginAsync } from 'fastify'
import feedRoutes from './feed.ts'
import pageRoutes from './page.ts'

// The live domain: the WebSocket feed and the page that watches it.
const liveRoutes: FastifyPluginAsync = async function liveRoutes (fastify) {
  await fastify.register(pageRoutes)
  await fastify.register(feedRoutes)
}

export default liveRoutes
