import fp from 'fastify-plugin'
import promClient from '@prometheus-io/client'
import { DEAD_LETTER_QUEUE } from './jobs.ts'

export interface DeadJob {
  id: string
  queue: string | null
  data: unknown
  error: unknown
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
      deadJobs: (limit: number, after?: string) => Promise<DeadJob[]>
      // Moves a dead job back to the queue it came from; false when there is no such dead job.
      retryDeadJob: (id: string) => Promise<boolean>
    }
  }
}

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

  fastify.decorate('jobOperations', {
    queues,
    async deadJobs (limit, after) {
      const jobs = await boss.findJobs<unknown>(DEAD_LETTER_QUEUE, { limit, after })
      return jobs.map((job) => ({ id: job.id, queue: job.sourceName, data: job.data, error: job.output, failedAt: job.createdOn.toISOString() }))
    },
    async retryDeadJob (id) {
      return await boss.redrive(DEAD_LETTER_QUEUE, { ids: [id] }) > 0
    }
  })
}, { name: 'job-operations', dependencies: ['jobs', 'observability', 'postgres'] })
