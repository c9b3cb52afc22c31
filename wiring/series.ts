import fp from 'fastify-plugin'
import { createCompetitionsService, type NewCompetition } from '../services/competitions/catalogue.ts'
import { createSeriesService } from '../services/competitions/series.ts'
import { createSeriesRuns, SERIES_QUEUE, type OccurrenceJob } from '../services/competitions/series-runs.ts'
import { createAutoJoins } from '../services/competitions/auto-join.ts'
import { createTransactor, type TransactionClient } from '../services/shared/transactions.ts'
import { createNotifications } from '../services/notifications/create.ts'

declare module 'fastify' {
  interface FastifyInstance {
    series: ReturnType<typeof createSeriesService>
  }
}

// Repeating competitions: the series service, and the job that creates each occurrence's
// competition and joins its subscribers.
export default fp(async function seriesService (fastify) {
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const { ledger, activity, events, jobs } = fastify
  // A competition is created by the competition service itself, in the series' transaction:
  // the competition, its link to the occurrence and the next occurrence's job commit together.
  const createCompetition = async (tx: TransactionClient, creatorId: string, input: NewCompetition) =>
    await createCompetitionsService({ pool, ledger, activity, events, jobs, transact: async (fn) => await fn(tx) }).create(creatorId, input)
  const { autoJoin } = createAutoJoins({
    pool,
    transact,
    join: fastify.competitions.join,
    async notify (tx, { competitionId, userId, reason }) {
      const { rows: [c] } = await tx.query('SELECT name, entry_fee, currency FROM competitions WHERE id = $1', [competitionId])
      await createNotifications(tx, jobs, {
        cause: `auto_join_failed:${competitionId}`,
        category: 'competition',
        template: 'auto_join_failed',
        competitionId,
        recipients: [{ userId, params: { competitionName: c.name, reason, entryFee: Number(c.entry_fee), currency: c.currency } }]
      }, fastify.notifications.channels)
    }
  })
  const runs = createSeriesRuns({ transact, jobs, createCompetition, autoJoin, log: fastify.log })
  fastify.decorate('series', createSeriesService({ pool, transact, jobs, createCompetition }))

  await jobs.work<OccurrenceJob>(SERIES_QUEUE, { pollingIntervalSeconds: 1, policy: 'exclusive', batchSize: 1 }, async (job) => { await runs.run(job) })
}, { name: 'series-service', dependencies: ['postgres', 'events', 'jobs', 'ledger-service', 'users-service', 'competitions-service', 'notifications'] })
