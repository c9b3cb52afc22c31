import fp from 'fastify-plugin'
import { createAvatarService } from '../../services/avatars.ts'
import { createDashboardService } from '../../services/dashboard.ts'
import { createUsersService } from '../../services/users.ts'

declare module 'fastify' {
  interface FastifyInstance {
    users: ReturnType<typeof createUsersService>
    avatars: ReturnType<typeof createAvatarService>
    dashboard: ReturnType<typeof createDashboardService>
  }
}

export default fp(async function usersService (fastify) {
  const { pool } = fastify.pg
  const users = createUsersService({
    pool,
    redis: fastify.redis,
    redisPrefix: fastify.redisPrefix,
    onProfileChanged: (userId) => fastify.events.emit('user.profile', { userId })
  })
  fastify.decorate('users', users)
  fastify.decorate('avatars', createAvatarService({ storage: fastify.storage, users }))
  fastify.decorate('dashboard', createDashboardService({ pool, ledger: fastify.ledger, activity: fastify.activity }))
}, { name: 'users-service', dependencies: ['postgres', 'redis', 'storage', 'events', 'ledger-service'] })
