import fp from 'fastify-plugin'
import { publish } from '../services/shared/domain-events.ts'
import { createTransactor } from '../services/shared/transactions.ts'
import { createAuthEvents } from '../services/users/auth-events.ts'
import { AUTH_USER_DELETION_QUEUE, createAuthUserRemoval } from '../services/users/auth-identity.ts'
import { createAccountDeletion } from '../services/users/deletion.ts'
import { createAccountExports, EXPORT_QUEUE, EXPORT_SWEEP_QUEUE } from '../services/users/export.ts'

declare module 'fastify' {
  interface FastifyInstance {
    accountDeletion: ReturnType<typeof createAccountDeletion>
    accountExports: ReturnType<typeof createAccountExports>
    authEvents: ReturnType<typeof createAuthEvents>
  }
}

// A stored object (an avatar) left behind by a deletion whose removal failed at first.
const REMOVE_OBJECT_QUEUE = 'storage.remove'

// Leaving the service: account deletion and export (services/users/deletion.ts, export.ts).
// After the other domains, since a deletion revokes provider connections.
export default fp(async function leavingWiring (fastify) {
  const { pool } = fastify.pg
  const { jobs, storage, config } = fastify
  const transact = createTransactor(pool)

  await jobs.work<{ key: string }>(REMOVE_OBJECT_QUEUE, {}, async ({ key }) => { await storage.remove(key) })
  // With Supabase configured, the auth user goes too (unless Supabase told us it already went).
  const authAdmin = config.SUPABASE_URL !== '' && config.SUPABASE_SERVICE_ROLE_KEY !== ''
    ? createAuthUserRemoval({ url: config.SUPABASE_URL, serviceKey: config.SUPABASE_SERVICE_ROLE_KEY })
    : null
  if (authAdmin !== null) await jobs.work<{ userId: string }>(AUTH_USER_DELETION_QUEUE, {}, async ({ userId }) => { await authAdmin(userId) })
  const deletion = createAccountDeletion({
    pool,
    transact,
    async removeObject (key) {
      await storage.remove(key).catch(async (err: unknown) => {
        fastify.log.warn({ err, key }, 'a deleted account\'s stored object could not be removed; a job retries')
        await jobs.send(pool, REMOVE_OBJECT_QUEUE, { key })
      })
    },
    async revokeConnections (userId) {
      for (const connection of await fastify.connections.list(userId)) {
        if (!connection.connected) continue
        // Revoked at the provider when it answers; the tokens go with the account regardless.
        await fastify.connections.disconnect(userId, connection.provider, false)
          .catch((err: unknown) => fastify.log.warn({ err, provider: connection.provider }, 'a provider connection could not be ended before the deletion'))
      }
    },
    async leave (competitionId, userId) {
      await fastify.competitions.leave(competitionId, userId, { actorId: userId, idempotencyKey: `account-deletion:${userId}` })
        .catch((err: unknown) => fastify.log.warn({ err, competitionId }, 'a competition could not be left before the deletion'))
    },
    async erased (tx, userId, origin) {
      if (authAdmin !== null && origin !== 'auth') await jobs.send(tx, AUTH_USER_DELETION_QUEUE, { userId })
    },
    async deleted (userId) {
      await fastify.forgetUser(userId)
      await fastify.users.invalidate(userId)
      // Leaderboards show the pseudonym instead of the name.
      publish(fastify.events, 'user.profile', { userId })
    }
  })
  fastify.decorate('accountDeletion', deletion)
  fastify.decorate('authEvents', createAuthEvents({ secret: config.SUPABASE_AUTH_WEBHOOK_SECRET, deletion }))

  const exports = createAccountExports({
    pool,
    transact,
    jobs,
    syncMaxRows: config.ACCOUNT_EXPORT_SYNC_MAX_ROWS,
    ttlSeconds: config.ACCOUNT_EXPORT_TTL_SECONDS
  })
  await jobs.work<{ exportId: string }>(EXPORT_QUEUE, { batchSize: 1 }, async ({ exportId }, attempt) => {
    await exports.build(exportId, attempt.retryCount >= attempt.retryLimit)
  })
  await jobs.work(EXPORT_SWEEP_QUEUE, { concurrency: 1 }, async () => {
    fastify.log.info({ deleted: await exports.sweepExpired() }, 'deleted account exports past their time')
  })
  if (config.JOB_WORKERS) await jobs.boss.schedule(EXPORT_SWEEP_QUEUE, '45 3 * * *', null, { tz: 'UTC' })
  fastify.decorate('accountExports', exports)
}, { name: 'leaving', dependencies: ['config', 'postgres', 'storage', 'jobs', 'events', 'user-provisioning', 'users-service', 'connections-service', 'competitions-service'] })
