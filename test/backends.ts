// Which Postgres and Redis the tests use, each on its own: TEST_DATABASE_URL / TEST_REDIS_URL
// when set; otherwise the servers test/setup/before.ts started for this run (an embedded
// PostgreSQL, a redis-server from PATH); otherwise containers started by testcontainers.
import { readRunBackends } from './setup/run-backends.ts'

export interface Backends {
  postgresUrl: string
  redisUrl: string
  source: string
}

let resolved: Promise<Backends> | undefined
let announced = false

type Started = { getHost: () => string, getMappedPort: (port: number) => number, stop: () => Promise<unknown> }

function stopOnExit (container: Started): Started {
  process.once('exit', () => { container.stop().catch(() => {}) })
  return container
}

async function postgresContainer (): Promise<string> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const c = stopOnExit(await new GenericContainer('postgres:17-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start())
  return `postgres://postgres@${c.getHost()}:${c.getMappedPort(5432)}/postgres`
}

async function redisContainer (): Promise<string> {
  const { GenericContainer } = await import('testcontainers')
  const c = stopOnExit(await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start())
  return `redis://${c.getHost()}:${c.getMappedPort(6379)}`
}

async function resolve (): Promise<Backends> {
  const run = await readRunBackends()
  const postgresUrl = process.env.TEST_DATABASE_URL || run?.postgresUrl
  const redisUrl = process.env.TEST_REDIS_URL || run?.redisUrl
  const source = `postgres from ${process.env.TEST_DATABASE_URL ? 'TEST_DATABASE_URL' : postgresUrl ? 'the run\'s embedded PostgreSQL' : 'testcontainers'}, ` +
    `redis from ${process.env.TEST_REDIS_URL ? 'TEST_REDIS_URL' : redisUrl ? 'the run\'s redis-server' : 'testcontainers'}`
  try {
    return {
      postgresUrl: postgresUrl ?? await postgresContainer(),
      redisUrl: redisUrl ?? await redisContainer(),
      source
    }
  } catch (err) {
    throw new Error('The tests need a real Postgres and Redis. Run them with `npm test` (which starts an embedded PostgreSQL and a ' +
      'redis-server from PATH), set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) and TEST_REDIS_URL ' +
      `(e.g. redis://127.0.0.1:6379), or provide a container runtime for testcontainers. (testcontainers: ${(err as Error).message})`)
  }
}

export async function resolveBackends (t?: { comment: (...args: unknown[]) => void }): Promise<Backends> {
  resolved ??= resolve()
  const backends = await resolved
  if (!announced && t) {
    announced = true
    t.comment(`backends (${backends.source}): postgres ${new URL(backends.postgresUrl).host}, redis ${new URL(backends.redisUrl).host}`)
  }
  return backends
}
