import fp from 'fastify-plugin'
import promClient from '@prometheus-io/client'
import { createPrizesService } from '../services/money/prizes.ts'
import { createTransactor } from '../services/shared/transactions.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Prize tables and their one-time distribution through the ledger.
    prizes: ReturnType<typeof createPrizesService>
  }
}

export default fp(async function prizesService (fastify) {
  const registry = fastify.metricsRegistry
  fastify.decorate('prizes', createPrizesService({
    pool: fastify.pg.pool,
    transact: createTransactor(fastify.pg.pool),
    ledger: fastify.ledger,
    activity: fastify.activity,
    events: fastify.events,
    metrics: {
      payouts: new promClient.Counter({ name: 'prize_payouts_total', help: 'Prizes paid to winners', labelNames: ['currency'], registers: [registry] }),
      paidAmount: new promClient.Counter({ name: 'prize_paid_minor_units_total', help: 'Prize money paid to winners, in minor units', labelNames: ['currency'], registers: [registry] })
    }
  }))
}, { name: 'prizes-service', dependencies: ['postgres', 'events', 'observability', 'ledger-service'] })
