// The two job queues compared by bench/job-queues.ts, each behind the same small surface: install
// a fresh schema, enqueue inside the caller's transaction, run one worker instance. Settings are
// the libraries' documented ones for low latency, stated by `settings` so the report shows them.
import pg from 'pg'
import { PgBoss } from 'pg-boss'
import { Logger, run, runMigrations } from 'graphile-worker'

export interface JobData { key: string, holdMs: number }
export type Handle = (job: JobData) => Promise<void>

export interface Producer {
  // Both run on a client inside a transaction the caller opened; the caller commits.
  enqueueMany: (tx: pg.ClientBase, jobs: JobData[]) => Promise<void>
  enqueueOne: (tx: pg.ClientBase, job: JobData) => Promise<void>
  close: () => Promise<void>
}

export interface WorkerInstance { stop: () => Promise<void> }

export interface QueueLibrary {
  name: string
  schema: string
  // What one instance runs with, for the report.
  settings: (concurrency: number) => string
  // Drops and installs the library's schema; returns the producer used by the bench.
  install: (url: string) => Promise<Producer>
  startWorker: (url: string, instance: number, concurrency: number, handle: Handle) => Promise<WorkerInstance>
}

const QUEUE = 'bench'
const TASK = 'bench'
const log = (...a: unknown[]) => console.error(...a)

async function dropSchema (url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  } finally {
    await client.end()
  }
}

// pg-boss: a heartbeat on the queue and a 2 s supervision pass, so a killed instance's jobs come
// back within heartbeatSeconds plus one pass; LISTEN/NOTIFY on (instance option and queue
// option), both polling intervals at their minimum of 0.5 s.
const BOSS_TIMING = { superviseIntervalSeconds: 2, monitorIntervalSeconds: 2 }
const BOSS_QUEUE = { notify: true, heartbeatSeconds: 10 }
const BOSS_POLL = { pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 }

// pg-boss's `db` option: anything with executeSql(text, values) returning { rows }.
function bossDb (tx: pg.ClientBase) {
  return { executeSql: async (text: string, values?: unknown[]) => await tx.query(text, values) }
}

function pgBoss (name: string, shape: 'batch' | 'workers'): QueueLibrary {
  const schema = 'bench_pgboss'
  // 'batch': one fetch loop taking up to `concurrency` jobs at a time, fetching again at once
  // while batches come back full. 'workers': `concurrency` loops of one job each, which wait out
  // the polling interval after every job unless a NOTIFY wakes them.
  const options = (concurrency: number) => shape === 'batch'
    ? { localConcurrency: 1, batchSize: concurrency, burstWhenBatchFull: true, ...BOSS_POLL }
    : { localConcurrency: concurrency, batchSize: 1, ...BOSS_POLL }
  return {
    name,
    schema,
    settings: (concurrency) => `work() ${JSON.stringify(options(concurrency))}; constructor ${JSON.stringify({ useListenNotify: true, ...BOSS_TIMING })}; queue ${JSON.stringify(BOSS_QUEUE)}`,
    async install (url) {
      await dropSchema(url, schema)
      const boss = new PgBoss({ connectionString: url, schema, application_name: 'qb-producer', supervise: false, schedule: false })
      boss.on('error', (err) => log('pg-boss producer:', err))
      await boss.start()
      await boss.createQueue(QUEUE, BOSS_QUEUE)
      return {
        async enqueueMany (tx, jobs) { await boss.insert(QUEUE, jobs.map((data) => ({ data })), { db: bossDb(tx) }) },
        async enqueueOne (tx, job) { await boss.send(QUEUE, job, { db: bossDb(tx) }) },
        close: async () => await boss.stop({ graceful: false })
      }
    },
    async startWorker (url, instance, concurrency, handle) {
      const boss = new PgBoss({ connectionString: url, schema, application_name: `qb-worker-${instance}`, useListenNotify: true, ...BOSS_TIMING })
      boss.on('error', (err) => log(`pg-boss instance ${instance}:`, err))
      await boss.start()
      await boss.work<JobData>(QUEUE, options(concurrency), async (jobs) => {
        await Promise.all(jobs.map(async (job) => await handle(job.data)))
      })
      return { stop: async () => await boss.stop({ graceful: true, timeout: 10_000 }) }
    }
  }
}

// Only warnings and errors: info lines per job would cost the workers CPU the bench counts.
const quietLogger = new Logger(() => (level, message) => {
  if (level === 'error' || level === 'warning') log(`graphile-worker ${level}: ${message}`)
})

// graphile-worker: its defaults. LISTEN/NOTIFY is built in (add_job notifies 'jobs:insert'), the
// poll interval stays at its default of 2 s, no local queue (batch fetching is off by default).
const graphileWorker: QueueLibrary = {
  name: 'graphile-worker',
  schema: 'bench_graphile_worker',
  settings: (concurrency) => `run() { concurrency: ${concurrency}, pollInterval: 2000 } (defaults otherwise: maxPoolSize 10, no localQueue)`,
  async install (url) {
    const schema = graphileWorker.schema
    await dropSchema(url, schema)
    await runMigrations({ connectionString: url, schema, logger: quietLogger })
    return {
      async enqueueMany (tx, jobs) {
        await tx.query(`SELECT count(*) FROM "${schema}".add_jobs((
          SELECT array_agg(row($1::text, d, null::text, null::timestamptz, null::smallint, null::text, null::smallint, null::text[])::"${schema}".job_spec)
          FROM json_array_elements($2::json) d))`, [TASK, JSON.stringify(jobs)])
      },
      async enqueueOne (tx, job) {
        await tx.query(`SELECT "${schema}".add_job($1, $2::json)`, [TASK, JSON.stringify(job)])
      },
      close: async () => {}
    }
  },
  async startWorker (url, instance, concurrency, handle) {
    const connectionString = `${url}${url.includes('?') ? '&' : '?'}application_name=qb-worker-${instance}`
    const runner = await run({
      connectionString,
      schema: graphileWorker.schema,
      concurrency,
      pollInterval: 2000,
      noHandleSignals: true,
      crontab: '',
      logger: quietLogger,
      taskList: { [TASK]: async (payload) => await handle(payload as JobData) }
    })
    return { stop: async () => await runner.stop() }
  }
}

export const LIBRARIES: Record<string, QueueLibrary> = {
  'graphile-worker': graphileWorker,
  'pg-boss': pgBoss('pg-boss', 'batch'),
  'pg-boss-workers': pgBoss('pg-boss-workers', 'workers')
}
