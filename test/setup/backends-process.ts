// Owns the servers of one test run: an embedded PostgreSQL (unless TEST_DATABASE_URL is set)
// and a redis-server from PATH (when asked for). Started by test/setup/before.ts, which hears
// their URLs over IPC; stopped by test/setup/after.ts with SIGTERM, or by itself once the tap
// runner it serves is gone (a run killed before its `after` step).
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../lib/embedded-postgres.ts'
import { freePort } from '../../lib/free-port.ts'
import { running } from '../../lib/stale-postmaster.ts'
import { removeRunBackends } from './run-backends.ts'

const runnerPid = Number(process.argv[2])
const wantRedis = process.argv[3] === 'redis'
const quiet = { warn: () => {}, debug: () => {} }
const START_TIMEOUT_MS = 10_000

let dir: string | undefined
let postgres: EmbeddedPostgres | undefined
let redis: ChildProcess | undefined

async function redisAnswers (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('error', () => resolve(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => { socket.destroy(); resolve(data.toString().startsWith('+PONG')) })
  })
}

async function startRedis (): Promise<string> {
  const port = await freePort()
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const failed = new Promise<never>((_resolve, reject) => {
    redis!.once('error', reject)
    redis!.once('exit', (code) => reject(new Error(`redis-server exited (${code})`)))
  })
  const deadline = Date.now() + START_TIMEOUT_MS
  // redis-server says nothing when it is ready: ask until it answers.
  while (!await Promise.race([redisAnswers(port), failed])) {
    if (Date.now() > deadline) throw new Error(`redis-server did not answer on port ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return `redis://127.0.0.1:${port}`
}

async function startPostgres (): Promise<string> {
  dir = await mkdtemp(path.join(tmpdir(), 'hc-test-pg-'))
  // Run as root, the server runs as the postgres user, which must reach its folder.
  await chmod(dir, 0o755)
  postgres = await startEmbeddedPostgres({
    dir: path.join(dir, 'postgres'),
    log: quiet,
    // Thrown away after the run: no durability, and room for every test file's pools.
    settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' }
  })
  return postgres.connectionString
}

async function stop (): Promise<void> {
  if (redis && redis.exitCode === null && redis.signalCode === null) {
    const exited = new Promise((resolve) => redis!.once('exit', resolve))
    redis.kill('SIGTERM')
    await exited
  }
  await postgres?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
  await removeRunBackends(runnerPid)
}

let stopping: Promise<void> | undefined
function shutdown (): void {
  stopping ??= stop().finally(() => process.exit(0))
}
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, shutdown)
setInterval(() => { running(runnerPid).then((up) => up || shutdown(), shutdown) }, 1000)

try {
  const postgresUrl = process.env.TEST_DATABASE_URL ? undefined : await startPostgres()
  const redisUrl = wantRedis ? await startRedis() : undefined
  process.send?.({ postgresUrl, redisUrl })
} catch (err) {
  process.send?.({ error: (err as Error).message })
  shutdown()
}
