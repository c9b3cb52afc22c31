import { join } from 'node:path'
import pg from 'pg'
import { cpuMsOf } from './processes.ts'
import { int } from './report.ts'
import { startupRebuilds } from './startup-rebuilds.ts'
import { samplerTable, startPgSampler } from './scaling-pg-sampler.ts'
import type { ScalingContext } from './scaling-context.ts'
import { writePlot } from './scaling-plot.ts'
import type { Curve } from './scaling-report.ts'

// Many competitions ending at once: `competitions` running competitions, `ending` of them
// with the same end instant (what a local midnight is for competitions of one time zone) and
// no grace period, the rest ending a week later. The service schedules each end as a pg-boss
// job on start (services/competitions/schedule.ts); from the end instant on, the bench counts
// how many have reached grace and final, until every one is final.
const PARTICIPANTS = 10
const SAMPLE_MS = 20
// Zones at UTC+01:00 in December: the end instant is the same local time in each.
const ZONES = ['Europe/Berlin', 'Europe/Paris', 'Europe/Madrid', 'Europe/Rome', 'Africa/Lagos']

interface Sample { s: number, grace: number, final: number }

async function seedCompetitions (db: pg.Client, competitions: number, ending: number, endsAt: Date): Promise<void> {
  const users = competitions * 2
  await db.query('BEGIN')
  await db.query(`INSERT INTO users (id, username, display_name, time_zone, created_at)
    SELECT md5('bench-user-' || i)::uuid, 'user_' || i, 'Runner ' || i, 'UTC', now() - interval '30 days' FROM generate_series(1, $1::int) i`, [users])
  await db.query(`INSERT INTO competitions (id, name, metric, starts_at, ends_at, status, visibility, participant_count, time_zone, grace_period_seconds)
    SELECT md5('bench-competition-end-' || i)::uuid, 'Bench ending ' || i, 'custom', now() - interval '6 days',
      CASE WHEN i <= $2 THEN $3::timestamptz ELSE now() + interval '7 days' END, 'active', 'public', $4, ($5::text[])[1 + i % $6], 0
    FROM generate_series(1, $1::int) i`, [competitions, ending, endsAt, PARTICIPANTS, ZONES, ZONES.length])
  await db.query(`INSERT INTO participants (competition_id, user_id, joined_at, score, reached_at, score_version)
    SELECT md5('bench-competition-end-' || i)::uuid, md5('bench-user-' || (1 + (i * 7 + j) % $2))::uuid, now() - interval '5 days',
      floor(random() * 20000)::bigint, now() - random() * interval '1 day', 1
    FROM generate_series(1, $1::int) i, generate_series(1, $3::int) j`, [competitions, users, PARTICIPANTS])
  await db.query('COMMIT')
  await db.query('ANALYZE')
}

export async function endingsCurve (ctx: ScalingContext, opts: { competitions: number, ending: number, leadSeconds: number, plotDir: string }): Promise<Curve> {
  const samples: Sample[] = []
  let cpuMs = 0
  let pgProfile = new Map<string, number>()
  let endsAt = new Date()
  await ctx.withStores(async (stores) => {
    const db = new pg.Client({ connectionString: stores.databaseUrl })
    await db.connect()
    try {
      endsAt = new Date(Math.ceil((Date.now() + opts.leadSeconds * 1000) / 1000) * 1000)
      await seedCompetitions(db, opts.competitions, opts.ending, endsAt)
      ctx.log(`seeded ${int(opts.competitions)} competitions, ${int(opts.ending)} ending at ${endsAt.toISOString()}`)
      const service = await ctx.startService(stores, 'endings')
      // Its start-up rebuild of every running competition's projection is over before the end
      // instant, so the endings do not share the machine with it.
      await startupRebuilds(ctx.target(service).base, opts.competitions, Math.max(0, endsAt.getTime() - Date.now()))
      const wait = endsAt.getTime() - Date.now()
      if (wait < 0) throw new Error(`the service started ${-wait} ms after the end instant: raise the lead`)
      ctx.log(`service up and its projections rebuilt; ${Math.round(wait / 1000)} s to the end instant`)
      await new Promise((resolve) => setTimeout(resolve, wait))
      const cpuBefore = cpuMsOf(service.pid)
      const sampler = await startPgSampler(stores.databaseUrl, stores.name, SAMPLE_MS)
      const limit = Math.min(600_000, ctx.timeLeftMs() - 60_000)
      for (;;) {
        const { rows: [r] } = await db.query<{ grace: number, final: number }>(`SELECT count(*) FILTER (WHERE status = 'grace')::int AS grace,
          count(*) FILTER (WHERE status = 'final')::int AS final FROM competitions WHERE ends_at = $1`, [endsAt])
        samples.push({ s: (Date.now() - endsAt.getTime()) / 1000, grace: r!.grace, final: r!.final })
        if (r!.final >= opts.ending || Date.now() - endsAt.getTime() > limit) break
        await new Promise((resolve) => setTimeout(resolve, 250))
      }
      cpuMs = cpuMsOf(service.pid) - cpuBefore
      pgProfile = (await sampler.stop()).get('') ?? new Map()
      await service.stop()
    } finally {
      await db.end()
    }
  })

  const last = samples.at(-1)!
  const at = (pick: (x: Sample) => boolean) => samples.find(pick)?.s
  const fmt = (s: number | undefined) => s === undefined ? 'not reached' : `${s.toFixed(1)} s`
  const allFinal = last.final >= opts.ending
  await writePlot(join(opts.plotDir, 'endings.svg'), {
    title: `${int(opts.ending)} of ${int(opts.competitions)} competitions ending at one instant`,
    x: { title: 'seconds after the end instant' },
    y: { title: 'competitions' },
    points: samples.flatMap((x) => [{ x: x.s, y: x.grace + x.final, series: 'ended (grace or final)' }, { x: x.s, y: x.final, series: 'final' }])
  })
  const milestones = [0.01, 0.25, 0.5, 0.75, 1].map((q) => {
    const n = Math.ceil(q * opts.ending)
    return [`${Math.round(q * 100)} % (${int(n)})`, fmt(at((x) => x.grace + x.final >= n)), fmt(at((x) => x.final >= n))]
  })
  return {
    key: 'endings',
    title: 'Competitions ending at the same instant',
    method: [
      `${int(opts.competitions)} running competitions of ${PARTICIPANTS} participants each, written with SQL; ${int(opts.ending)} of them end at the same instant ` +
        `(their time zones are ${ZONES.join(', ')}, all at UTC+01:00 in December, so it is the same local time in each) with no grace period, the others a week later. ` +
        `A service started before the end instant (seeding and start together take at most ${opts.leadSeconds} s, and its start-up rebuild of every running competition's projection is over before it) schedules each competition's next step as a pg-boss job (\`competitions.lifecycle\`, ` +
        'services/competitions/schedule.ts); each job moves its competition to grace, which enqueues the final step, which writes the final ranks and the events. ' +
        'From the end instant the bench counts the ending competitions by status every 250 ms.'
    ],
    columns: ['competitions', 'ended (grace or final) after', 'final after'],
    rows: milestones,
    plots: ['scaling/endings.svg'],
    targets: [],
    notes: [
      `${allFinal ? 'Every one final' : `**Not all final**: ${int(last.final)} of ${int(opts.ending)}`} ${last.s.toFixed(1)} s after the end instant; ` +
        `the service used ${(cpuMs / 1000).toFixed(1)} s of CPU over that time (${(cpuMs / Math.max(1, last.final)).toFixed(1)} ms per competition made final, two status changes each). ` +
        'The issue sets no target for this curve. The lifecycle queue runs JOB_CONCURRENCY=4 workers taking up to 10 jobs each per fetch (wiring/jobs.ts).',
      '',
      `Where Postgres spent its time until then (the statements its backends for this database were running, sampled every ${SAMPLE_MS} ms from pg_stat_activity):`,
      '',
      samplerTable(pgProfile, SAMPLE_MS, 8)
    ]
  }
}
