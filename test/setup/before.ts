// tap's `before` step: provides the Postgres and Redis the test files use when TEST_DATABASE_URL
// or TEST_REDIS_URL is not set. Postgres: one embedded PostgreSQL for the whole run (each test
// file creates a database of its own on it). Redis: a redis-server from PATH on a free port,
// else containers started by each test file through testcontainers, else the run stops here
// with one message saying what to install or set.
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { writeRunBackends } from './run-backends.ts'

const START_TIMEOUT_MS = 60_000

function fail (message: string): never {
  console.error(`\n${message}\n`)
  process.exit(1)
}

function redisServerOnPath (): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore', timeout: 5000 }).status === 0
}

async function containerRuntime (): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers')
    await getContainerRuntimeClient()
    return true
  } catch {
    return false
  }
}

const needPostgres = !process.env.TEST_DATABASE_URL
const needRedis = !process.env.TEST_REDIS_URL
const redisFromPath = needRedis && redisServerOnPath()
if (needRedis && !redisFromPath && !await containerRuntime()) {
  fail('The tests need Redis. Install redis-server (e.g. `apt-get install redis-server` or `brew install redis`) ' +
    'so the run can start one, set TEST_REDIS_URL (e.g. redis://127.0.0.1:6379), or provide a container runtime ' +
    'for testcontainers.')
}

if (needPostgres || redisFromPath) {
  const child = spawn(process.execPath, [fileURLToPath(new URL('backends-process.ts', import.meta.url)), String(process.ppid), redisFromPath ? 'redis' : ''], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc']
  })
  const answer = await new Promise<{ postgresUrl?: string, redisUrl?: string, error?: string }>((resolve) => {
    const timer = setTimeout(() => resolve({ error: `no answer within ${START_TIMEOUT_MS / 1000} s` }), START_TIMEOUT_MS)
    child.once('message', (message) => { clearTimeout(timer); resolve(message as { error?: string }) })
    child.once('exit', (code) => { clearTimeout(timer); resolve({ error: `exited (${code})` }) })
  })
  if (answer.error !== undefined) {
    child.kill('SIGTERM')
    fail(`The test run could not start its own ${needPostgres ? 'PostgreSQL' : ''}${needPostgres && redisFromPath ? ' and ' : ''}${redisFromPath ? 'Redis' : ''} ` +
      `(${answer.error}). Set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) and TEST_REDIS_URL ` +
      '(e.g. redis://127.0.0.1:6379) to use running servers instead.')
  }
  await writeRunBackends({ pid: child.pid!, postgresUrl: answer.postgresUrl, redisUrl: answer.redisUrl })
  // The servers outlive this step: test/setup/after.ts stops them.
  child.disconnect()
  child.unref()
}
