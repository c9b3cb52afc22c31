import fp from 'fastify-plugin'
import pg from 'pg'
import { PgBoss, type Db as BossDb, type Job, type JobResult, type Queue } from 'pg-boss'
import type { Db } from '../services/shared/transactions.ts'
import { createTransactor } from '../services/shared/transactions.ts'
import { createEventRelay, type EventRelay, type RelayedEvent } from '../services/shared/event-relay.ts'
import type { EventConsumer, JobHandler, JobQueue, WorkerSetup } from '../services/shared/jobs.ts'
import { jobMetrics } from '../services/shared/metrics.ts'
import { createPgListener } from '../lib/pg-listener.ts'
import { SESSION_OPTIONS } from '../lib/pg-session.ts'

declare module 'fastify' {
  interface FastifyInstance {
    jobs: JobQueue & {
      // Declares a queue and the handler this instance runs for it (when JOB_WORKERS is on).
      work: <T>(queue: string, setup: WorkerSetup, handler: JobHandler<T>) => Promise<void>
      // A consumer of domain events: the relay enqueues each event of its types on its queue.
      consume: (consumer: EventConsumer) => Promise<void>
      relay: EventRelay
      boss: PgBoss
    }
  }
}

export const DEAD_LETTER_QUEUE = 'dead-letter'
// Retries after a job's first run, on every queue (handlers see it to know their last run).
const RETRY_LIMIT = 12

// pg-boss runs its statements through this: on its pool, or in our transaction when a job is
// enqueued with the change that caused it.
function bossDb (db: Db): BossDb {
  return { executeSql: async (text, values) => await db.query(text, values as unknown[]) }
}

// Durable jobs on PostgreSQL (pg-boss, in its own schema of the same database; the README says
// why pg-boss), and the outbox relay that turns committed domain events into jobs.
export default fp(async function jobsWiring (fastify) {
  const { config, log } = fastify
  // pg-boss runs on a small pool of its own and on the instance's one LISTEN connection
  // (lib/pg-listener.ts), which also wakes the outbox relay.
  const pool = new pg.Pool({ connectionString: fastify.postgresUrl, max: 6, application_name: 'jobs', idleTimeoutMillis: 30_000, options: SESSION_OPTIONS })
  pool.on('error', (err) => log.warn({ err }, 'idle job queue client failed'))
  const listener = createPgListener({ connectionString: fastify.postgresUrl, log })
  const boss = new PgBoss({
    db: { ...bossDb(pool), listen: listener.listen },
    schema: 'pgboss',
    // New jobs wake idle workers at once instead of at their next poll.
    useListenNotify: true,
    // Maintenance (expiring, archiving, dead-lettering) and schedules run on instances that run
    // jobs; pg-boss keeps several instances from doing the same maintenance at once.
    supervise: config.JOB_WORKERS,
    schedule: config.JOB_WORKERS,
    // How often a supervising instance looks for jobs whose instance stopped sending heartbeats.
    superviseIntervalSeconds: 10
  })
  boss.on('error', (err) => log.error({ err }, 'job queue error'))
  boss.on('warning', (warning) => log.warn({ warning }, 'job queue warning'))
  await boss.start()

  const metrics = jobMetrics(fastify.metricsRegistry)
  // Every queue retries with exponential backoff and jitter (1 s, 2 s, 4 s ... at most an hour)
  // and ends in the dead-letter queue, where admins see and retry it.
  const queueDefaults: Omit<Queue, 'name'> = {
    retryLimit: RETRY_LIMIT,
    retryDelay: 1,
    retryBackoff: true,
    retryDelayMax: 3600,
    expireInSeconds: config.JOB_EXPIRE_SECONDS,
    // A job whose instance died (SIGKILL, lost host) comes back within 10 s without a heartbeat
    // plus one supervision pass (bench/QUEUES.md measured 10.5-11.6 s with a 2 s pass).
    heartbeatSeconds: 10,
    deadLetter: DEAD_LETTER_QUEUE,
    notify: true
  }
  await boss.createQueue(DEAD_LETTER_QUEUE, { retentionSeconds: 30 * 24 * 3600 })

  const workers: Array<() => Promise<unknown>> = []
  const routes = new Map<string, { types: Set<string>, wants?: EventConsumer['wants'], key?: EventConsumer['key'] }>()

  async function work<T> (queue: string, setup: WorkerSetup, handler: JobHandler<T>): Promise<void> {
    await boss.createQueue(queue, { ...queueDefaults, policy: setup.policy ?? 'standard' })
    if (!config.JOB_WORKERS || setup.run === false) return
    const pollingIntervalSeconds = setup.pollingIntervalSeconds ?? 2
    workers.push(async () => await boss.work<T>(queue, {
      localConcurrency: setup.concurrency ?? config.JOB_CONCURRENCY,
      // A worker takes up to ten jobs at a time and fetches again at once while batches come
      // back full; idle, it waits for a NOTIFY of a new job or its poll (for jobs that became
      // due: deferred ones and retries), whichever comes first.
      batchSize: setup.batchSize ?? 10,
      burstWhenBatchFull: true,
      pollingIntervalSeconds,
      notifyPollingIntervalSeconds: pollingIntervalSeconds,
      // Each job of a batch succeeds or fails on its own (a failure retries only that job), and
      // they run at once: most wait on I/O (a webhook receiver, Postgres).
      perJobResults: true
    }, async (jobs) => await Promise.all(jobs.map(async (job) => await run(queue, handler, job)))))
  }

  async function run<T> (queue: string, handler: JobHandler<T>, job: Job<T>): Promise<JobResult> {
    const stopTimer = metrics.duration.startTimer({ queue })
    try {
      await handler(job.data, { id: job.id, retryCount: job.retryCount, retryLimit: RETRY_LIMIT })
      metrics.outcomes.inc({ queue, outcome: 'completed' })
      return { id: job.id, status: 'completed' }
    } catch (err) {
      metrics.outcomes.inc({ queue, outcome: 'failed' })
      log.warn({ err, queue, jobId: job.id, retryCount: job.retryCount }, 'job failed; it is retried with backoff')
      return { id: job.id, status: 'failed', output: { message: (err as Error).message } }
    } finally {
      stopTimer()
    }
  }

  async function consume (consumer: EventConsumer): Promise<void> {
    const queue = `events.${consumer.name}`
    routes.set(queue, { types: new Set(consumer.types), wants: consumer.wants, key: consumer.key })
    await work<RelayedEvent>(queue, { policy: consumer.key === undefined ? 'standard' : 'stately' }, async (event) => { await consumer.handle(event) })
  }

  const relay = createEventRelay({
    transact: createTransactor(fastify.pg.pool),
    listen: listener.listen,
    log,
    async route (tx, events) {
      const db = bossDb(tx)
      for (const [queue, route] of routes) {
        const wanted = route.wants === undefined ? route.types : await route.wants(tx)
        const jobs = events.filter((e) => route.types.has(e.type) && wanted.has(e.type))
          .map((e) => ({ data: e, ...(route.key !== undefined && { singletonKey: route.key(e) }) }))
        if (jobs.length > 0) await boss.insert(queue, jobs, { db })
      }
      metrics.relayed.inc(events.length)
    }
  })

  fastify.decorate('jobs', {
    async send (db, queue, data, options = {}) {
      await boss.send(queue, data, { ...options, db: bossDb(db) })
    },
    async sendMany (db, queue, jobs) {
      if (jobs.length > 0) await boss.insert(queue, jobs, { db: bossDb(db) })
    },
    work,
    consume,
    relay,
    boss
  })

  // Workers start once every domain has declared its queues; the relay after them, so the
  // events that waited while no instance ran reach a queue with its consumers listening.
  fastify.addHook('onReady', async function startJobs () {
    for (const start of workers) await start()
    await relay.start()
  })
  // Running jobs get JOB_SHUTDOWN_TIMEOUT_MS to finish; pg-boss then releases what is left.
  fastify.addHook('onClose', async function stopJobs () {
    await relay.close()
    await boss.stop({ graceful: true, timeout: config.JOB_SHUTDOWN_TIMEOUT_MS, close: true })
    await listener.close()
    await pool.end()
  })
}, { name: 'jobs', dependencies: ['config', 'postgres', 'observability'] })
