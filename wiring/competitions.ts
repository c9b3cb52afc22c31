import fp from 'fastify-plugin'
import { createCompetitionsService } from '../services/competitions/catalogue.ts'
import { createLifecycleService } from '../services/competitions/lifecycle.ts'
import { createUserCompetitionsService } from '../services/competitions/user-competitions.ts'
import { createTransactor } from '../services/shared/transactions.ts'

declare module 'fastify' {
  interface FastifyInstance {
    competitions: ReturnType<typeof createCompetitionsService>
    userCompetitions: ReturnType<typeof createUserCompetitionsService>
    // Time-driven status changes (sweep) and admin actions (cancel, end early).
    lifecycle: ReturnType<typeof createLifecycleService>
  }
}

export default fp(async function competitionsService (fastify) {
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const deps = { pool, transact, ledger: fastify.ledger, activity: fastify.activity, events: fastify.events }
  const lifecycle = createLifecycleService(deps)
  fastify.decorate('competitions', createCompetitionsService(deps))
  fastify.decorate('userCompetitions', createUserCompetitionsService({ pool }))
  fastify.decorate('lifecycle', lifecycle)

  // Every instance sweeps; row locks keep them from doing the same work twice.
  const interval = fastify.config.SWEEPER_INTERVAL_MS
  if (interval === 0) return
  let running: Promise<unknown> | null = null
  const timer = setInterval(function sweepDueCompetitions () {
    if (running) return
    running = lifecycle.sweep(new Date())
      .catch((err: unknown) => fastify.log.error({ err }, 'competition sweep failed'))
      .finally(() => { running = null })
  }, interval)
  timer.unref()
  fastify.addHook('onClose', async () => {
    clearInterval(timer)
    await running
  })
}, { name: 'competitions-service', dependencies: ['postgres', 'events', 'ledger-service', 'users-service'] })
