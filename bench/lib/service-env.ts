import type { BenchStores } from './stores.ts'

// The environment the benchmarks give the service: production settings against the bench's
// own database and Redis prefix, quiet logs, and a rate-limit budget high enough that a few
// users can generate the load (every request is still counted in Redis).
export function benchServiceEnv (stores: BenchStores, opts: { secret: string, dataDir: string, tickMs: number, rankWindowSeconds: number }): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    DATABASE_URL: stores.databaseUrl,
    REDIS_URL: stores.redisUrl,
    REDIS_KEY_PREFIX: stores.redisPrefix,
    JWT_SECRET: opts.secret,
    DATA_DIR: opts.dataDir,
    REALTIME_TICK_MS: String(opts.tickMs),
    // Rank messages coalesced per participant and competition over this window.
    NOTIFY_RANK_WINDOW_SECONDS: String(opts.rankWindowSeconds),
    RATE_LIMIT_MAX: '1000000000',
    // The events scenario's webhook receiver listens on loopback.
    WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true'
  }
}
