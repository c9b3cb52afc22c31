import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { Redis } from 'ioredis'

// A database and a Redis key prefix of the benchmark's own on the shared local servers,
// removed afterwards. Nothing else on those servers is touched (no FLUSHALL, no other database).
export interface BenchStores {
  name: string
  databaseUrl: string
  redisUrl: string
  redisPrefix: string
  drop: () => Promise<void>
}

export async function createStores (postgresUrl: string, redisUrl: string): Promise<BenchStores> {
  const name = `bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`
  const admin = new pg.Client({ connectionString: postgresUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  const url = new URL(postgresUrl)
  url.pathname = `/${name}`
  const redisPrefix = `${name}:`

  async function drop (): Promise<void> {
    const c = new pg.Client({ connectionString: postgresUrl })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
    await deletePrefix(redisUrl, redisPrefix)
  }
  return { name, databaseUrl: url.toString(), redisUrl, redisPrefix, drop }
}

// SCAN + UNLINK of the benchmark's own keys only.
export async function deletePrefix (redisUrl: string, prefix: string): Promise<number> {
  const redis = new Redis(redisUrl)
  let removed = 0
  try {
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) removed += await redis.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  } finally {
    redis.disconnect()
  }
  return removed
}
