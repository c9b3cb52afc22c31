// One worker instance of a job queue, forked by bench/job-queues.ts:
//   queue-worker.ts <library> <instance> <concurrency> <database url>
// Each job records its start in queue_bench.results (the job key is the primary key); a key
// already there means the job ran a second time, recorded in queue_bench.reruns instead.
// Tells the parent 'ready' once working; stops gracefully on 'stop' or when the parent goes away.
import pg from 'pg'
import { LIBRARIES, type JobData } from './queue-libraries.ts'

const [libraryName, instanceArg, concurrencyArg, url] = process.argv.slice(2)
const library = LIBRARIES[libraryName ?? '']
if (!library || !url) throw new Error(`usage: queue-worker.ts <${Object.keys(LIBRARIES).join('|')}> <instance> <concurrency> <url>`)
const instance = Number(instanceArg)
const concurrency = Number(concurrencyArg)

// A pool of the bench's own, the same for both libraries, so the handler costs the same.
const pool = new pg.Pool({ connectionString: url, max: concurrency, application_name: `qb-handler-${instance}` })
// One round trip: the start is recorded, or (conflict) the second run is.
const RECORD = `WITH first AS (
    INSERT INTO queue_bench.results (key, instance, started_at) VALUES ($1, $2, clock_timestamp())
    ON CONFLICT DO NOTHING RETURNING 1)
  INSERT INTO queue_bench.reruns (key, instance, started_at)
  SELECT $1, $2, clock_timestamp() WHERE NOT EXISTS (SELECT 1 FROM first)`

async function handle (job: JobData): Promise<void> {
  await pool.query(RECORD, [job.key, instance])
  // Jobs of the crash phase stay in hand for a while, so a killed instance holds some.
  if (job.holdMs > 0) await new Promise((resolve) => setTimeout(resolve, job.holdMs))
}

let stopping: Promise<void> | null = null
async function stop (worker: { stop: () => Promise<void> } | null): Promise<void> {
  stopping ??= (async () => {
    await worker?.stop().catch((err) => console.error(`instance ${instance}: stop failed`, err))
    await pool.end().catch(() => {})
  })()
  await stopping
}

let worker: { stop: () => Promise<void> } | null = null
process.on('disconnect', () => { stop(worker).finally(() => process.exit(0)) })
process.on('message', (m) => {
  if ((m as { type?: string }).type === 'stop') stop(worker).finally(() => process.exit(0))
})
try {
  worker = await library.startWorker(url, instance, concurrency, handle)
  process.send!({ type: 'ready' })
} catch (err) {
  console.error(`instance ${instance}: could not start`, err)
  await stop(worker)
  process.exit(1)
}
