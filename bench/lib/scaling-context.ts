import { join } from 'node:path'
import { migrate } from '../../lib/migrate.ts'
import { startService, type Child } from './processes.ts'
import { benchServiceEnv } from './service-env.ts'
import { createStores, type BenchStores } from './stores.ts'
import type { LoadSettings } from './http.ts'
import type { Target } from './scenarios-http.ts'
import type { Tokens } from './tokens.ts'

// What every scaling curve shares: the stores it may create (each curve a database and Redis
// prefix of its own, dropped when it ends), the service started as production runs it, the
// processes to stop on the way out, and the time left before the run's deadline.
export interface ScalingContext {
  log: (...a: unknown[]) => void
  tokens: Tokens
  settings: LoadSettings
  // Directory for the CPU profiles of this curve's services, or '' for none.
  cpuProfDir: string
  timeLeftMs: () => number
  withStores: <T>(work: (stores: BenchStores) => Promise<T>) => Promise<T>
  startService: (stores: BenchStores, label: string, env?: Record<string, string>) => Promise<Child>
  target: (service: Child) => Target
  track: <T extends { stop: () => Promise<void> }>(c: T) => T
}

export interface ScalingContextOptions {
  log: (...a: unknown[]) => void
  postgres: string
  redis: string
  secret: string
  dataDir: string
  tokens: Tokens
  settings: LoadSettings
  cpuProfDir: string
  deadline: number
}

export function createScalingContext (opts: ScalingContextOptions): ScalingContext & { cleanup: () => Promise<void> } {
  const children = new Set<{ stop: () => Promise<void> }>()
  const open = new Set<BenchStores>()

  function track<T extends { stop: () => Promise<void> }> (c: T): T {
    children.add(c)
    const stop = c.stop
    c.stop = async () => { children.delete(c); await stop() }
    return c
  }

  async function withStores<T> (work: (stores: BenchStores) => Promise<T>): Promise<T> {
    const stores = await createStores(opts.postgres, opts.redis)
    open.add(stores)
    opts.log(`database ${stores.name}, Redis prefix ${stores.redisPrefix}`)
    try {
      await migrate(stores.databaseUrl)
      return await work(stores)
    } finally {
      for (const c of [...children]) await c.stop().catch(() => {})
      await stores.drop().catch((err) => opts.log('could not drop the bench stores:', err.message))
      open.delete(stores)
    }
  }

  async function start (stores: BenchStores, label: string, env: Record<string, string> = {}): Promise<Child> {
    const base = benchServiceEnv(stores, { secret: opts.secret, dataDir: opts.dataDir, tickMs: 100, rankWindowSeconds: 900 })
    const cpuProfileDir = opts.cpuProfDir ? join(opts.cpuProfDir, label) : undefined
    return track(await startService({ ...base, ...env }, { cpuProfileDir }))
  }

  async function cleanup (): Promise<void> {
    for (const c of [...children]) await c.stop().catch(() => {})
    for (const s of [...open]) await s.drop().catch(() => {})
    open.clear()
  }

  return {
    log: opts.log,
    tokens: opts.tokens,
    settings: opts.settings,
    cpuProfDir: opts.cpuProfDir,
    timeLeftMs: () => opts.deadline - Date.now(),
    withStores,
    startService: start,
    target: (service) => ({ base: `http://127.0.0.1:${service.port}`, pid: service.pid, settings: opts.settings, tokens: opts.tokens }),
    track,
    cleanup
  }
}
