// npm run bench:queues: pg-boss against graphile-worker on this machine, to choose the project's
// job queue. For each library, on a fresh schema of its own: three worker instances (separate
// processes) drain a backlog (jobs per second), then take jobs committed one at a time at a steady
// rate (time from commit to handler start), then one instance is SIGKILLed while it holds jobs
// (time until they run elsewhere). Writes a Markdown table. Loopback only; stops by itself.
import { fork, type ChildProcess } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { parseCli } from '../lib/cli-args.ts'
import { projectRoot } from '../lib/project-root.ts'
import { cpuMsOf } from './lib/processes.ts'
import { int } from './lib/report.ts'
import { LIBRARIES, type JobData, type Producer, type QueueLibrary } from './lib/queue-libraries.ts'

const args = parseCli({
  command: 'npm run bench:queues --',
  summary: 'Measures pg-boss and graphile-worker with three worker instances each (schemas of their own in the given database, ' +
    'dropped afterwards): backlog throughput, commit-to-start latency, recovery after a SIGKILL. Loopback only; stops by itself.',
  options: {
    only: { type: 'string', default: 'graphile-worker,pg-boss', value: 'list', description: `Libraries in the order run, comma-separated: ${Object.keys(LIBRARIES).join(', ')}` },
    postgres: { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/test', value: 'url', description: 'Database to install the queues in' },
    instances: { type: 'string', default: '3', value: 'n', description: 'Worker instances (processes)' },
    concurrency: { type: 'string', default: '8', value: 'n', description: 'Jobs in hand at once per instance' },
    jobs: { type: 'string', default: '10000', value: 'n', description: 'Jobs in the backlog' },
    batch: { type: 'string', default: '500', value: 'n', description: 'Backlog jobs per enqueuing transaction' },
    'drain-seconds': { type: 'string', default: '120', value: 's', description: 'Longest wait for the backlog to drain' },
    rate: { type: 'string', default: '50', value: 'n', description: 'Jobs per second in the latency phase, one per transaction' },
    seconds: { type: 'string', default: '10', value: 's', description: 'Length of the latency phase' },
    'hold-ms': { type: 'string', default: '3000', value: 'ms', description: 'How long a crash-phase job stays in hand' },
    'recovery-seconds': { type: 'string', default: '60', value: 's', description: 'Longest wait for a killed instance\'s jobs to run elsewhere' },
    out: { type: 'string', default: join(projectRoot, 'bench', 'QUEUES.md'), value: 'file', description: 'Where to write the results' },
    'deadline-minutes': { type: 'string', default: '15', value: 'minutes', description: 'Stop, cleaning up, after this long whatever happens' }
  }
})

const num = (s: string | undefined) => Number(s)
const INSTANCES = num(args.instances)
const CONCURRENCY = num(args.concurrency)
const JOBS = num(args.jobs)
const BATCH = num(args.batch)
const RATE = num(args.rate)
const SECONDS = num(args.seconds)
const HOLD_MS = num(args['hold-ms'])
const url = args.postgres!
const libraries = args.only!.split(',').map((name) => {
  const library = LIBRARIES[name]
  if (!library) throw new Error(`unknown library ${name}: one of ${Object.keys(LIBRARIES).join(', ')}`)
  return library
})
// Traffic stays on this machine.
if (!['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname)) throw new Error(`not a loopback address: ${url}`)

const sleep = async (t: number) => await new Promise((resolve) => setTimeout(resolve, t))
const log = (...a: unknown[]) => console.log(`[queues ${new Date().toISOString().slice(11, 19)}]`, ...a)

// Wall-clock milliseconds with sub-millisecond steps (Date.now() has whole ones), comparable
// with Postgres's clock_timestamp(): both read the same system clock.
const anchor = (() => {
  const t0 = Date.now()
  let wall = t0
  while (wall === t0) wall = Date.now()
  return { wall, hr: process.hrtime.bigint() }
})()
const nowMs = () => anchor.wall + Number(process.hrtime.bigint() - anchor.hr) / 1e6

interface WorkerChild { instance: number, child: ChildProcess, pid: number }
const children = new Set<ChildProcess>()
const clients = new Set<pg.Client>()
const producers = new Set<Producer>()

async function stopChild (child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) { children.delete(child); return }
  const exited = new Promise((resolve) => child.once('exit', resolve))
  if (child.connected) child.send({ type: 'stop' })
  else child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  await exited
  clearTimeout(timer)
  children.delete(child)
}

async function cleanup (): Promise<void> {
  await Promise.all([...children].map(async (c) => await stopChild(c, 5000).catch(() => {})))
  for (const p of [...producers]) await p.close().catch(() => {})
  producers.clear()
  const admin = new pg.Client({ connectionString: url, application_name: 'qb-admin' })
  await admin.connect().then(async () => {
    for (const l of libraries) await admin.query(`DROP SCHEMA IF EXISTS "${l.schema}" CASCADE`)
    await admin.query('DROP SCHEMA IF EXISTS queue_bench CASCADE')
  }).catch((err) => log('could not drop the bench schemas:', err.message)).finally(() => admin.end().catch(() => {}))
  for (const c of [...clients]) await c.end().catch(() => {})
  clients.clear()
}

// Bounded in time whatever happens.
const watchdog = setTimeout(() => {
  log(`deadline of ${args['deadline-minutes']} minutes reached: stopping`)
  cleanup().finally(() => process.exit(2))
}, num(args['deadline-minutes']) * 60_000)
watchdog.unref()
process.once('SIGINT', () => { cleanup().finally(() => process.exit(130)) })

async function connect (name: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url, application_name: name })
  await client.connect()
  clients.add(client)
  return client
}

async function startWorkers (library: QueueLibrary): Promise<WorkerChild[]> {
  const script = fileURLToPath(new URL('./lib/queue-worker.ts', import.meta.url))
  return await Promise.all(Array.from({ length: INSTANCES }, async (_, instance) => {
    const child = fork(script, [library.name, String(instance), String(CONCURRENCY), url], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    children.add(child)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`instance ${instance} not ready in 60 s`)), 60_000)
      child.once('message', () => { clearTimeout(timer); resolve() })
      child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`instance ${instance} exited (${code}) during start-up`)) })
    })
    return { instance, child, pid: child.pid! }
  }))
}

const cpuOf = (workers: WorkerChild[]) => workers.reduce((n, w) => n + cpuMsOf(w.pid), 0)

// CPU of the Postgres backends serving the libraries' own connections (qb-worker-*), read from
// /proc every 250 ms; the handlers' inserts (qb-handler-*, the same for both) are left out.
function sampleBackends (admin: pg.Client): { stop: () => Promise<number> } {
  const first = new Map<number, number>()
  const last = new Map<number, number>()
  const tick = async () => {
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'qb-worker-%'")
    for (const { pid } of rows) {
      try {
        const cpu = cpuMsOf(pid)
        if (!first.has(pid)) first.set(pid, cpu)
        last.set(pid, cpu)
      } catch { /* the backend has gone */ }
    }
  }
  // A failed reading (a backend gone between the query and /proc) only loses that sample.
  const safeTick = async () => await tick().catch(() => {})
  let running = safeTick()
  const timer = setInterval(() => { running = running.then(safeTick) }, 250)
  return {
    async stop () {
      clearInterval(timer)
      await running
      await tick()
      return [...last].reduce((n, [pid, cpu]) => n + cpu - first.get(pid)!, 0)
    }
  }
}

async function count (admin: pg.Client, prefix: string): Promise<number> {
  const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM queue_bench.results WHERE key LIKE $1', [`${prefix}%`])
  return rows[0]!.n
}

// Polls until `want` rows of the phase exist or the time is up; returns how many there were.
async function waitRows (admin: pg.Client, prefix: string, want: number, seconds: number, everyMs = 100): Promise<number> {
  const until = Date.now() + seconds * 1000
  for (;;) {
    const n = await count(admin, prefix)
    if (n >= want || Date.now() > until) return n
    await sleep(everyMs)
  }
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)]!
}

interface Result {
  library: QueueLibrary
  throughput: { done: number, jobsPerSecond: number, enqueueMs: number, perInstance: string, workerCpuUs: number, pgCpuUs: number }
  latency: { done: number, offered: number, achievedRate: number, p50: number, p95: number, p99: number, max: number, min: number, workerCpuUs: number, pgCpuUs: number } | null
  twice: number
  crash: { held: number, back: number, seconds: number | null, others: number } | null
}

async function throughputPhase (admin: pg.Client, producer: Producer, workers: WorkerChild[]): Promise<Result['throughput']> {
  const tx = await connect('qb-producer')
  const cpu0 = cpuOf(workers)
  const backends = sampleBackends(admin)
  let firstCommit = 0
  for (let i = 0; i < JOBS; i += BATCH) {
    const jobs: JobData[] = Array.from({ length: Math.min(BATCH, JOBS - i) }, (_, j) => ({ key: `t-${i + j}`, holdMs: 0 }))
    await tx.query('BEGIN')
    await producer.enqueueMany(tx, jobs)
    await tx.query('COMMIT')
    if (firstCommit === 0) firstCommit = nowMs()
  }
  const enqueueMs = nowMs() - firstCommit
  const done = await waitRows(admin, 't-', JOBS, num(args['drain-seconds']))
  const workerCpu = cpuOf(workers) - cpu0
  const pgCpu = await backends.stop()
  const { rows: [last] } = await admin.query<{ ms: number }>("SELECT extract(epoch FROM max(started_at))::float8 * 1000 AS ms FROM queue_bench.results WHERE key LIKE 't-%'")
  const { rows: split } = await admin.query<{ instance: number, n: number }>("SELECT instance, count(*)::int AS n FROM queue_bench.results WHERE key LIKE 't-%' GROUP BY instance ORDER BY instance")
  await tx.end()
  clients.delete(tx)
  return {
    done,
    jobsPerSecond: done / ((last!.ms - firstCommit) / 1000),
    enqueueMs,
    perInstance: split.map((r) => int(r.n)).join(' / '),
    workerCpuUs: workerCpu * 1000 / done,
    pgCpuUs: pgCpu * 1000 / done
  }
}

async function latencyPhase (admin: pg.Client, producer: Producer, workers: WorkerChild[]): Promise<Result['latency']> {
  const tx = await connect('qb-producer')
  const offered = Math.round(RATE * SECONDS)
  const commits = new Map<string, number>()
  const cpu0 = cpuOf(workers)
  const backends = sampleBackends(admin)
  const start = nowMs()
  for (let i = 0; i < offered; i++) {
    const wait = start + i * 1000 / RATE - nowMs()
    if (wait > 0) await sleep(wait)
    const key = `l-${i}`
    await tx.query('BEGIN')
    await producer.enqueueOne(tx, { key, holdMs: 0 })
    await tx.query('COMMIT')
    // The producer's view of the commit: when COMMIT has returned.
    commits.set(key, nowMs())
  }
  const achievedRate = offered / ((nowMs() - start) / 1000)
  const done = await waitRows(admin, 'l-', offered, 30, 20)
  const workerCpu = cpuOf(workers) - cpu0
  const pgCpu = await backends.stop()
  await tx.end()
  clients.delete(tx)
  const { rows } = await admin.query<{ key: string, ms: number }>("SELECT key, extract(epoch FROM started_at)::float8 * 1000 AS ms FROM queue_bench.results WHERE key LIKE 'l-%'")
  const latencies = rows.map((r) => r.ms - commits.get(r.key)!).sort((a, b) => a - b)
  if (latencies.length === 0) return null
  return {
    done,
    offered,
    achievedRate,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1]!,
    min: latencies[0]!,
    workerCpuUs: workerCpu * 1000 / done,
    pgCpuUs: pgCpu * 1000 / done
  }
}

// Every instance takes jobs that stay in hand for HOLD_MS; the one holding most is SIGKILLed and
// the bench waits for its jobs to start again on the others (recorded as reruns).
async function crashPhase (admin: pg.Client, producer: Producer, workers: WorkerChild[]): Promise<Result['crash']> {
  const tx = await connect('qb-producer')
  const jobs: JobData[] = Array.from({ length: INSTANCES * CONCURRENCY }, (_, i) => ({ key: `c-${i}`, holdMs: HOLD_MS }))
  await tx.query('BEGIN')
  await producer.enqueueMany(tx, jobs)
  await tx.query('COMMIT')
  await tx.end()
  clients.delete(tx)
  // Every job in hand, or half the hold gone: either way all started jobs are still held.
  await waitRows(admin, 'c-', jobs.length, HOLD_MS / 2000, 20)
  const { rows: held } = await admin.query<{ instance: number, keys: string[] }>(
    "SELECT instance, array_agg(key) AS keys FROM queue_bench.results WHERE key LIKE 'c-%' GROUP BY instance ORDER BY count(*) DESC LIMIT 1")
  if (!held[0]) return null
  const victim = workers.find((w) => w.instance === held[0]!.instance)!
  const killedAt = nowMs()
  victim.child.kill('SIGKILL')
  log(`SIGKILLed instance ${victim.instance} holding ${held[0].keys.length} jobs`)
  const until = Date.now() + num(args['recovery-seconds']) * 1000
  const keys = held[0].keys
  let back: Array<{ ms: number }> = []
  while (Date.now() < until) {
    back = (await admin.query<{ ms: number }>(
      'SELECT extract(epoch FROM min(started_at))::float8 * 1000 AS ms FROM queue_bench.reruns WHERE key = ANY($1) AND instance <> $2 GROUP BY key',
      [keys, victim.instance])).rows
    if (back.length === keys.length) break
    await sleep(200)
  }
  const { rows: [others] } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM queue_bench.reruns WHERE key LIKE 'c-%' AND NOT (key = ANY($1))", [keys])
  return {
    held: keys.length,
    back: back.length,
    seconds: back.length === keys.length ? (Math.max(...back.map((r) => r.ms)) - killedAt) / 1000 : null,
    others: others!.n
  }
}

async function measure (library: QueueLibrary): Promise<Result> {
  log(`${library.name}: fresh schema ${library.schema}`)
  const admin = await connect('qb-admin')
  await admin.query('DROP SCHEMA IF EXISTS queue_bench CASCADE')
  await admin.query('CREATE SCHEMA queue_bench')
  await admin.query('CREATE TABLE queue_bench.results (key text PRIMARY KEY, instance int NOT NULL, started_at timestamptz NOT NULL)')
  await admin.query('CREATE TABLE queue_bench.reruns (key text NOT NULL, instance int NOT NULL, started_at timestamptz NOT NULL)')
  const producer = await library.install(url)
  producers.add(producer)
  const workers = await startWorkers(library)
  log(`${library.name}: ${INSTANCES} instances up (${library.settings(CONCURRENCY)})`)

  const throughput = await throughputPhase(admin, producer, workers)
  log(`${library.name}: ${int(throughput.done)} jobs at ${int(throughput.jobsPerSecond)} jobs/s, by instance ${throughput.perInstance}`)
  await sleep(1000)
  // A backlog left over would only measure the wait behind it.
  const latency = throughput.done === JOBS ? await latencyPhase(admin, producer, workers) : null
  if (latency) log(`${library.name}: latency p50 ${latency.p50.toFixed(1)} p95 ${latency.p95.toFixed(1)} p99 ${latency.p99.toFixed(1)} max ${latency.max.toFixed(1)} ms`)
  const { rows: [twice] } = await admin.query<{ n: number }>("SELECT count(*)::int AS n FROM queue_bench.reruns WHERE key NOT LIKE 'c-%'")
  await sleep(1000)
  const crash = await crashPhase(admin, producer, workers)
  if (crash) log(`${library.name}: ${crash.back} of ${crash.held} jobs of the killed instance ran again${crash.seconds === null ? '' : ` after ${crash.seconds.toFixed(1)} s`}`)

  await Promise.all(workers.map(async (w) => await stopChild(w.child)))
  producers.delete(producer)
  await producer.close()
  await admin.query(`DROP SCHEMA IF EXISTS "${library.schema}" CASCADE`)
  await admin.query('DROP SCHEMA IF EXISTS queue_bench CASCADE')
  await admin.end()
  clients.delete(admin)
  return { library, throughput, latency, twice: twice!.n, crash }
}

const versionOf = (name: string) => (JSON.parse(readFileSync(join(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version
const f1 = (x: number) => x.toFixed(1)

function render (results: Result[], context: string[]): string {
  const row = (label: string, cell: (r: Result) => string) => `| ${label} | ${results.map(cell).join(' | ')} |`
  const na = 'not measured'
  const lines = [
    '# Job queues: pg-boss and graphile-worker on this machine', '',
    ...context, '',
    `| measure | ${results.map((r) => r.library.name).join(' | ')} |`,
    `|---|${results.map(() => '---|').join('')}`,
    row(`backlog: ${int(JOBS)} jobs (${int(BATCH)} per transaction), first commit to last start`, (r) => `**${int(r.throughput.jobsPerSecond)} jobs/s**${r.throughput.done < JOBS ? ` (only ${int(r.throughput.done)} in ${args['drain-seconds']} s)` : ''}`),
    row('backlog: enqueue time (all commits)', (r) => `${int(r.throughput.enqueueMs)} ms`),
    row('backlog: jobs per instance', (r) => r.throughput.perInstance),
    row('backlog: worker CPU per job (3 processes)', (r) => `${int(r.throughput.workerCpuUs)} us`),
    row('backlog: Postgres CPU per job (the library\'s connections)', (r) => `${int(r.throughput.pgCpuUs)} us`),
    row(`latency: ${RATE} jobs/s one per transaction for ${SECONDS} s, commit to start p50 / p95 / p99 / max`, (r) => r.latency ? `**${f1(r.latency.p50)} / ${f1(r.latency.p95)} / ${f1(r.latency.p99)}** / ${f1(r.latency.max)} ms` : na),
    row('latency: jobs started / offered (rate achieved)', (r) => r.latency ? `${r.latency.done} / ${r.latency.offered} (${f1(r.latency.achievedRate)}/s)` : na),
    row('latency: worker CPU per job (3 processes, idle polling included)', (r) => r.latency ? `${int(r.latency.workerCpuUs)} us` : na),
    row('latency: Postgres CPU per job (the library\'s connections)', (r) => r.latency ? `${int(r.latency.pgCpuUs)} us` : na),
    row('processed twice (must be 0)', (r) => `${r.twice}`),
    row(`SIGKILL of an instance holding jobs (${HOLD_MS} ms each): its jobs started again elsewhere`, (r) => r.crash
      ? r.crash.seconds === null ? `**${r.crash.back} of ${r.crash.held} within ${args['recovery-seconds']} s**` : `**all ${r.crash.held} after ${f1(r.crash.seconds)} s**`
      : na),
    '',
    'Settings of each instance:', '',
    ...results.map((r) => `- ${r.library.name}: ${r.library.settings(CONCURRENCY)}`),
    '',
    'Each job inserts (key, instance, clock_timestamp()) into a results table keyed by the job key; a second run of a key ' +
    'is recorded apart and counted as processed twice. Latency runs from the producer seeing its COMMIT return to that ' +
    'insert. CPU is read from /proc: the three worker processes, and the Postgres backends of the libraries\' own ' +
    'connections (the handlers\' inserts, the same for both, left out).'
  ]
  return lines.join('\n') + '\n'
}

async function main (): Promise<void> {
  const started = new Date()
  const load = loadavg()
  const admin = await connect('qb-admin')
  const { rows: [server] } = await admin.query<{ v: string }>("SELECT current_setting('server_version') AS v")
  await admin.end()
  clients.delete(admin)
  const results: Result[] = []
  for (const library of libraries) results.push(await measure(library))
  const context = [
    `Run ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npm run bench:queues\` (${Math.round((Date.now() - started.getTime()) / 1000)} s), ` +
    `${cpus().length} x ${cpus()[0]?.model ?? 'CPU'}, load average at start ${load.map((x) => x.toFixed(2)).join(' ')}; ` +
    `Node ${process.versions.node}, PostgreSQL ${server!.v}, pg-boss ${versionOf('pg-boss')}, graphile-worker ${versionOf('graphile-worker')}.`,
    `${INSTANCES} worker instances per library, each its own process, ${CONCURRENCY} jobs in hand at once per instance; libraries run one after the other, in the order shown.`
  ]
  const report = render(results, context)
  writeFileSync(args.out!, report)
  console.log('\n' + report)
}

main().then(async () => {
  await cleanup()
  process.exit(0)
}, async (err) => {
  log('failed:', err)
  await cleanup()
  process.exit(1)
})
