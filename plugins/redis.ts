import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import { Redis, type RedisOptions } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    // A second connection in subscriber mode: a subscribed ioredis client cannot run commands.
    redisSubscriber: Redis
    redisMode: 'external' | 'embedded'
    // Prefix for every key and channel of this service, so several deployments or test
    // files can share one Redis.
    redisPrefix: string
  }
}

// Fail fast while Redis is away so callers can degrade to Postgres instead of waiting.
const clientOptions: RedisOptions = {
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  commandTimeout: 2000,
  connectTimeout: 3000,
  retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
}

async function createClient (url: string): Promise<{ client: Redis, mode: 'external' | 'embedded' }> {
  if (url !== '') return { client: new Redis(url, { ...clientOptions, lazyConnect: true }), mode: 'external' }
  const { default: RedisMock } = await import('ioredis-mock')
  const client = new RedisMock() as unknown as Redis
  // The stand-in is ready at once but has no `status`, which @fastify/redis waits on.
  Object.assign(client, { status: 'ready' })
  return { client, mode: 'embedded' }
}

export default fp(async function redisPlugin (fastify) {
  const { config } = fastify
  const { client, mode } = await createClient(config.REDIS_URL)
  if (mode === 'embedded') {
    fastify.log.warn('REDIS_URL is not set: using an in-process Redis stand-in. Embedded mode is single-instance')
  } else {
    // A configured Redis must be reachable at start-up; later outages are survived.
    await client.connect()
  }
  client.on('error', (err) => fastify.log.warn({ err }, 'Redis connection error'))
  const subscriber = client.duplicate()
  subscriber.on('error', (err) => fastify.log.warn({ err }, 'Redis subscriber connection error'))

  await fastify.register(fastifyRedis, { client, closeClient: true })
  fastify.decorate('redisSubscriber', subscriber)
  fastify.decorate('redisMode', mode)
  fastify.decorate('redisPrefix', config.REDIS_KEY_PREFIX)
  fastify.addHook('onClose', async () => {
    subscriber.disconnect()
  })
}, { name: 'redis', dependencies: ['config'] })
