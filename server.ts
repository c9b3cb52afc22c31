import Fastify from 'fastify'
import fp from 'fastify-plugin'
import closeWithGrace from 'close-with-grace'
import app from './app.ts'
import { loadConfig } from './plugins/config.ts'
import { serverOptions } from './lib/server-options.ts'

const config = loadConfig()
const server = Fastify(serverOptions(config))

// Slow clients must not hold sockets forever; keep-alive stays below typical LB idle timeouts.
server.server.keepAliveTimeout = 65_000
server.server.requestTimeout = 30_000
server.server.headersTimeout = 31_000

closeWithGrace({ delay: 10_000 }, async function shutdown ({ signal, err }) {
  if (err) server.log.error({ err }, 'shutting down after an error')
  else server.log.info({ signal }, 'shutting down')
  await server.close()
})

try {
  await server.register(fp(app), { config })
  await server.listen({ host: config.HOST, port: config.PORT })
  const embedded = server.postgresMode === 'embedded' || server.redisMode === 'embedded'
  server.log.info({ postgres: server.postgresMode, redis: server.redisMode },
    embedded ? 'running in embedded, single-instance mode: for trying out, not for production' : 'running against external Postgres and Redis')
} catch (err) {
  // A configured store that cannot be reached stops start-up: never a silent fallback.
  server.log.fatal({ err }, 'failed to start')
  await server.close().catch(() => {})
  process.exit(1)
}
