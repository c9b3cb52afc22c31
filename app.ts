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
import authorization from './plugins/authorization.ts'
import security from './plugins/security.ts'
import rateLimit from './plugins/rate-limit.ts'
import docs from './plugins/docs.ts'
import asyncApi from './plugins/asyncapi.ts'
import eventsWiring from './wiring/events.ts'
import jobsWiring from './wiring/jobs.ts'
import jobOperationsWiring from './wiring/job-operations.ts'
import provisioningWiring from './wiring/provisioning.ts'
import liveWiring from './wiring/live.ts'
import moneyWiring from './wiring/money.ts'
import usersWiring from './wiring/users.ts'
import competitionsWiring from './wiring/competitions.ts'
import seriesWiring from './wiring/series.ts'
import leaderboardWiring from './wiring/leaderboard.ts'
import prizesWiring from './wiring/prizes.ts'
import fitnessWiring from './wiring/fitness.ts'
import webhooksWiring from './wiring/webhooks.ts'
import paymentsWiring from './wiring/payments.ts'
import notificationsWiring from './wiring/notifications.ts'
import connectionsWiring from './wiring/connections.ts'
import leavingWiring from './wiring/leaving.ts'
import healthRoutes from './routes/health.ts'
import meRoutes from './routes/me.ts'
import usersRoutes from './routes/users/index.ts'
import competitionsRoutes from './routes/competitions/index.ts'
import liveRoutes from './routes/live/index.ts'
import leaderboardRoutes from './routes/leaderboard/index.ts'
import fitnessRoutes from './routes/fitness.ts'
import adminRoutes from './routes/admin/index.ts'
import webhooksRoutes from './routes/webhooks/index.ts'
import paymentsRoutes from './routes/payments/index.ts'
import notificationsRoutes from './routes/notifications/index.ts'
import connectionsRoutes from './routes/connections/index.ts'
import authWebhookRoutes from './routes/auth-webhooks.ts'

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
  await fastify.register(provisioningWiring)
  // After the rate limiter: a refused token counts against the caller's address.
  await fastify.register(auth)
  await fastify.register(authorization)
  await fastify.register(docs)
  await fastify.register(asyncApi)

  // Services, wired onto the instance (wiring/: the one place services meet Fastify).
  await fastify.register(eventsWiring)
  await fastify.register(jobsWiring)
  await fastify.register(jobOperationsWiring)
  await fastify.register(liveWiring)
  await fastify.register(moneyWiring)
  await fastify.register(usersWiring)
  await fastify.register(competitionsWiring)
  await fastify.register(leaderboardWiring)
  await fastify.register(prizesWiring)
  await fastify.register(fitnessWiring)
  await fastify.register(webhooksWiring)
  await fastify.register(paymentsWiring)
  await fastify.register(notificationsWiring)
  // After notifications: a failed automatic join tells the user.
  await fastify.register(seriesWiring)
  await fastify.register(connectionsWiring)
  await fastify.register(leavingWiring)

  // Domains.
  await fastify.register(healthRoutes)
  await fastify.register(meRoutes, { prefix: '/api/v1' })
  await fastify.register(usersRoutes, { prefix: '/api/v1' })
  await fastify.register(competitionsRoutes, { prefix: '/api/v1' })
  await fastify.register(liveRoutes)
  await fastify.register(leaderboardRoutes, { prefix: '/api/v1' })
  await fastify.register(fitnessRoutes, { prefix: '/api/v1' })
  await fastify.register(adminRoutes, { prefix: '/api/v1' })
  await fastify.register(webhooksRoutes, { prefix: '/api/v1' })
  await fastify.register(paymentsRoutes, { prefix: '/api/v1' })
  await fastify.register(notificationsRoutes, { prefix: '/api/v1' })
  await fastify.register(connectionsRoutes, { prefix: '/api/v1' })
  await fastify.register(authWebhookRoutes, { prefix: '/api/v1' })
}
