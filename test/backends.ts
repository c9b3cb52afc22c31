// Which Postgres and Redis the tests use: TEST_DATABASE_URL / TEST_REDIS_URL when set,
// otherwise containers started by testcontainers, otherwise a clear message.
export interface Backends {
  postgresUrl: string
  redisUrl: string
  source: 'environment' | 'testcontainers'
}

let resolved: Promise<Backends> | undefined
let announced = false

async function fromContainers (): Promise<Backends> {
  const { GenericContainer, Wait } = await import('testcontainers')
  const postgres = await new GenericContainer('postgres:17-alpine')
    .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust' })
    .withExposedPorts(5432)
    .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
    .start()
  const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start()
  process.once('exit', () => { postgres.stop().catch(() => {}); redis.stop().catch(() => {}) })
  return {
    postgresUrl: `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/postgres`,
    redisUrl: `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`,
    source: 'testcontainers'
  }
}

async function resolve (): Promise<Backends> {
  const postgresUrl = process.env.TEST_DATABASE_URL
  const redisUrl = process.env.TEST_REDIS_URL
  if (postgresUrl && redisUrl) return { postgresUrl, redisUrl, source: 'environment' }
  try {
    return await fromContainers()
  } catch (err) {
    throw new Error('The tests need a real Postgres and Redis. Set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test) ' +
      'and TEST_REDIS_URL (e.g. redis://127.0.0.1:6379), or provide a container runtime for testcontainers. ' +
      `(testcontainers: ${(err as Error).message})`)
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
