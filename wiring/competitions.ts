import fp from 'fastify-plugin'
import { createCompetitionsService } from '../services/competitions/catalogue.ts'
import { createLifecycleService } from '../services/competitions/lifecycle.ts'
import { createUserCompetitionsService } from '../services/competitions/user-competitions.ts'
import { createTransactor } from '../services/shared/transactions.ts'
import { LIFECYCLE_QUEUE, scheduleAllSteps, type LifecycleJob } from '../services/competitions/schedule.ts'

declare module 'fastify' {
  interface FastifyInstance {
    competitions: ReturnType<typeof createCompetitionsService>
    userCompetitions: ReturnType<typeof createUserCompetitionsService>
    // Time-driven status changes (advance, run by the lifecycle job; sweep) and admin actions
    // (cancel, end early).
    lifecycle: ReturnType<typeof createLifecycleService>
  }
}

export default fp(async function competitionsService (fastify) {
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const deps = { pool, transact, ledger: fastify.ledger, activity: fastify.activity, events: fastify.events, jobs: fastify.jobs }
  const lifecycle = createLifecycleService(deps)
  fastify.decorate('competitions', createCompetitionsService({ ...deps, inviteLinkBase: fastify.config.INVITE_LINK_BASE }))
  fastify.decorate('userCompetitions', createUserCompetitionsService({ pool }))
  fastify.decorate('lifecycle', lifecycle)

  // Status changes are jobs due at each competition's instants (services/competitions/schedule.ts).
  await fastify.jobs.work<LifecycleJob>(LIFECYCLE_QUEUE, { pollingIntervalSeconds: 0.5, policy: 'exclusive', run: fastify.config.LIFECYCLE_JOBS },
    async ({ competitionId }) => { await lifecycle.advance(competitionId) })
  // Competitions from before the queue, or whose job an operator deleted, get their next step.
  fastify.addHook('onReady', async function scheduleLifecycleSteps () {
    if (fastify.config.LIFECYCLE_JOBS && fastify.config.JOB_WORKERS) await scheduleAllSteps(pool, fastify.jobs)
  })
}, { name: 'competitions-service', dependencies: ['postgres', 'events', 'jobs', 'ledger-service', 'users-service'] })
