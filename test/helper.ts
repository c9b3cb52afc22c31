import { randomBytes } from 'node:crypto'
import { chmod, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import pg from 'pg'
import { Redis } from 'ioredis'
import { createSigner } from 'fast-jwt'
import app from '../app.ts'
import { loadConfig } from '../plugins/config.ts'
import { serverOptions } from '../lib/server-options.ts'
import type { Config } from '../schemas/env.ts'
import { resolveBackends } from './backends.ts'

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789'

type Test = { teardown: (fn: () => unknown) => void, comment: (...args: unknown[]) => void }

function uniqueName (prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`
}

// A database of its own for one test file (or one group of app instances), dropped afterwards.
export async function createTestDatabase (t: Test): Promise<string> {
  const { postgresUrl } = await resolveBackends(t)
  const name = uniqueName('t')
  const admin = new pg.Client({ connectionString: postgresUrl })
  await admin.connect()
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.end()
  t.teardown(async () => {
    const c = new pg.Client({ connectionString: postgresUrl })
    await c.connect()
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
    await c.end()
  })
  const url = new URL(postgresUrl)
  url.pathname = `/${name}`
  return url.toString()
}

// A data folder of its own (local files, the development secret, an embedded database), removed
// afterwards, outside the project so a test run leaves nothing under .data/. Open to others:
// run as root, the embedded PostgreSQL runs below it as the postgres user.
export async function createDataDir (t: Test): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hc-data-'))
  await chmod(dir, 0o755)
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

// A key prefix of its own, with its keys removed afterwards.
export async function createRedisPrefix (t: Test): Promise<string> {
  const { redisUrl } = await resolveBackends(t)
  const prefix = `${uniqueName('t')}:`
  t.teardown(async () => {
    const redis = new Redis(redisUrl)
    let cursor = '0'
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
      if (keys.length > 0) await redis.del(...keys)
      cursor = next
    } while (cursor !== '0')
    await redis.quit()
  })
  return prefix
}

export interface BuildOptions {
  config?: Partial<Record<keyof Config, unknown>>
  // Share a database with another instance (multi-instance tests).
  databaseUrl?: string
  redisPrefix?: string
  // Extra routes or hooks a test needs, added before the app is ready.
  extend?: (fastify: FastifyInstance) => void | Promise<void>
}

export async function testConfig (t: Test, opts: BuildOptions = {}): Promise<Config> {
  const { redisUrl } = await resolveBackends(t)
  return loadConfig({
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DATABASE_URL: opts.databaseUrl ?? await createTestDatabase(t),
    DATABASE_POOL_MAX: 5,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: opts.redisPrefix ?? await createRedisPrefix(t),
    JWT_SECRET: TEST_JWT_SECRET,
    DATA_DIR: opts.config?.DATA_DIR ?? await createDataDir(t),
    PUBLIC_URL: 'http://localhost',
    // A busy test machine must not shed load in tests about something else.
    MAX_EVENT_LOOP_DELAY_MS: 0,
    ...opts.config
  })
}

// The application as the server runs it, closed when the test ends.
export async function build (t: Test, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const config = await testConfig(t, opts)
  const fastify = Fastify(serverOptions(config))
  await fastify.register(fp(app), { config })
  if (opts.extend) await fastify.register(async (child) => { await opts.extend?.(child) })
  t.teardown(async () => await fastify.close())
  await fastify.ready()
  return fastify
}

export interface TokenOptions {
  sub: string
  admin?: boolean
  service?: boolean
  expiresIn?: number
  claims?: Record<string, unknown>
}

const signHs256 = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 3600_000, aud: 'authenticated' })

export function token (opts: TokenOptions): string {
  return signHs256({
    sub: opts.sub,
    email: `${opts.sub.slice(0, 8)}@example.test`,
    role: opts.service ? 'service_role' : 'authenticated',
    app_metadata: opts.admin ? { role: 'admin' } : {},
    ...opts.claims
  })
}

export function bearer (opts: TokenOptions): { authorization: string } {
  return { authorization: `Bearer ${token(opts)}` }
}
