import fp from 'fastify-plugin'
import { createPrizesService } from '../services/money/prizes.ts'
import { createTransactor } from '../services/shared/transactions.ts'
import { prizeMetrics } from '../services/shared/metrics.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Prize tables and their one-time distribution through the ledger.
    prizes: ReturnType<typeof createPrizesService>
  }
}

export default fp(async function prizesService (fastify) {
  fastify.decorate('prizes', createPrizesService({
    pool: fastify.pg.pool,
    transact: createTransactor(fastify.pg.pool),
    ledger: fastify.ledger,
    activity: fastify.activity,
    events: fastify.events,
    metrics: prizeMetrics(fastify.metricsRegistry)
  }))
}, { name: 'prizes-service', dependencies: ['postgres', 'events', 'observability', 'ledger-service'] })
