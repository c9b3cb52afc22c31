import type { FastifyInstance } from 'fastify'
import type { Config } from './schemas/env.ts'
import config from './plugins/config.ts'
import errors from './plugins/errors.ts'
import drain from './plugins/drain.ts'
import observability from './plugins/observability.ts'
import postgres from './plugins/postgres.ts'
import redis from './plugins/redis.ts'
import storage from './plugins/storage.ts'
import auth from './plugins/auth.ts'
import security from './plugins/security.ts'
import rateLimit from './plugins/rate-limit.ts'
import docs from './plugins/docs.ts'
import events from './plugins/events.ts'
import healthRoutes from './routes/health.ts'
import meRoutes from './routes/me.ts'
import ledgerService from './plugins/app/ledger.ts'
import usersService from './plugins/app/users.ts'
import competitionsService from './plugins/app/competitions.ts'
import usersRoutes from './routes/users/index.ts'
import competitionsRoutes from './routes/competitions/index.ts'
import liveRoutes from './routes/live.ts'
import broadcaster from './plugins/broadcaster.ts'
import leaderboardService from './plugins/app/leaderboard.ts'
import leaderboardRoutes from './routes/leaderboard.ts'
import realtimeRoutes from './routes/realtime.ts'
import prizesService from './plugins/app/prizes.ts'
import prizesRoutes from './routes/prizes.ts'
import fitnessService from './plugins/app/fitness.ts'
import fitnessRoutes from './routes/fitness.ts'

export interface AppOptions {
  config?: Config
}

// The application as a plugin. It never listens: server.ts and the tests do that.
export default async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  // Infrastructure, in dependency order.
  await fastify.register(config, { config: opts.config })
  await fastify.register(errors)
  // Before every other onRequest hook: a request that arrives while draining does no work.
  await fastify.register(drain)
  await fastify.register(postgres)
  await fastify.register(redis)
  // After the stores, so the event-loop monitor does not count embedded Postgres start-up.
  await fastify.register(observability)
  await fastify.register(storage)
  await fastify.register(security)
  await fastify.register(rateLimit)
  // After the rate limiter: a refused token counts against the caller's address.
  await fastify.register(auth)
  await fastify.register(docs)
  await fastify.register(events)
  await fastify.register(broadcaster)

  // Services (decorators in plugins/app/, one file per domain), then routes.
  await fastify.register(ledgerService)
  await fastify.register(usersService)
  await fastify.register(competitionsService)
  await fastify.register(leaderboardService)
  await fastify.register(prizesService)
  await fastify.register(fitnessService)

  // Domains.
  await fastify.register(healthRoutes)
  await fastify.register(meRoutes, { prefix: '/api/v1' })
  await fastify.register(usersRoutes, { prefix: '/api/v1' })
  await fastify.register(competitionsRoutes, { prefix: '/api/v1' })
  await fastify.register(liveRoutes)
  await fastify.register(leaderboardRoutes, { prefix: '/api/v1' })
  await fastify.register(realtimeRoutes)
  await fastify.register(prizesRoutes, { prefix: '/api/v1' })
  await fastify.register(fitnessRoutes, { prefix: '/api/v1' })
}
