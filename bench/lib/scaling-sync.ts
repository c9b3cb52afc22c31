import { join } from 'node:path'
import pg from 'pg'
import { summariseProfiles } from './cpu-profile.ts'
import { cpuMsOf } from './processes.ts'
import { samplerTable, startPgSampler } from './scaling-pg-sampler.ts'
import { int, ratio } from './report.ts'
import { syncBody } from './scenarios-http.ts'
import { seed } from './seed.ts'
import type { ScalingContext } from './scaling-context.ts'
import { writePlot } from './scaling-plot.ts'
import type { Curve } from './scaling-report.ts'

// Fitness sync for users with different amounts of stored history (a year of minute-level
// samples is 525,600), all in the same running steps competition: each sends the same
// 100-sample batches of one-minute samples, newest first, over the days after its history.
// Users take turns in blocks, so a slow spell of the shared machine falls on all of them.
const BATCH = 100
const BLOCK = 20
const WARMUP = 10
const MINUTE = 60_000
const SAMPLE_MS = 20

interface UserRun { history: number, times: number[], cpuMs: number, batches: number, inserted: number, failed: number }

// History of minute-level step samples ending at `end`, with its daily totals, in SQL.
async function seedHistory (databaseUrl: string, user: number, samples: number, end: Date): Promise<void> {
  if (samples === 0) return
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    await db.query(`INSERT INTO fitness_samples (user_id, source, external_id, metric, kind, start_at, end_at, value, recording_method, tz_offset_minutes, local_day)
      SELECT md5('bench-user-' || $1)::uuid, 'healthkit', 'h' || g, 'steps', 'sample',
        $2::timestamptz - g * interval '1 minute', $2::timestamptz - (g - 1) * interval '1 minute', 20, 'automatic', 0,
        (($2::timestamptz - g * interval '1 minute') AT TIME ZONE 'UTC')::date
      FROM generate_series(1, $3::int) g`, [user, end, samples])
    await db.query(`INSERT INTO daily_totals (user_id, local_day, metric, source, value)
      SELECT user_id, local_day, metric, source, sum(value) FROM fitness_samples WHERE user_id = md5('bench-user-' || $1)::uuid
      GROUP BY user_id, local_day, metric, source`, [user])
    await db.query('ANALYZE fitness_samples')
    await db.query('ANALYZE daily_totals')
  } finally {
    await db.end()
  }
}

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0
}

export async function syncCurve (ctx: ScalingContext, opts: { histories: number[], batches: number, plotDir: string }): Promise<Curve> {
  const histories = [...opts.histories].sort((a, b) => a - b)
  const users = histories.map((history, i) => ({ user: i + 1, history }))
  const runs: UserRun[] = []
  let pgProfile = new Map<string, Map<string, number>>()
  await ctx.withStores(async (stores) => {
    await seed(stores.databaseUrl, { users: users.length, competitions: [{ name: 'sync', metric: 'steps', size: users.length }] })
    // The synced batches cover the minutes from now back over (warm-up + batches) x 100; the
    // history ends an hour before them.
    const from = Date.now() - MINUTE
    const historyEnd = new Date(from - (WARMUP + opts.batches) * BATCH * MINUTE - 3_600_000)
    for (const u of users) {
      const started = Date.now()
      await seedHistory(stores.databaseUrl, u.user, u.history, historyEnd)
      ctx.log(`user ${u.user}: ${int(u.history)} samples of history in ${Date.now() - started} ms`)
    }
    const service = await ctx.startService(stores, 'sync')
    const base = ctx.target(service).base
    const cursor = new Map(users.map((u) => [u.user, { n: 0, end: from }]))
    async function batch (user: number): Promise<{ ms: number, inserted: number, ok: boolean }> {
      const state = cursor.get(user)!
      cursor.set(user, { n: state.n + BATCH, end: state.end - BATCH * MINUTE })
      const started = performance.now()
      const res = await fetch(`${base}/api/v1/fitness/sync`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ctx.tokens.user(user)}`, 'content-type': 'application/json' },
        body: syncBody(user, state, BATCH, MINUTE)
      }).catch((err: Error) => { throw new Error(`sync request failed (${err.message}); service exit ${service.child.exitCode ?? service.child.signalCode}: ${service.output()}`) })
      const text = await res.text()
      const ms = performance.now() - started
      return { ms, ok: res.ok, inserted: res.ok ? (JSON.parse(text) as { inserted: number }).inserted : 0 }
    }
    for (const u of users) for (let i = 0; i < WARMUP; i++) await batch(u.user)
    const sampler = await startPgSampler(stores.databaseUrl, stores.name, SAMPLE_MS)
    const byUser = new Map(users.map((u) => [u.user, { history: u.history, times: [] as number[], cpuMs: 0, batches: 0, inserted: 0, failed: 0 }]))
    for (let done = 0; done < opts.batches; done += BLOCK) {
      for (const u of users) {
        const r = byUser.get(u.user)!
        sampler.label = String(u.history)
        const cpuBefore = cpuMsOf(service.pid)
        for (let i = 0; i < Math.min(BLOCK, opts.batches - done); i++) {
          const b = await batch(u.user)
          r.times.push(b.ms)
          r.batches++
          r.inserted += b.inserted
          if (!b.ok) r.failed++
        }
        r.cpuMs += cpuMsOf(service.pid) - cpuBefore
      }
    }
    pgProfile = await sampler.stop()
    await service.stop()
    runs.push(...byUser.values())
  })

  const row = (r: UserRun) => ({ cpu: r.cpuMs / r.batches, p50: quantile(r.times, 0.5), p95: quantile(r.times, 0.95) })
  await writePlot(join(opts.plotDir, 'sync.svg'), {
    title: 'Fitness sync: cost of a 100-sample batch against stored history',
    x: { title: 'samples already stored for the user' },
    y: { title: 'ms per batch' },
    points: runs.flatMap((r) => [
      { x: r.history, y: row(r).cpu, series: 'service CPU' },
      { x: r.history, y: row(r).p50, series: 'time to the answer (median)' },
      { x: r.history, y: row(r).p95, series: 'time to the answer (p95)' }
    ])
  })
  const fresh = runs[0]!
  const most = runs.at(-1)!
  const cpuRatio = row(most).cpu / Math.max(0.01, row(fresh).cpu)
  const timeRatio = row(most).p50 / Math.max(0.01, row(fresh).p50)
  const reached = fresh.history === 0 && most.history >= 525_600
  const targets = [{
    text: 'sync cost independent of history: CPU and median time per 100-sample batch with a year of minute-level history within 1.3 x of a new user\'s',
    met: reached ? cpuRatio <= 1.3 && timeRatio <= 1.3 : null,
    detail: `CPU ${ratio(cpuRatio)}, time ${ratio(timeRatio)} (${int(most.history)} samples against ${int(fresh.history)})`
  }]
  return {
    key: 'sync',
    title: 'Fitness sync against stored history',
    method: [
      'Users in the same running steps competition, each with minute-level step samples of history written with SQL (with their daily totals) and ending an hour before ' +
        `the minutes they then sync. Each sends ${opts.batches} batches of ${BATCH} one-minute samples (\`POST /api/v1/fitness/sync\`, one request at a time, newest first, ` +
        `as a phone catching up sends them) after ${WARMUP} unmeasured ones; the users take turns in blocks of ${BLOCK} batches. CPU is the service process's user + system time from /proc ` +
        'over each user\'s blocks divided by its batches; time is from sending the request to reading the whole answer.'
    ],
    columns: ['stored samples', 'batches (failed)', 'samples inserted', 'service CPU per batch', 'time per batch: median', 'p95', 'max'],
    rows: runs.map((r) => [int(r.history), `${r.batches} (${r.failed})`, int(r.inserted), `${row(r).cpu.toFixed(2)} ms`, `${row(r).p50.toFixed(2)} ms`, `${row(r).p95.toFixed(2)} ms`, `${Math.max(...r.times).toFixed(1)} ms`]),
    plots: ['scaling/sync.svg'],
    targets,
    notes: [
      `Where Postgres spent its time during each user's batches: the statements its backends for this database were running, sampled every ${SAMPLE_MS} ms from pg_stat_activity.`,
      '',
      ...runs.flatMap((r) => [`${int(r.history)} stored samples:`, '', samplerTable(pgProfile.get(String(r.history)), SAMPLE_MS), ''])
    ],
    profile: ctx.cpuProfDir && targets.some((t) => t.met === false) ? summariseProfiles(join(ctx.cpuProfDir, 'sync'), 15) : undefined
  }
}
