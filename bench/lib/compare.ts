import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrate } from '../../lib/migrate.ts'
import { projectRoot } from '../../lib/project-root.ts'
import type { LoadResult, LoadSettings } from './http.ts'
import { buildService, startService, type Child } from './processes.ts'
import { ratioOfMedians } from './report.ts'
import { fitnessSync, leaderboardAround, leaderboardTop, profile, scoreUpdates, type Target } from './scenarios-http.ts'
import { seed, seedPlan, type SeedPlan } from './seed.ts'
import { createStores, type BenchStores } from './stores.ts'
import { createTokens } from './tokens.ts'

// npm run bench -- --compare <ref>: the working tree against another commit, measured the only
// way this machine allows (its speed swings from run to run): both built, each with a database
// and Redis prefix of its own seeded alike, then the chosen HTTP scenarios run on one and the
// other alternately, several rounds, the order flipped every round. The verdict is the ratio
// of CPU per request (steadier than req/s on a shared machine) with its spread over the rounds.

export const COMPARABLE = ['top', 'around', 'profile', 'score', 'sync'] as const
export type Comparable = typeof COMPARABLE[number]

export interface CompareOptions {
  ref: string
  scenarios: Comparable[]
  rounds: number
  scale: number
  settings: LoadSettings
  postgres: string
  redis: string
  log: (...a: unknown[]) => void
  // Called with what to stop when the bench is interrupted.
  track: <T extends { stop: () => Promise<void> }>(c: T) => T
}

interface Side {
  label: string
  root: string
  stores: BenchStores
}

export interface Reading { cpuUsPerRequest: number, rps: number }

export interface ScenarioComparison {
  scenario: Comparable
  before: Reading[]
  after: Reading[]
}

// A checkout of `ref` beside the working tree, sharing its node_modules, built as npm start builds.
function checkout (ref: string): { root: string, remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'hc-compare-'))
  execFileSync('git', ['worktree', 'add', '--detach', root, ref], { cwd: projectRoot, stdio: 'ignore' })
  symlinkSync(join(projectRoot, 'node_modules'), join(root, 'node_modules'))
  return {
    root,
    remove () {
      execFileSync('git', ['worktree', 'remove', '--force', root], { cwd: projectRoot, stdio: 'ignore' })
      if (existsSync(root)) rmSync(root, { recursive: true, force: true })
    }
  }
}

async function prepare (label: string, root: string, opts: CompareOptions, plan: SeedPlan): Promise<Side> {
  const stores = await createStores(opts.postgres, opts.redis)
  opts.track({ stop: stores.drop })
  await migrate(stores.databaseUrl, join(root, 'migrations'))
  const seeded = await seed(stores.databaseUrl, plan)
  opts.log(`${label}: database ${stores.name}, ${seeded.participants} participants seeded in ${seeded.ms} ms`)
  return { label, root, stores }
}

async function measure (side: Side, scenarios: Comparable[], env: Record<string, string>, opts: CompareOptions, plan: SeedPlan, tokens: ReturnType<typeof createTokens>): Promise<Map<Comparable, LoadResult>> {
  const { stores } = side
  const service: Child = opts.track(await startService({
    ...env, DATABASE_URL: stores.databaseUrl, REDIS_URL: stores.redisUrl, REDIS_KEY_PREFIX: stores.redisPrefix
  }, { root: side.root }))
  const out = new Map<Comparable, LoadResult>()
  try {
    const rebuilt = await fetch(`http://127.0.0.1:${service.port}/api/v1/admin/leaderboard/rebuild`, { method: 'POST', headers: { authorization: `Bearer ${tokens.service}` } })
    if (!rebuilt.ok) throw new Error(`${side.label}: rebuild failed: ${rebuilt.status}`)
    const t: Target = { base: `http://127.0.0.1:${service.port}`, pid: service.pid, settings: opts.settings, tokens }
    const size = (name: string) => Math.min(plan.users, plan.competitions.find((c) => c.name === name)!.size)
    for (const scenario of scenarios) {
      const result = scenario === 'top'
        ? await leaderboardTop(t, size('reads'))
        : scenario === 'around'
          ? await leaderboardAround(t, size('reads'))
          : scenario === 'profile'
            ? await profile(t, plan.users)
            : scenario === 'score'
              ? (await scoreUpdates(t, stores, size('writes'))).load
              : (await fitnessSync(t, stores.databaseUrl, Math.min(opts.settings.connections, size('steps')))).load
      if (result.errors > 0) throw new Error(`${side.label} ${scenario}: ${result.errors} errors`)
      opts.log(`${side.label} ${scenario}: ${Math.round(result.rps)} req/s, ${result.cpuUsPerRequest} us CPU per request`)
      out.set(scenario, result)
    }
  } finally {
    await service.stop()
  }
  return out
}

export async function compare (opts: CompareOptions): Promise<ScenarioComparison[]> {
  const plan = seedPlan(opts.scale)
  const base = checkout(opts.ref)
  const sides: Side[] = []
  try {
    opts.log(`building ${opts.ref} in ${base.root} and the working tree`)
    buildService(base.root)
    buildService()
    sides.push(await prepare(`before (${opts.ref})`, base.root, opts, plan))
    sides.push(await prepare('after (working tree)', projectRoot, opts, plan))
    const secret = randomBytes(32).toString('hex')
    const tokens = createTokens(secret)
    const dataDir = mkdtempSync(join(tmpdir(), 'hc-compare-data-'))
    const env = { NODE_ENV: 'production', LOG_LEVEL: 'warn', JWT_SECRET: secret, DATA_DIR: dataDir, RATE_LIMIT_MAX: '1000000000' }
    const readings = opts.scenarios.map((scenario) => ({ scenario, before: [] as Reading[], after: [] as Reading[] }))
    try {
      for (let round = 0; round < opts.rounds; round++) {
        // The order flips every round, so a machine slowing down or warming up favours neither.
        const order = round % 2 === 0 ? [0, 1] : [1, 0]
        for (const i of order) {
          const results = await measure(sides[i]!, opts.scenarios, env, opts, plan, tokens)
          for (const r of readings) {
            const result = results.get(r.scenario)!
            ;(i === 0 ? r.before : r.after).push({ cpuUsPerRequest: result.cpuUsPerRequest, rps: result.rps })
          }
        }
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true })
    }
    return readings
  } finally {
    for (const side of sides) await side.stores.drop().catch(() => {})
    base.remove()
  }
}

// after / before of the medians, and the lowest and highest of the per-round ratios.
function ratioOf (before: number[], after: number[]): string {
  const { ratio, perRound } = ratioOfMedians(before, after)
  return `${ratio.toFixed(2)} x (rounds ${Math.min(...perRound).toFixed(2)}-${Math.max(...perRound).toFixed(2)})`
}

export function compareReport (ref: string, results: ScenarioComparison[], rounds: number): string {
  const lines = [
    `Working tree against ${ref}, ${rounds} alternating rounds (ratio after / before of the medians; per-round range):`,
    '',
    '| scenario | CPU us/request before | after | CPU ratio | req/s before | after | req/s ratio |',
    '|---|---|---|---|---|---|---|'
  ]
  for (const r of results) {
    const cpu = (xs: Reading[]) => xs.map((x) => Math.round(x.cpuUsPerRequest))
    const rps = (xs: Reading[]) => xs.map((x) => Math.round(x.rps))
    lines.push(`| ${r.scenario} | ${cpu(r.before).join(', ')} | ${cpu(r.after).join(', ')} | ${ratioOf(cpu(r.before), cpu(r.after))} | ` +
      `${rps(r.before).join(', ')} | ${rps(r.after).join(', ')} | ${ratioOf(rps(r.before), rps(r.after))} |`)
  }
  return lines.join('\n')
}
