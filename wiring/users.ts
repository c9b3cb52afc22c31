import fp from 'fastify-plugin'
import { createAvatarService } from '../services/users/avatars.ts'
import { createDashboardService } from '../services/users/dashboard.ts'
import { createFreshness } from '../services/shared/freshness.ts'
import { createUsersService, profileChangesChannel, type Profile } from '../services/users/profiles.ts'

declare module 'fastify' {
  interface FastifyInstance {
    users: ReturnType<typeof createUsersService>
    avatars: ReturnType<typeof createAvatarService>
    dashboard: ReturnType<typeof createDashboardService>
  }
}

export default fp(async function usersService (fastify) {
  const { pool } = fastify.pg
  const maxAgeMs = fastify.config.PROFILE_CACHE_MAX_AGE_MS
  // Profiles read before are answered from memory until a change is announced (freshness.ts).
  const freshness = maxAgeMs > 0
    ? createFreshness<Profile>({ subscriber: fastify.redisSubscriber, channel: profileChangesChannel(fastify.redisPrefix), maxAgeMs })
    : undefined
  if (freshness) {
    fastify.addHook('onReady', async () => { await freshness.start() })
    fastify.addHook('onClose', async () => { await freshness.close() })
  }
  const users = createUsersService({
    pool,
    redis: fastify.redis,
    redisPrefix: fastify.redisPrefix,
    freshness,
    onProfileChanged: (userId) => fastify.events.emit('user.profile', { userId })
  })
  fastify.decorate('users', users)
  fastify.decorate('avatars', createAvatarService({ storage: fastify.storage, users }))
  fastify.decorate('dashboard', createDashboardService({ pool, ledger: fastify.ledger, activity: fastify.activity }))
}, { name: 'users-service', dependencies: ['config', 'postgres', 'redis', 'storage', 'events', 'ledger-service'] })
