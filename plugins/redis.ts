import fp from 'fastify-plugin'
import fastifyRedis from '@fastify/redis'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

declare module 'fastify' {
  interface FastifyInstance {
    // A second connection in subscriber mode: a subscribed ioredis client cannot run commands.
    redisSubscriber: Redis
    redisMode: 'external' | 'embedded'
    // True when REDIS_CLUSTER_NODES is set: `redis` is then an ioredis Cluster. Multi-key
    // commands need keys sharing a hash tag (lib/redis-keys.ts), and SCAN/KEYS see one node.
    redisCluster: boolean
    // Prefix for every key and channel of this service, so several deployments or test
    // files can share one Redis.
    redisPrefix: string
  }
}

// Fail fast while Redis is away so callers can degrade to Postgres instead of waiting.
const clientOptions: RedisOptions = {
  // Commands issued in the same event-loop turn go out as one pipeline: under load one write
  // and one read carry the commands of many requests instead of one syscall pair each.
  enableAutoPipelining: true,
  maxRetriesPerRequest: 1,
  enableOfflineQueue: false,
  commandTimeout: 2000,
  connectTimeout: 3000,
  retryStrategy: (attempt) => Math.min(attempt * 200, 2000)
}

const clusterOptions: ClusterOptions = {
  enableOfflineQueue: false,
  clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  slotsRefreshTimeout: 2000,
  redisOptions: { commandTimeout: 2000, connectTimeout: 3000, maxRetriesPerRequest: 1 }
}

type Mode = 'external' | 'embedded'

export function parseClusterNodes (value: string): Array<{ host: string, port: number }> {
  return value.split(',').map((n) => n.trim()).filter(Boolean).map((node) => {
    const at = node.lastIndexOf(':')
    const port = Number(node.slice(at + 1))
    if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) throw new Error(`REDIS_CLUSTER_NODES: "${node}" is not host:port`)
    return { host: node.slice(0, at), port }
  })
}

async function createClient (url: string, clusterNodes: string): Promise<{ client: Redis, mode: Mode }> {
  if (clusterNodes !== '') {
    const cluster = new Cluster(parseClusterNodes(clusterNodes), { ...clusterOptions, lazyConnect: true })
    // The cluster client speaks the same command API; the decorator keeps one type for callers.
    return { client: cluster as unknown as Redis, mode: 'external' }
  }
  if (url !== '') return { client: new Redis(url, { ...clientOptions, lazyConnect: true }), mode: 'external' }
  const { default: RedisMock } = await import('ioredis-mock')
  const client = new RedisMock() as unknown as Redis
  // The stand-in is ready at once but has no `status`, which @fastify/redis waits on.
  Object.assign(client, { status: 'ready' })
  return { client, mode: 'embedded' }
}

export default fp(async function redisPlugin (fastify) {
  const { config } = fastify
  const { client, mode } = await createClient(config.REDIS_URL, config.REDIS_CLUSTER_NODES)
  const cluster = config.REDIS_CLUSTER_NODES !== ''
  if (mode === 'embedded') {
    fastify.log.warn('REDIS_URL is not set: using an in-process Redis stand-in. Embedded mode is single-instance')
  } else {
    // A configured Redis must be reachable at start-up; later outages are survived.
    await client.connect()
  }
  client.on('error', (err) => fastify.log.warn({ err }, 'Redis connection error'))
  // Cluster.duplicate() gives a cluster connection of its own, which subscribes on one node
  // and receives every channel (cluster pub/sub is broadcast to all nodes).
  const subscriber = client.duplicate()
  subscriber.on('error', (err) => fastify.log.warn({ err }, 'Redis subscriber connection error'))
  // Connected here: with the offline queue off, a lazy connection would refuse its first SUBSCRIBE.
  if (mode !== 'embedded') await subscriber.connect()

  await fastify.register(fastifyRedis, { client, closeClient: true })
  fastify.decorate('redisSubscriber', subscriber)
  fastify.decorate('redisMode', mode)
  fastify.decorate('redisCluster', cluster)
  fastify.decorate('redisPrefix', config.REDIS_KEY_PREFIX)
  fastify.addHook('onClose', async () => {
    subscriber.disconnect()
  })
}, { name: 'redis', dependencies: ['config'] })
