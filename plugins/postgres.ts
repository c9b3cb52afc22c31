import path from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyInstance } from 'fastify'
import fastifyPostgres from '@fastify/postgres'
import pg from 'pg'
import { startEmbeddedPostgres } from '../lib/embedded-postgres.ts'
import { migrate } from '../lib/migrate.ts'
import { SESSION_OPTIONS } from '../lib/pg-session.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // Where the data lives; read by health checks and start-up logs.
    postgresMode: 'external' | 'embedded'
    // Pool for read-heavy queries that tolerate replication lag: a read replica when
    // DATABASE_READ_URL is set, otherwise the primary pool itself. May use it: public
    // competition lists and details, leaderboard pages read from Postgres, activity feeds,
    // score and sync history, admin reports. Must NOT use it: anything inside a transaction,
    // anything that reads its own writes (the response of a POST/PUT, idempotency checks),
    // balances before money moves, projection rebuilds, lifecycle jobs. See README "Operations".
    pgRead: pg.Pool
    // The primary's connection string (the embedded server's when none is configured), for
    // components that open connections of their own (the job queue).
    postgresUrl: string
  }
}

// The replica pool is read-only at the session level too, so a write sent to it by mistake
// fails loudly even when the URL points at a primary.
function createReadPool (fastify: FastifyInstance): pg.Pool {
  const { config } = fastify
  const pool = new pg.Pool({
    connectionString: config.DATABASE_READ_URL,
    max: config.DATABASE_POOL_MAX,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
    query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 1000,
    idleTimeoutMillis: 30000,
    options: `${SESSION_OPTIONS} -c default_transaction_read_only=on`
  })
  pool.on('error', (err) => fastify.log.warn({ err }, 'idle Postgres replica client failed'))
  fastify.addHook('onClose', async () => await pool.end())
  return pool
}

// A configured DATABASE_URL is always used as given: an unreachable server fails start-up,
// it never falls back to the embedded database.
export default fp(async function postgresPlugin (fastify) {
  const { config } = fastify
  let connectionString = config.DATABASE_URL
  let stopEmbedded: (() => Promise<void>) | undefined
  if (connectionString === '') {
    fastify.log.warn({ dataDir: config.DATA_DIR }, 'DATABASE_URL is not set: starting an embedded PostgreSQL. Embedded mode is single-instance and meant for trying the service out')
    const embedded = await startEmbeddedPostgres({ dir: path.join(config.DATA_DIR, 'postgres'), log: fastify.log })
    connectionString = embedded.connectionString
    stopEmbedded = embedded.stop
    // Added before the pools' hooks so it runs after them (onClose runs last added, first):
    // the server stops once every client has gone.
    fastify.addHook('onClose', stopEmbedded)
  }

  try {
    const { applied, version } = await migrate(connectionString)
    fastify.log.info({ applied, version }, 'database schema is up to date')
  } catch (err) {
    await stopEmbedded?.()
    throw err
  }

  await fastify.register(fastifyPostgres, {
    connectionString,
    max: config.DATABASE_POOL_MAX,
    connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
    statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
    query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + 1000,
    idleTimeoutMillis: 30000,
    options: SESSION_OPTIONS
  })
  // An idle client losing its server must not crash the process; the next query reconnects.
  fastify.pg.pool.on('error', (err) => fastify.log.warn({ err }, 'idle Postgres client failed'))
  fastify.decorate('postgresMode', stopEmbedded ? 'embedded' : 'external')
  fastify.decorate('postgresUrl', connectionString)
  fastify.decorate('pgRead', config.DATABASE_READ_URL === '' ? fastify.pg.pool : createReadPool(fastify))
}, { name: 'postgres', dependencies: ['config'] })
