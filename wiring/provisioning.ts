import fp from 'fastify-plugin'
import { createUserProvisioning, type ProvisionUser } from '../services/users/provisioning.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Creates a users row from a token's claims unless it exists (authenticate's one path);
    // refuses a deleted account with 401.
    provisionUser: ProvisionUser
    // After an account is deleted: every instance checks its next call again (and refuses it).
    forgetUser: (userId: string) => Promise<void>
  }
}

export function deletedUsersChannel (redisPrefix: string): string {
  return `${redisPrefix}user:deleted`
}

// Registered before auth, which calls it for every verified caller. Deletions reach every
// instance over Redis pub/sub; while the subscriber is away, known callers are checked again
// every little while instead (services/users/provisioning.ts).
export default fp(async function provisioningWiring (fastify) {
  const provisioning = createUserProvisioning({ pool: fastify.pg.pool })
  const subscriber = fastify.redisSubscriber
  const channel = deletedUsersChannel(fastify.redisPrefix)

  const onMessage = (from: string, userId: string): void => { if (from === channel) provisioning.forget(userId) }
  const onClose = (): void => { provisioning.hearing(false) }
  async function listen (): Promise<void> {
    try {
      await subscriber.subscribe(channel)
      if (subscriber.status === 'ready') provisioning.hearing(true)
    } catch {
      // Not connected: known callers are checked again until the subscriber is back.
    }
  }
  const onReady = (): void => { listen().catch(() => {}) }
  subscriber.on('message', onMessage)
  subscriber.on('close', onClose)
  subscriber.on('ready', onReady)
  await listen()
  fastify.addHook('onClose', async () => {
    subscriber.off('message', onMessage)
    subscriber.off('close', onClose)
    subscriber.off('ready', onReady)
  })

  fastify.decorate('provisionUser', provisioning.provisionUser)
  fastify.decorate('forgetUser', async function forgetUser (userId: string) {
    provisioning.forget(userId)
    // Should the announcement be lost, other instances still check known callers again within
    // the maximum ages of services/users/provisioning.ts.
    await fastify.redis.publish(channel, userId).catch((err: unknown) => fastify.log.warn({ err, userId }, 'the deletion could not be announced to other instances'))
  })
}, { name: 'user-provisioning', dependencies: ['postgres', 'redis'] })
