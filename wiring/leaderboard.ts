import fp from 'fastify-plugin'
import { createLeaderboardProjection } from '../services/leaderboard/projection.ts'
import { createFreshness } from '../services/shared/freshness.ts'
import { createLeaderboardService } from '../services/leaderboard/service.ts'
import { createTicker } from '../services/live/ticker.ts'
import { leaderboardMetrics } from '../services/shared/metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Scores (write path shared with fitness sync), reads, rebuilds and the live feed source.
    leaderboard: ReturnType<typeof createLeaderboardService>
  }
}

export default fp(async function leaderboardService (fastify) {
  const { config } = fastify
  const metrics = leaderboardMetrics(fastify.metricsRegistry)
  const projection = createLeaderboardProjection({
    redis: fastify.redis,
    prefix: fastify.redisPrefix,
    tickMs: config.REALTIME_TICK_MS,
    replayFrames: config.REALTIME_REPLAY_FRAMES,
    finishedTtlSeconds: config.LEADERBOARD_FINISHED_TTL_SECONDS,
    onChange: (competitionId) => freshness.changed(competitionId)
  })
  // Reads of a projection that has not changed are answered from memory (see freshness.ts).
  const freshness = createFreshness<string>({
    subscriber: fastify.redisSubscriber,
    channel: projection.changesChannel,
    maxAgeMs: config.LEADERBOARD_CACHE_MAX_AGE_MS
  })
  // The live feed's tick: changes here are framed once per tick, and competitions watched on
  // this instance are swept for changes other writers left unframed.
  const ticker = createTicker({
    flush: (competitionId) => projection.flush(competitionId),
    tickMs: config.REALTIME_TICK_MS,
    sweepMs: Math.max(1000, config.REALTIME_TICK_MS * 10),
    watched: () => fastify.broadcaster.watched(),
    onFailed: (competitionId, err) => leaderboard.markDirty(competitionId, err)
  })
  const leaderboard = createLeaderboardService({ pool: fastify.pg.pool, readPool: fastify.pgRead, projection, log: fastify.log, metrics, ticker, freshness, redis: fastify.redis })
  fastify.decorate('leaderboard', leaderboard)

  const { events } = fastify
  // In-process reactions after a commit on this instance keep the projection current at once;
  // the durable consumer below applies every event again from the outbox (after a crash, or
  // from another instance), reading Postgres each time, so applying twice is harmless.
  const onMembership = (e: { competitionId: string, userId: string }) => { leaderboard.reconcileParticipant(e).catch((err) => fastify.log.warn({ err }, 'leaderboard membership projection failed')) }
  const onStatus = (e: { competitionId: string }) => { leaderboard.competitionStatus(e).catch((err) => fastify.log.warn({ err }, 'leaderboard status projection failed')) }
  events.on('participant.joined', onMembership)
  events.on('participant.left', onMembership)
  events.on('competition.status', onStatus)
  await fastify.jobs.consume({
    name: 'leaderboard',
    types: ['participant.joined', 'participant.left', 'competition.started', 'competition.ended', 'competition.final', 'competition.cancelled'],
    async handle (event) {
      const data = event.data as { competitionId: string, userId?: string }
      if (data.userId !== undefined) await leaderboard.reconcileParticipant({ competitionId: data.competitionId, userId: data.userId })
      else await leaderboard.competitionStatus(data)
    }
  })
  const onProfile = (e: { userId: string }) => { leaderboard.profileChanged(e).catch((err) => fastify.log.warn({ err }, 'leaderboard profile refresh failed')) }
  events.on('user.profile', onProfile)

  // Redis came back after an outage: whatever it missed is rebuilt from Postgres.
  let connectedOnce = fastify.redis.status === 'ready'
  function onRedisReady (): void {
    if (!connectedOnce) { connectedOnce = true; return }
    fastify.log.info('Redis is back: rebuilding leaderboard projections from Postgres')
    leaderboard.rebuildAll().catch((err) => fastify.log.warn({ err }, 'leaderboard rebuild after reconnect failed'))
  }
  fastify.redis.on('ready', onRedisReady)

  // Start-up rebuild in the background: reads are served from Postgres (degraded) until a
  // competition's projection is ready.
  let startup: Promise<unknown> = Promise.resolve()
  fastify.addHook('onReady', async function rebuildLeaderboards () {
    if (config.LEADERBOARD_CACHE_MAX_AGE_MS > 0) await freshness.start()
    startup = leaderboard.rebuildAll().catch((err) => fastify.log.warn({ err }, 'leaderboard start-up rebuild failed'))
  })
  fastify.addHook('onClose', async function closeLeaderboard () {
    events.off('participant.joined', onMembership)
    events.off('participant.left', onMembership)
    events.off('competition.status', onStatus)
    events.off('user.profile', onProfile)
    fastify.redis.off('ready', onRedisReady)
    ticker.close()
    leaderboard.close()
    await freshness.close()
    await startup
  })
}, { name: 'leaderboard-service', dependencies: ['config', 'postgres', 'redis', 'events', 'jobs', 'observability', 'broadcaster'] })
