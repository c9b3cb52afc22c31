import fp from 'fastify-plugin'
import promClient from '@prometheus-io/client'
import { DEAD_LETTER_QUEUE } from './jobs.ts'
import { pruneRelayedEvents } from '../services/shared/outbox.ts'
import { decodeCursor, encodeCursor } from '../services/shared/cursors.ts'
import { errors } from '../lib/errors.ts'
import { isUuid } from '../lib/uuid.ts'

export interface DeadJob {
  id: string
  queue: string | null
  data: Record<string, unknown>
  error: Record<string, unknown> | null
  failedAt: string
}

export interface QueueState {
  name: string
  queued: number
  ready: number
  deferred: number
  active: number
  oldestReadySeconds: number | null
}

declare module 'fastify' {
  interface FastifyInstance {
    // What operators see and do about jobs: queue states, dead letters and their retry.
    jobOperations: {
      queues: () => Promise<QueueState[]>
      deadJobs: (limit: number, cursor?: string) => Promise<{ items: DeadJob[], nextCursor: string | null }>
      // Moves a dead job back to the queue it came from; false when there is no such dead job.
      retryDeadJob: (id: string) => Promise<boolean>
    }
  }
}

const OUTBOX_RETENTION_QUEUE = 'maintenance.outbox-retention'

// Queue gauges for Prometheus, read from pg-boss's queue table when /metrics is scraped (its
// monitor refreshes the counts), and the admin actions on dead jobs.
export default fp(async function jobOperations (fastify) {
  const { boss } = fastify.jobs

  async function queues (): Promise<QueueState[]> {
    return (await boss.getQueues()).map((q) => ({
      name: q.name,
      queued: q.queuedCount,
      ready: q.readyCount,
      deferred: q.deferredCount,
      active: q.activeCount,
      oldestReadySeconds: q.readyOldestSeconds
    }))
  }

  // One query per scrape fills all three gauges; a failure leaves the last values.
  let reading: Promise<void> | null = null
  async function collectQueues (): Promise<void> {
    reading ??= readQueues().catch((err: unknown) => fastify.log.warn({ err }, 'could not read job queue states')).finally(() => { reading = null })
    await reading
  }
  const gauge = (name: string, help: string) =>
    new promClient.Gauge({ name, help, labelNames: ['queue'], registers: [fastify.metricsRegistry], collect: collectQueues })
  const gauges = {
    depth: gauge('job_queue_depth', 'Jobs waiting in each queue (ready and deferred; dead-letter: jobs that used up their retries)'),
    active: gauge('job_queue_active', 'Jobs running now, by queue'),
    oldest: gauge('job_queue_oldest_ready_seconds', 'How long the oldest job ready to run has waited, by queue')
  }
  const unrelayed = new promClient.Gauge({
    name: 'domain_events_unrelayed',
    help: 'Committed domain events the relay has not yet handed to the job queue (the outbox backlog)',
    registers: [fastify.metricsRegistry],
    async collect () {
      const { rows } = await fastify.pg.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM domain_events WHERE relayed_at IS NULL')
      unrelayed.set(rows[0]!.n)
    }
  })
  async function readQueues (): Promise<void> {
    for (const q of await queues()) {
      gauges.depth.set({ queue: q.name }, q.queued)
      gauges.active.set({ queue: q.name }, q.active)
      gauges.oldest.set({ queue: q.name }, q.oldestReadySeconds ?? 0)
    }
  }

  // The outbox keeps relayed events for DOMAIN_EVENT_RETENTION_DAYS (webhook replays and the
  // delivery log read them), pruned once a day; the schedule is stored once for all replicas.
  await fastify.jobs.work(OUTBOX_RETENTION_QUEUE, { concurrency: 1 }, async () => {
    const deleted = await pruneRelayedEvents(fastify.pg.pool, fastify.config.DOMAIN_EVENT_RETENTION_DAYS)
    fastify.log.info({ deleted }, 'pruned relayed domain events past their retention')
  })
  if (fastify.config.JOB_WORKERS) await boss.schedule(OUTBOX_RETENTION_QUEUE, '30 3 * * *', null, { tz: 'UTC' })

  fastify.decorate('jobOperations', {
    queues,
    // Pages follow pg-boss's own order (oldest first) from the last job of the previous page;
    // a page whose last job has since been retried cannot be continued.
    async deadJobs (limit, cursor) {
      const after = cursor === undefined ? undefined : String(decodeCursor(cursor, ['string'])[0])
      if (after !== undefined && !isUuid(after)) throw errors.BadRequest('cursor is invalid')
      const jobs = await boss.findJobs<Record<string, unknown>>(DEAD_LETTER_QUEUE, { limit: limit + 1, after }).catch((err: Error) => {
        if (after === undefined) throw err
        throw errors.BadRequest('cursor is invalid: its job has left the dead-letter queue; start from the first page')
      })
      const items = jobs.slice(0, limit).map((job) => ({
        id: job.id,
        queue: job.sourceName,
        data: job.data,
        error: (job.sourceOutput ?? job.output ?? null) as Record<string, unknown> | null,
        failedAt: job.createdOn.toISOString()
      }))
      return { items, nextCursor: jobs.length > limit ? encodeCursor([items.at(-1)!.id]) : null }
    },
    async retryDeadJob (id) {
      return await boss.redrive(DEAD_LETTER_QUEUE, { ids: [id] }) > 0
    }
  })
}, { name: 'job-operations', dependencies: ['jobs', 'observability', 'postgres'] })
