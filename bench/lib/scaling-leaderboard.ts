import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { leaderboardKeys } from '../../lib/redis-keys.ts'
import { competitionId } from './ids.ts'
import { summariseProfiles } from './cpu-profile.ts'
import { cpuMsOf } from './processes.ts'
import { int, median, ratio, ratioOfMedians } from './report.ts'
import type { LoadResult } from './http.ts'
import { leaderboardAround, leaderboardTop, scoreUpdates } from './scenarios-http.ts'
import { seed } from './seed.ts'
import { startupRebuilds } from './startup-rebuilds.ts'
import type { ScalingContext } from './scaling-context.ts'
import type { BenchStores } from './stores.ts'
import { writePlot } from './scaling-plot.ts'
import type { Curve } from './scaling-report.ts'

// The leaderboard at growing sizes: one competition per size (users 1..n), seeded with
// set-based SQL. A first service times the rebuilds of each size's Redis projection and sizes
// its keys; a second one measures CPU time per top-50 read, around-me read and score update in
// rounds that alternate over the sizes, so a verdict rests on medians of readings taken side by
// side rather than on one reading per size (they move about 30 % run to run here).
// Where a rebuild's time went: CPU of the service, of Redis and of this database's Postgres
// backends, against its wall-clock time.
interface RebuildCost { wallMs: number, serviceMs: number, redisMs: number, postgresMs: number }

// One reading per round.
interface Requests { cpuUs: number[], rps: number[], errors: number }

interface Point {
  size: number
  // Rebuilds into an empty projection (as after Redis lost its data) and of one equal to
  // Postgres (as at a restart): the reading of median wall-clock time, and every reading's.
  empty: RebuildCost & { runsMs: number[] }
  equal: RebuildCost & { runsMs: number[] }
  redisBytes: number
  top: Requests
  around: Requests
  score: Requests & { lost: number, doubled: number, redisMismatches: number }
}

const name = (n: number) => `lb-${n}`

// MEMORY USAGE (every element counted: SAMPLES 0) of the competition's projection keys.
async function projectionBytes (redisUrl: string, prefix: string, id: string): Promise<number> {
  const redis = new Redis(redisUrl)
  try {
    let total = 0
    for (const key of Object.values(leaderboardKeys(prefix, id))) {
      total += Number(await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') ?? 0)
    }
    return total
  } finally {
    redis.disconnect()
  }
}

// Deletes the competition's projection, as Redis losing its data would.
async function dropProjection (redisUrl: string, prefix: string, id: string): Promise<void> {
  const redis = new Redis(redisUrl)
  try {
    await redis.del(...Object.values(leaderboardKeys(prefix, id)))
  } finally {
    redis.disconnect()
  }
}

async function rebuild (base: string, token: string, id: string): Promise<void> {
  const res = await fetch(`${base}/api/v1/admin/leaderboard/${id}/rebuild`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  if (!res.ok) throw new Error(`rebuild failed: ${res.status} ${await res.text()}`)
}

// CPU time of the processes a rebuild keeps busy, read from /proc: the service, the Redis
// server and the Postgres backends serving this database (the servers are local).
async function cpuCounters (redisUrl: string, databaseUrl: string, database: string, servicePid: number): Promise<() => Promise<RebuildCost>> {
  const redis = new Redis(redisUrl)
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const redisPid = Number(/process_id:(\d+)/.exec(await redis.info('server'))?.[1])
  const backends = async () => (await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database])).rows.map((r) => r.pid)
  const safeCpu = (pid: number) => { try { return cpuMsOf(pid) } catch { return 0 } }
  const startBackends = new Map((await backends()).map((pid) => [pid, safeCpu(pid)]))
  const start = { service: cpuMsOf(servicePid), redis: safeCpu(redisPid), at: performance.now() }
  return async function stop () {
    let postgresMs = 0
    for (const pid of new Set([...startBackends.keys(), ...await backends()])) postgresMs += Math.max(0, safeCpu(pid) - (startBackends.get(pid) ?? 0))
    const result = { wallMs: Math.round(performance.now() - start.at), serviceMs: cpuMsOf(servicePid) - start.service, redisMs: safeCpu(redisPid) - start.redis, postgresMs }
    redis.disconnect()
    await db.end()
    return result
  }
}

type Rebuilt = Pick<Point, 'size' | 'empty' | 'equal' | 'redisBytes'>

// The reading of median wall-clock time, with every reading's time.
function medianRun (runs: RebuildCost[]): RebuildCost & { runsMs: number[] } {
  const byTime = [...runs].sort((a, b) => a.wallMs - b.wallMs)
  return { ...byTime[Math.floor((byTime.length - 1) / 2)]!, runsMs: runs.map((r) => r.wallMs) }
}

// Each size's projection, `rebuilds` times: its keys deleted and rebuilt into the empty
// projection, then rebuilt again over the equal one; then its keys sized.
async function measureRebuilds (ctx: ScalingContext, stores: BenchStores, sizes: number[], rebuilds: number): Promise<Rebuilt[]> {
  const service = await ctx.startService(stores, 'leaderboard-rebuilds')
  const t = ctx.target(service)
  await startupRebuilds(t.base, sizes.length, 600_000)
  const rebuilt: Rebuilt[] = []
  for (const n of sizes) {
    if (ctx.timeLeftMs() < 120_000) { ctx.log(`leaderboard: stopping before ${int(n)} (deadline)`); break }
    const id = competitionId(name(n))
    const timedRebuild = async () => {
      const stopCounters = await cpuCounters(stores.redisUrl, stores.databaseUrl, stores.name, service.pid)
      await rebuild(t.base, ctx.tokens.service, id)
      return await stopCounters()
    }
    const emptyRuns: RebuildCost[] = []
    const equalRuns: RebuildCost[] = []
    for (let i = 0; i < rebuilds; i++) {
      await dropProjection(stores.redisUrl, stores.redisPrefix, id)
      emptyRuns.push(await timedRebuild())
      equalRuns.push(await timedRebuild())
    }
    const [empty, equal] = [medianRun(emptyRuns), medianRun(equalRuns)]
    const redisBytes = await projectionBytes(stores.redisUrl, stores.redisPrefix, id)
    ctx.log(`${int(n)}: rebuilt into an empty projection`, empty, 'and an equal one', equal, `projection ${int(redisBytes)} B`)
    rebuilt.push({ size: n, empty, equal, redisBytes })
  }
  await service.stop()
  return rebuilt
}

// Reads and score updates at every size, round after round; even rounds go up the sizes, odd
// rounds down, so no size is always measured first on a fresh service or last on a warm one.
async function measureRequests (ctx: ScalingContext, stores: BenchStores, sizes: number[], rounds: number): Promise<Map<number, Omit<Point, keyof Rebuilt>>> {
  const service = await ctx.startService(stores, 'leaderboard-requests')
  const t = ctx.target(service)
  await startupRebuilds(t.base, sizes.length, 600_000)
  const empty = (): Requests => ({ cpuUs: [], rps: [], errors: 0 })
  const bySize = new Map(sizes.map((n) => [n, { top: empty(), around: empty(), score: { ...empty(), lost: 0, doubled: 0, redisMismatches: 0 } }]))
  const add = (into: Requests, r: LoadResult) => { into.cpuUs.push(r.cpuUsPerRequest); into.rps.push(r.rps); into.errors += r.errors }
  for (let round = 0; round < rounds; round++) {
    if (round > 0 && ctx.timeLeftMs() < 180_000) { ctx.log(`leaderboard: stopping after ${round} rounds (deadline)`); break }
    for (const n of round % 2 === 0 ? sizes : [...sizes].reverse()) {
      const m = bySize.get(n)!
      const top = await leaderboardTop(t, n, name(n))
      const around = await leaderboardAround(t, n, name(n))
      const score = await scoreUpdates(t, stores, n, { competition: name(n) })
      add(m.top, top)
      add(m.around, around)
      add(m.score, score.load)
      m.score.lost += score.check.lost
      m.score.doubled += score.check.doubled
      m.score.redisMismatches += score.check.redisMismatches
      ctx.log(`round ${round + 1}, ${int(n)}: top ${top.cpuUsPerRequest} us/req, around ${around.cpuUsPerRequest} us/req, score ${score.load.cpuUsPerRequest} us/update`, score.check)
    }
  }
  await service.stop()
  return bySize
}

export async function leaderboardCurve (ctx: ScalingContext, opts: { sizes: number[], rebuilds: number, rounds: number, plotDir: string }): Promise<Curve> {
  const sizes = [...opts.sizes].sort((a, b) => a - b)
  let points: Point[] = []
  let seedMs = 0
  await ctx.withStores(async (stores) => {
    const seeded = await seed(stores.databaseUrl, { users: sizes.at(-1)!, competitions: sizes.map((n) => ({ name: name(n), metric: 'custom', size: n })) })
    seedMs = seeded.ms
    ctx.log(`seeded ${int(seeded.users)} users and ${int(seeded.participants)} participants in ${seeded.ms} ms`)
    const rebuilt = await measureRebuilds(ctx, stores, sizes, opts.rebuilds)
    const requests = await measureRequests(ctx, stores, rebuilt.map((r) => r.size), opts.rounds)
    points = rebuilt.map((r) => ({ ...r, ...requests.get(r.size)! }))
  })
  if (points.length === 0) throw new Error('no size measured before the deadline')

  const cpu = (pick: (p: Point) => Requests) => (p: Point) => median(pick(p).cpuUs)
  const series = (pick: (p: Point) => number, label: string) => points.map((p) => ({ x: p.size, y: pick(p), series: label }))
  await writePlot(join(opts.plotDir, 'leaderboard-cpu.svg'), {
    title: 'Service CPU per request (median of rounds)',
    x: { title: 'participants', log: true },
    y: { title: 'CPU time per request (us)' },
    points: [...series(cpu((p) => p.top), 'top 50'), ...series(cpu((p) => p.around), 'around me'), ...series(cpu((p) => p.score), 'score update')]
  })
  await writePlot(join(opts.plotDir, 'leaderboard-rebuild.svg'), {
    title: 'Projection rebuild time',
    x: { title: 'participants', log: true },
    y: { title: 'seconds', log: true },
    points: [
      ...series((p) => p.empty.wallMs / 1000, 'into an empty projection: wall clock'),
      ...series((p) => p.empty.serviceMs / 1000, 'its service CPU'),
      ...series((p) => p.empty.redisMs / 1000, 'its Redis CPU'),
      ...series((p) => p.empty.postgresMs / 1000, 'its Postgres CPU'),
      ...series((p) => p.equal.wallMs / 1000, 'of an equal projection: wall clock')
    ].filter((x) => x.y > 0)
  })
  await writePlot(join(opts.plotDir, 'leaderboard-redis.svg'), {
    title: 'Redis memory per participant',
    x: { title: 'participants', log: true },
    y: { title: 'bytes per participant' },
    points: series((p) => p.redisBytes / p.size, 'projection keys')
  })

  const first = points[0]!
  const last = points.at(-1)!
  const span = `${int(last.size)} against ${int(first.size)} participants`
  const reached = last.size >= 1_000_000 && first.size <= 1000
  // The ratio of the two sizes' medians decides; the ratios within each round show its spread.
  const within = (pick: (p: Point) => Requests, label: string) => {
    const [a, b] = [pick(first).cpuUs, pick(last).cpuUs]
    const { ratio: r, perRound } = ratioOfMedians(a, b)
    return {
      text: `${label} at 1,000,000 participants within 1.3 x of 1,000`,
      met: reached ? r <= 1.3 : null,
      detail: `${ratio(r)} of the medians (${int(median(b))} against ${int(median(a))} us; ${span}); within a round ${perRound.map((x) => x.toFixed(2)).join(', ')}`
    }
  }
  const targets = [
    within((p) => p.top, 'CPU per top-50 read'),
    within((p) => p.around, 'CPU per around-me read'),
    within((p) => p.score, 'CPU per score update'),
    {
      text: 'a 1,000,000-participant rebuild in under 30 s',
      met: last.size >= 1_000_000 ? last.empty.wallMs < 30_000 : null,
      detail: `${(last.empty.wallMs / 1000).toFixed(1)} s into an empty projection at ${int(last.size)} participants, the median of ${last.empty.runsMs.map((x) => (x / 1000).toFixed(1)).join(', ')} s (${(last.equal.wallMs / 1000).toFixed(1)} s when it was already equal)`
    }
  ]
  const missed = (labels: string[]) => targets.filter((t) => t.met === false && labels.some((l) => t.text.includes(l))).length > 0
  const profile = ctx.cpuProfDir && targets.some((t) => t.met === false)
    ? [
        ...missed(['read', 'update']) ? [`Service of the request rounds (every size):\n\n${summariseProfiles(join(ctx.cpuProfDir, 'leaderboard-requests'), 15)}`] : [],
        ...missed(['rebuild']) ? [`Service of the rebuilds:\n\n${summariseProfiles(join(ctx.cpuProfDir, 'leaderboard-rebuilds'), 15)}`] : []
      ].join('\n')
    : undefined
  const s = ctx.settings
  const rounds = first.top.cpuUs.length
  const readings = (r: Requests) => `${int(median(r.cpuUs))} us (${r.cpuUs.map(int).join(', ')})`
  return {
    key: 'leaderboard',
    title: 'Leaderboard size',
    method: [
      `One competition per size, users 1..n, seeded with set-based SQL (${int(last.size)} users and ${int(points.reduce((n, p) => n + p.size, 0))} participations in ${(seedMs / 1000).toFixed(1)} s). ` +
        'Two services are started in turn as `npm start` runs them, and nothing is measured on either until its start-up rebuild of every running competition is over. ' +
        'On the first, each size\'s projection keys are deleted (as when Redis lost its data) and it is rebuilt through ' +
        `\`POST /api/v1/admin/leaderboard/{id}/rebuild\`, then rebuilt again finding it equal to Postgres (as at a restart), ${opts.rebuilds} times over (the table gives the reading of median time and every reading's time), each timed to its answer with the CPU time of the service, the Redis server and this database's Postgres backends read from /proc; its Redis keys are sized with \`MEMORY USAGE … SAMPLES 0\`. ` +
        `On the second, in ${rounds} rounds over every size (up the sizes in one round, down in the next), autocannon (${s.connections} connections, ${s.warmupSeconds} s warm-up, ${s.seconds} s measured) reads the top 50, reads around the reader (readers spread over the board), ` +
        'and sends score increments (the durable path, 10 % retries of a key already sent). CPU per request is the service process\'s user + system time from /proc over the measured seconds divided by the answered requests; ' +
        'the table gives the median of the rounds and each round\'s reading, and the targets compare medians.'
    ],
    columns: ['participants', 'top 50: CPU/read (rounds)', 'top 50: req/s', 'around me: CPU/read (rounds)', 'around me: req/s', 'score update: CPU/update (rounds)', 'updates/s', 'rebuild into an empty projection (readings)', 'its CPU: service / Redis / Postgres', 'rebuild of an equal projection (readings)', 'its CPU', 'Redis bytes/participant', 'errors, lost, doubled, Redis differences'],
    rows: points.map((p) => [
      int(p.size),
      readings(p.top), int(median(p.top.rps)),
      readings(p.around), int(median(p.around.rps)),
      readings(p.score), int(median(p.score.rps)),
      ...[p.empty, p.equal].flatMap((r) => [`${(r.wallMs / 1000).toFixed(2)} s (${r.runsMs.map((x) => (x / 1000).toFixed(2)).join(', ')})`, `${[r.serviceMs, r.redisMs, r.postgresMs].map((x) => (x / 1000).toFixed(2)).join(' / ')} s`]),
      int(p.redisBytes / p.size),
      `${p.top.errors + p.around.errors + p.score.errors}, ${p.score.lost}, ${p.score.doubled}, ${p.score.redisMismatches}`
    ]),
    plots: ['scaling/leaderboard-cpu.svg', 'scaling/leaderboard-rebuild.svg', 'scaling/leaderboard-redis.svg'],
    targets,
    notes: [],
    profile
  }
}
