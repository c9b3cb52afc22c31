import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { leaderboardKeys } from '../../lib/redis-keys.ts'
import { competitionId } from './ids.ts'
import { summariseProfiles } from './cpu-profile.ts'
import { cpuMsOf } from './processes.ts'
import { int, ratio } from './report.ts'
import { leaderboardAround, leaderboardTop, scoreUpdates } from './scenarios-http.ts'
import { seed } from './seed.ts'
import type { ScalingContext } from './scaling-context.ts'
import { writePlot } from './scaling-plot.ts'
import type { Curve } from './scaling-report.ts'

// The leaderboard at growing sizes: one competition per size (users 1..n), seeded with
// set-based SQL, each measured by a service of its own: the rebuild of its Redis projection,
// the projection's Redis memory, and the CPU time per top-50 read, around-me read and score
// update.
// Where a rebuild's time went: CPU of the service, of Redis and of this database's Postgres
// backends, against its wall-clock time.
interface RebuildCost { wallMs: number, serviceMs: number, redisMs: number, postgresMs: number }

interface Point {
  size: number
  // The first rebuild fills an empty projection (as after Redis lost its data); the later ones
  // find it equal to Postgres (as at a restart), and the last of them is reported.
  empty: RebuildCost
  equal: RebuildCost
  redisBytes: number
  top: { cpuUs: number, rps: number, errors: number }
  around: { cpuUs: number, rps: number, errors: number }
  score: { cpuUs: number, rps: number, errors: number, lost: number, doubled: number, redisMismatches: number }
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

// Rebuilds the service has finished (leaderboard_rebuilds_total over its outcomes).
async function rebuildsDone (base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text()
  let done = 0
  for (const m of text.matchAll(/^leaderboard_rebuilds_total\{outcome="(?:changed|unchanged)"\} (\d+)/gm)) done += Number(m[1])
  return done
}

// A service rebuilds every running competition when it starts (wiring/leaderboard.ts). Nothing
// is measured until that is over: a timed rebuild would otherwise wait for it and run again,
// and the reads and writes would share the machine with it.
async function startupRebuilds (base: string, competitions: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (await rebuildsDone(base) < competitions) {
    if (Date.now() > deadline) throw new Error(`the start-up rebuild of ${competitions} competitions did not finish in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 250))
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

export async function leaderboardCurve (ctx: ScalingContext, opts: { sizes: number[], rebuilds: number, plotDir: string }): Promise<Curve> {
  const sizes = [...opts.sizes].sort((a, b) => a - b)
  const points: Point[] = []
  let seedMs = 0
  await ctx.withStores(async (stores) => {
    const seeded = await seed(stores.databaseUrl, { users: sizes.at(-1)!, competitions: sizes.map((n) => ({ name: name(n), metric: 'custom', size: n })) })
    seedMs = seeded.ms
    ctx.log(`seeded ${int(seeded.users)} users and ${int(seeded.participants)} participants in ${seeded.ms} ms`)
    for (const n of sizes) {
      if (ctx.timeLeftMs() < 120_000) { ctx.log(`leaderboard: stopping before ${int(n)} (deadline)`); break }
      const id = competitionId(name(n))
      const service = await ctx.startService(stores, `leaderboard-${n}`)
      const t = ctx.target(service)
      await startupRebuilds(t.base, sizes.length, 600_000)
      await dropProjection(stores.redisUrl, stores.redisPrefix, id)
      const timedRebuild = async () => {
        const stopCounters = await cpuCounters(stores.redisUrl, stores.databaseUrl, stores.name, service.pid)
        await rebuild(t.base, ctx.tokens.service, id)
        return await stopCounters()
      }
      const empty = await timedRebuild()
      let equal = empty
      for (let i = 1; i < opts.rebuilds; i++) equal = await timedRebuild()
      const redisBytes = await projectionBytes(stores.redisUrl, stores.redisPrefix, id)
      ctx.log(`${int(n)}: rebuilt into an empty projection`, empty, 'and an equal one', equal, `projection ${int(redisBytes)} B`)
      const top = await leaderboardTop(t, n, name(n))
      const around = await leaderboardAround(t, n, name(n))
      const score = await scoreUpdates(t, stores, n, { competition: name(n) })
      await service.stop()
      const point: Point = {
        size: n,
        empty,
        equal,
        redisBytes,
        top: { cpuUs: top.cpuUsPerRequest, rps: top.rps, errors: top.errors },
        around: { cpuUs: around.cpuUsPerRequest, rps: around.rps, errors: around.errors },
        score: { cpuUs: score.load.cpuUsPerRequest, rps: score.load.rps, errors: score.load.errors, lost: score.check.lost, doubled: score.check.doubled, redisMismatches: score.check.redisMismatches }
      }
      points.push(point)
      ctx.log(`${int(n)}: top ${top.cpuUsPerRequest} us/req, around ${around.cpuUsPerRequest} us/req, score ${score.load.cpuUsPerRequest} us/update`, score.check)
    }
  })
  if (points.length === 0) throw new Error('no size measured before the deadline')

  const series = (pick: (p: Point) => number, label: string) => points.map((p) => ({ x: p.size, y: pick(p), series: label }))
  await writePlot(join(opts.plotDir, 'leaderboard-cpu.svg'), {
    title: 'Service CPU per request',
    x: { title: 'participants', log: true },
    y: { title: 'CPU time per request (us)' },
    points: [...series((p) => p.top.cpuUs, 'top 50'), ...series((p) => p.around.cpuUs, 'around me'), ...series((p) => p.score.cpuUs, 'score update')]
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
  const within = (pick: (p: Point) => number, label: string) => {
    const r = pick(last) / Math.max(1, pick(first))
    return { text: `${label} at 1,000,000 participants within 1.3 x of 1,000`, met: reached ? r <= 1.3 : null, detail: `${ratio(r)} (${int(pick(last))} against ${int(pick(first))} us; ${span})` }
  }
  const targets = [
    within((p) => p.top.cpuUs, 'CPU per top-50 read'),
    within((p) => p.around.cpuUs, 'CPU per around-me read'),
    within((p) => p.score.cpuUs, 'CPU per score update'),
    {
      text: 'a 1,000,000-participant rebuild in under 30 s',
      met: last.size >= 1_000_000 ? last.empty.wallMs < 30_000 : null,
      detail: `${(last.empty.wallMs / 1000).toFixed(1)} s into an empty projection at ${int(last.size)} participants (${(last.equal.wallMs / 1000).toFixed(1)} s when it was already equal)`
    }
  ]
  const profile = ctx.cpuProfDir && targets.some((t) => t.met === false)
    ? [first, last].map((p) => `Service of the ${int(p.size)}-participant run:\n\n${summariseProfiles(join(ctx.cpuProfDir, `leaderboard-${p.size}`), 15)}`).join('\n')
    : undefined
  const s = ctx.settings
  return {
    key: 'leaderboard',
    title: 'Leaderboard size',
    method: [
      `One competition per size, users 1..n, seeded with set-based SQL (${int(last.size)} users and ${int(points.reduce((n, p) => n + p.size, 0))} participations in ${(seedMs / 1000).toFixed(1)} s). ` +
        'For each size a service of its own is started as `npm start` runs it and nothing is measured until its start-up rebuild of every running competition is over; ' +
        'then the competition\'s projection keys are deleted (as when Redis lost its data) and it is rebuilt through ' +
        `\`POST /api/v1/admin/leaderboard/{id}/rebuild\` ${opts.rebuilds} times, the first into that empty projection, the others finding it equal to Postgres (as at a restart; the last is reported), each timed to its answer with the CPU time of the service, the Redis server and this database's Postgres backends read from /proc; its Redis keys are sized with \`MEMORY USAGE … SAMPLES 0\`, ` +
        `then autocannon (${s.connections} connections, ${s.warmupSeconds} s warm-up, ${s.seconds} s measured) reads the top 50, reads around the reader (readers spread over the board), ` +
        'and sends score increments (the durable path, 10 % retries of a key already sent). CPU per request is the service process\'s user + system time from /proc over the measured seconds divided by the answered requests.'
    ],
    columns: ['participants', 'top 50: CPU/read', 'top 50: req/s', 'around me: CPU/read', 'around me: req/s', 'score update: CPU/update', 'updates/s', 'rebuild into an empty projection', 'its CPU: service / Redis / Postgres', 'rebuild of an equal projection', 'its CPU', 'Redis bytes/participant', 'errors, lost, doubled, Redis differences'],
    rows: points.map((p) => [
      int(p.size),
      `${int(p.top.cpuUs)} us`, int(p.top.rps),
      `${int(p.around.cpuUs)} us`, int(p.around.rps),
      `${int(p.score.cpuUs)} us`, int(p.score.rps),
      ...[p.empty, p.equal].flatMap((r) => [`${(r.wallMs / 1000).toFixed(2)} s`, `${[r.serviceMs, r.redisMs, r.postgresMs].map((x) => (x / 1000).toFixed(2)).join(' / ')} s`]),
      int(p.redisBytes / p.size),
      `${p.top.errors + p.around.errors + p.score.errors}, ${p.score.lost}, ${p.score.doubled}, ${p.score.redisMismatches}`
    ]),
    plots: ['scaling/leaderboard-cpu.svg', 'scaling/leaderboard-rebuild.svg', 'scaling/leaderboard-redis.svg'],
    targets,
    notes: [],
    profile
  }
}
