import fp from 'fastify-plugin'
import { fitnessMetrics } from '../services/shared/metrics.ts'
import { createFitnessService } from '../services/fitness/service.ts'
import { createGoogleFitProvider } from '../services/providers/google-fit.ts'
import { createResilience, type Resilience } from '../services/providers/resilience.ts'

declare module 'fastify' {
  interface FastifyInstance {
    fitness: ReturnType<typeof createFitnessService>
    // The resilience policy (timeouts, retries honouring Retry-After, circuit breaker) and
    // call counting of one fitness provider, for every module that calls one.
    providerPolicy: (name: string, label: string) => ProviderPolicy
  }
}

interface ProviderPolicy {
  resilience: Resilience
  onAttempt: (outcome: 'ok' | 'retryable' | 'rejected' | 'error') => void
}

const CIRCUIT_STATES = { closed: 0, open: 1, half_open: 2 }

export default fp(async function fitnessService (fastify) {
  const { config } = fastify
  const metrics = fitnessMetrics(fastify.metricsRegistry)

  // One circuit breaker per provider for this instance, shared by all users' calls.
  function providerPolicy (name: string, label: string): ProviderPolicy {
    metrics.circuit.set({ provider: name }, 0)
    return {
      resilience: createResilience({
        label,
        timeoutMs: config.FITNESS_PROVIDER_TIMEOUT_MS,
        retries: config.FITNESS_PROVIDER_RETRIES,
        backoffBaseMs: config.FITNESS_PROVIDER_BACKOFF_MS,
        backoffMaxMs: config.FITNESS_PROVIDER_BACKOFF_MAX_MS,
        breakerThreshold: config.FITNESS_PROVIDER_BREAKER_THRESHOLD,
        halfOpenAfterMs: config.FITNESS_PROVIDER_BREAKER_OPEN_MS,
        onStateChange: (state) => {
          metrics.circuit.set({ provider: name }, CIRCUIT_STATES[state])
          fastify.log.warn({ provider: name, state }, 'fitness provider circuit changed state')
        }
      }),
      onAttempt: (outcome) => metrics.providerCalls.inc({ provider: name, outcome })
    }
  }
  fastify.decorate('providerPolicy', providerPolicy)
  // Deprecated (Google is shutting the API down): kept behind its setting for existing users.
  const providers = config.GOOGLE_FIT_ENABLED
    ? { google_fit: createGoogleFitProvider({ baseUrl: config.GOOGLE_FIT_BASE_URL, ...providerPolicy('google_fit', 'Google Fit') }) }
    : {}

  const fitness = createFitnessService({
    pool: fastify.pg.pool,
    scores: fastify.leaderboard,
    providers,
    limits: {
      batchMax: config.FITNESS_SYNC_BATCH_MAX,
      maxStepsPerMinute: config.FITNESS_MAX_STEPS_PER_MINUTE,
      maxSpeedMps: config.FITNESS_MAX_SPEED_MPS,
      dailyCeilings: {
        steps: config.FITNESS_DAILY_STEPS_CEILING,
        distance_m: config.FITNESS_DAILY_DISTANCE_M_CEILING,
        active_kcal: config.FITNESS_DAILY_ACTIVE_KCAL_CEILING,
        // A day has 1440 minutes.
        active_minutes: 1440
      }
    },
    pull: { initialDays: config.FITNESS_PULL_INITIAL_DAYS, maxDays: config.FITNESS_PULL_MAX_DAYS },
    lease: { waitMs: config.FITNESS_SYNC_WAIT_MS, ttlMs: 60_000 },
    metrics
  })
  fastify.decorate('fitness', fitness)

  // Someone joining a running competition after syncing gets their data counted without
  // waiting for their next sync, and a competition that opens counts what was synced before.
  // Durable consumers of the outbox: a rescore sets scores from the stored data, so a job run
  // twice changes nothing twice.
  await fastify.jobs.consume({
    name: 'fitness',
    types: ['participant.joined', 'competition.started'],
    async handle (event) {
      const { competitionId, userId } = event.data as { competitionId: string, userId?: string }
      if (event.type === 'participant.joined') await fitness.rescore(userId!, competitionId)
      else await fitness.rescoreCompetition(competitionId)
    }
  })
}, { name: 'fitness-service', dependencies: ['postgres', 'events', 'jobs', 'observability', 'users-service', 'leaderboard-service'] })
