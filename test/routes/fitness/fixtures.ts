import { randomUUID } from 'node:crypto'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { bearer } from '../../helper.ts'

// Set-up for the fitness tests: people, competitions (made with SQL, so a test can place a
// competition's window and status anywhere in time) and joining through the public API.

export interface Person { id: string, headers: { authorization: string } }

export function person (opts: { admin?: boolean } = {}): Person {
  const id = randomUUID()
  return { id, headers: bearer({ sub: id, admin: opts.admin }) }
}

export const HOUR = 3_600_000
export const iso = (ms: number): string => new Date(ms).toISOString()

export interface SampleOptions {
  externalId?: string
  version?: number
  metric?: 'steps' | 'distance_m' | 'active_kcal' | 'active_minutes'
  kind?: 'sample' | 'daily_total'
  start: number
  minutes?: number
  value: number
  recordingMethod?: 'automatic' | 'active' | 'manual' | 'unknown'
  tzOffsetMinutes?: number
}

export function sample (o: SampleOptions): Record<string, unknown> {
  return {
    externalId: o.externalId ?? randomUUID(),
    version: o.version ?? 1,
    metric: o.metric ?? 'steps',
    kind: o.kind ?? 'sample',
    startTime: iso(o.start),
    endTime: iso(o.start + (o.minutes ?? 10) * 60_000),
    value: o.value,
    recordingMethod: o.recordingMethod ?? 'automatic',
    tzOffsetMinutes: o.tzOffsetMinutes ?? 0
  }
}

export async function sync (app: FastifyInstance, who: Person, body: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return await app.inject({ method: 'POST', url: '/api/v1/fitness/sync', headers: who.headers, payload: body })
}

export async function syncOk (app: FastifyInstance, who: Person, body: Record<string, unknown>): Promise<any> {
  const res = await sync(app, who, body)
  if (res.statusCode !== 200) throw new Error(`sync failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export interface CompetitionOptions {
  metric?: string
  startsAt: number
  endsAt: number
  timeZone?: string
  status?: 'scheduled' | 'active' | 'grace' | 'final'
  graceSeconds?: number
  allowManual?: boolean
  entryFee?: number
  sponsorPrize?: number
}

export async function insertCompetition (app: FastifyInstance, o: CompetitionOptions): Promise<string> {
  const { rows } = await app.pg.query<{ id: string }>(
    `INSERT INTO competitions (name, metric, starts_at, ends_at, time_zone, status, grace_period_seconds, allow_manual_entries, entry_fee, sponsor_prize)
     VALUES ('Fitness test', $1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
    [o.metric ?? 'steps', iso(o.startsAt), iso(o.endsAt), o.timeZone ?? 'UTC', o.status ?? 'active', o.graceSeconds ?? 0, o.allowManual ?? false,
      o.entryFee ?? 0, o.sponsorPrize ?? 0])
  return rows[0]!.id
}

// Through the competitions API, as a client joins (the users row is made on first use).
export async function join (app: FastifyInstance, who: Person, competitionId: string): Promise<void> {
  const res = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/join`, headers: who.headers, payload: {} })
  if (res.statusCode !== 200) throw new Error(`join failed: ${res.statusCode} ${res.body}`)
}

// For competitions the API no longer lets anyone join (ended, in grace).
export async function joinWithSql (app: FastifyInstance, who: Person, competitionId: string): Promise<void> {
  await app.pg.query('INSERT INTO users (id) VALUES ($1) ON CONFLICT DO NOTHING', [who.id])
  await app.pg.query('INSERT INTO participants (competition_id, user_id) VALUES ($1, $2)', [competitionId, who.id])
  await app.pg.query('UPDATE competitions SET participant_count = participant_count + 1 WHERE id = $1', [competitionId])
}

export async function participant (app: FastifyInstance, competitionId: string, userId: string): Promise<{ score: number, flagged: boolean }> {
  const { rows } = await app.pg.query<{ score: string, flagged: boolean }>(
    'SELECT score, flagged FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, userId])
  return { score: Number(rows[0]?.score), flagged: rows[0]?.flagged ?? false }
}

export async function dailyTotals (app: FastifyInstance, userId: string): Promise<Array<{ day: string, metric: string, source: string, value: number }>> {
  const { rows } = await app.pg.query(
    `SELECT local_day::text AS day, metric, source, value::float8 AS value FROM daily_totals WHERE user_id = $1
     ORDER BY local_day, metric, source`, [userId])
  return rows
}

export async function scoreEvents (app: FastifyInstance, competitionId: string, userId: string): Promise<number> {
  const { rows } = await app.pg.query<{ n: number }>('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1 AND user_id = $2',
    [competitionId, userId])
  return rows[0]!.n
}

// Test config: no background sweeper moving the competitions a test placed by hand.
export const FITNESS_TEST_CONFIG = { LIFECYCLE_JOBS: false }

export function shuffle<T> (items: T[], seed: number): T[] {
  const out = [...items]
  let s = seed
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2147483648
    const j = s % (i + 1)
    const tmp = out[i]!
    out[i] = out[j]!
    out[j] = tmp
  }
  return out
}

// Frames the leaderboard publishes for a competition (its Redis pub/sub channel), as a
// WebSocket client would receive them.
export async function liveFrames (t: { teardown: (fn: () => unknown) => void }, app: FastifyInstance, competitionId: string) {
  const { Redis } = await import('ioredis')
  const sub = new Redis(app.config.REDIS_URL)
  t.teardown(() => sub.disconnect())
  const frames: any[] = []
  sub.on('message', (_channel, message) => frames.push(JSON.parse(message)))
  await sub.subscribe(app.leaderboard.channel(competitionId))
  return {
    frames,
    // Resolves with the first update frame that shows the user at this score.
    async waitForScore (userId: string, score: number, timeoutMs = 5000): Promise<any> {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const frame = frames.find((f) => f.type === 'update' && f.entries?.some((e: any) => e.userId === userId && e.score === score))
        if (frame !== undefined) return frame
        if (Date.now() > deadline) throw new Error(`no live update with score ${score} for ${userId}; frames: ${JSON.stringify(frames)}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    }
  }
}

export async function eventually<T> (check: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
