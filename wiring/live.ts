import fp from 'fastify-plugin'
import fastifyWebsocket from '@fastify/websocket'
import { createBroadcaster } from '../services/live/broadcaster.ts'
import { liveFeedMetrics } from '../services/shared/metrics.ts'
import { deletedUsersChannel } from './provisioning.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Live leaderboard fan-out: Redis pub/sub to this instance's WebSockets.
    broadcaster: ReturnType<typeof createBroadcaster>
  }
}

// WebSocket support plus the broadcaster that owns the sockets. Client messages are tiny
// (resume, ping), so anything larger than a few KB is refused by the ws library itself.
export default fp(async function broadcasterPlugin (fastify) {
  const { config } = fastify
  const broadcaster = createBroadcaster({
    subscriber: fastify.redisSubscriber,
    log: fastify.log,
    heartbeatMs: config.REALTIME_HEARTBEAT_MS,
    maxBufferedBytes: config.REALTIME_MAX_BUFFERED_BYTES,
    maxMessagesPerSecond: config.REALTIME_MAX_MESSAGES_PER_SECOND,
    metrics: liveFeedMetrics(fastify.metricsRegistry)
  })
  fastify.decorate('broadcaster', broadcaster)
  // Deletions are announced to every instance on this channel (wiring/provisioning.ts).
  const deleted = deletedUsersChannel(fastify.redisPrefix)
  const onDeleted = (from: string, userId: string): void => { if (from === deleted) broadcaster.dropUser(userId) }
  fastify.redisSubscriber.on('message', onDeleted)
  fastify.addHook('onClose', async () => { fastify.redisSubscriber.off('message', onDeleted) })

  await fastify.register(fastifyWebsocket, {
    options: { maxPayload: 4096 },
    // Sockets are closed with "going away" before the server stops accepting.
    preClose: async function closeSockets () {
      await broadcaster.shutdown()
    }
  })
}, { name: 'broadcaster', dependencies: ['config', 'redis', 'observability'] })
