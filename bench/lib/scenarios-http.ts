import type autocannon from 'autocannon'
import pg from 'pg'
import { Redis } from 'ioredis'
import { competitionKey } from '../../lib/redis-keys.ts'
import { competitionId, userId } from './ids.ts'
import { load, type LoadResult, type LoadSettings } from './http.ts'
import type { Tokens } from './tokens.ts'

export interface Target {
  base: string
  pid: number
  settings: LoadSettings
  tokens: Tokens
}

// Each connection acts as one user; connection k of a run is user userOf(k).
function perConnection (build: (k: number) => autocannon.Request[]): (client: autocannon.Client) => void {
  let k = 0
  return function setupClient (client) {
    client.setRequests(build(k++))
  }
}

export async function bareHello (t: Target): Promise<LoadResult> {
  return await load({ url: `${t.base}/`, pid: t.pid, settings: t.settings })
}

// Readers spread over the board (not only the top), each with their own token.
function reader (k: number, users: number): number {
  return 1 + ((k * 7919) % users)
}

export async function leaderboardTop (t: Target, users: number, competition = 'reads'): Promise<LoadResult> {
  const id = competitionId(competition)
  return await load({
    url: t.base,
    pid: t.pid,
    settings: t.settings,
    setupClient: perConnection((k) => [{ method: 'GET', path: `/api/v1/leaderboard/${id}?limit=50`, headers: { authorization: `Bearer ${t.tokens.user(reader(k, users))}` } }])
  })
}

export async function leaderboardAround (t: Target, users: number, competition = 'reads'): Promise<LoadResult> {
  const id = competitionId(competition)
  return await load({
    url: t.base,
    pid: t.pid,
    settings: t.settings,
    setupClient: perConnection((k) => [{ method: 'GET', path: `/api/v1/leaderboard/${id}?limit=50&around=me`, headers: { authorization: `Bearer ${t.tokens.user(reader(k, users))}` } }])
  })
}

export async function profile (t: Target, users: number): Promise<LoadResult> {
  return await load({
    url: t.base,
    pid: t.pid,
    settings: t.settings,
    setupClient: perConnection((k) => {
      const i = reader(k, users)
      return [{ method: 'GET', path: `/api/v1/users/${userId(i)}/profile`, headers: { authorization: `Bearer ${t.tokens.user(i)}` } }]
    })
  })
}

export interface ScoreCheck {
  sent: number
  retries: number
  applied: number
  duplicatesAnswered: number
  // 2xx answers whose key is missing from score_events.
  lost: number
  // Participants whose score moved by other than their number of stored events.
  doubled: number
  events: number
  unknown: number
  redisMismatches: number
}

// Durable score updates: unique Idempotency-Keys, 10 % of requests are retries of a key already
// sent (same body), as a mobile client retrying after a timeout would. Afterwards Postgres and
// the Redis projection are compared with what the clients were told.
export async function scoreUpdates (t: Target, stores: { databaseUrl: string, redisUrl: string, redisPrefix: string }, participants: number, opts: { rate?: number, seconds?: number, competition?: string, noWarmup?: boolean, connections?: number } = {}): Promise<{ load: LoadResult, check: ScoreCheck }> {
  const id = competitionId(opts.competition ?? 'writes')
  const db = new pg.Client({ connectionString: stores.databaseUrl })
  await db.connect()
  const before = new Map((await db.query<{ user_id: string, score: string }>('SELECT user_id, score FROM participants WHERE competition_id = $1', [id]))
    .rows.map((r) => [r.user_id, Number(r.score)]))

  // Keys of this run only, so earlier updates of the same competition do not count.
  const run = `bench-${Date.now().toString(36)}-`
  const keys: Array<{ key: string, body: string }> = []
  const outcome = new Map<string, 'applied' | 'duplicate' | 'failed'>()
  let sent = 0
  let retries = 0
  let duplicatesAnswered = 0
  let serial = 0
  const headers = { authorization: `Bearer ${t.tokens.service}`, 'content-type': 'application/json' }

  const result = await load({
    url: t.base,
    pid: t.pid,
    settings: opts.connections ? { ...t.settings, connections: opts.connections } : t.settings,
    overallRate: opts.rate,
    seconds: opts.seconds,
    noWarmup: opts.noWarmup,
    setupClient: perConnection(() => {
      let current = ''
      return [{
        method: 'POST',
        path: '/api/v1/leaderboard/update',
        setupRequest (req) {
          sent++
          let item: { key: string, body: string }
          if (keys.length > 20 && Math.random() < 0.1) {
            item = keys[Math.floor(Math.random() * keys.length)]!
            retries++
          } else {
            const user = 1 + Math.floor(Math.random() * participants)
            item = { key: `${run}${serial++}`, body: JSON.stringify({ competitionId: id, userId: userId(user), operation: 'increment', value: 1 }) }
            keys.push(item)
          }
          current = item.key
          if (!outcome.has(item.key)) outcome.set(item.key, 'failed')
          return { ...req, headers: { ...headers, 'idempotency-key': item.key }, body: item.body }
        },
        onResponse (status, body) {
          if (status !== 200) return
          const answer = JSON.parse(body) as { applied: boolean, duplicate: boolean }
          if (answer.duplicate) duplicatesAnswered++
          if (outcome.get(current) !== 'applied') outcome.set(current, answer.applied ? 'applied' : 'duplicate')
        }
      }]
    })
  })

  // autocannon stops without waiting for requests in flight; the service still completes them.
  // Wait until no more of this run's events appear, then for the last tick's projection writes.
  let last = -1
  for (let i = 0; i < 60; i++) {
    const { rows: [{ n }] } = await db.query('SELECT count(*)::int AS n FROM score_events WHERE competition_id = $1 AND idempotency_key LIKE $2', [id, `${run}%`])
    if (n === last) break
    last = n
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  await new Promise((resolve) => setTimeout(resolve, 500))
  const stored = new Set((await db.query<{ idempotency_key: string }>(
    'SELECT idempotency_key FROM score_events WHERE competition_id = $1 AND idempotency_key LIKE $2', [id, `${run}%`])).rows.map((r) => r.idempotency_key))
  const perUser = new Map((await db.query<{ user_id: string, n: string }>(
    'SELECT user_id, count(*) AS n FROM score_events WHERE competition_id = $1 AND idempotency_key LIKE $2 GROUP BY user_id', [id, `${run}%`])).rows.map((r) => [r.user_id, Number(r.n)]))
  const after = (await db.query<{ user_id: string, score: string }>('SELECT user_id, score FROM participants WHERE competition_id = $1', [id])).rows
  await db.end()
  let lost = 0
  let unknown = 0
  for (const [key, o] of outcome) {
    if (o === 'failed') unknown++
    else if (!stored.has(key)) lost++
  }
  let doubled = 0
  for (const r of after) if (Number(r.score) - (before.get(r.user_id) ?? 0) !== (perUser.get(r.user_id) ?? 0)) doubled++

  const redis = new Redis(stores.redisUrl)
  const members = await redis.hgetall(competitionKey(stores.redisPrefix, id, 'lb:members'))
  redis.disconnect()
  let redisMismatches = 0
  for (const r of after) if (Number(members[r.user_id]?.split('|')[1]) !== Number(r.score)) redisMismatches++

  return {
    load: result,
    check: { sent, retries, applied: [...outcome.values()].filter((o) => o === 'applied').length, duplicatesAnswered, lost, doubled, events: stored.size, unknown, redisMismatches }
  }
}

export interface SyncCheck { batches: number, samplesAccepted: number, samplesStored: number, samplesPerSecond: number }

// One sync request's body: `count` consecutive step samples of `stepMs` each, the newest
// ending at `from.end`, numbered from `from.n`, newest first, as a phone catching up sends them.
export function syncBody (user: number, from: { n: number, end: number }, count: number, stepMs: number): string {
  const samples = []
  for (let i = 0; i < count; i++) {
    const end = from.end - i * stepMs
    samples.push({
      externalId: `u${user}-s${from.n + i}`,
      metric: 'steps',
      kind: 'sample',
      startTime: new Date(end - stepMs).toISOString(),
      endTime: new Date(end).toISOString(),
      value: 100,
      recordingMethod: 'automatic',
      tzOffsetMinutes: 0
    })
  }
  return JSON.stringify({ source: 'healthkit', samples })
}

// Fitness sync of 100-sample batches: each connection is one user pushing consecutive
// two-minute step samples, newest first, as a phone catching up would.
export async function fitnessSync (t: Target, databaseUrl: string, users: number, batchSize = 100): Promise<{ load: LoadResult, check: SyncCheck }> {
  const cursor = new Map<number, { n: number, end: number }>()
  let accepted = 0
  let batches = 0
  const startAt = Date.now() - 60_000
  const result = await load({
    url: t.base,
    pid: t.pid,
    settings: t.settings,
    setupClient: perConnection((k) => {
      const user = 1 + (k % users)
      const headers = { authorization: `Bearer ${t.tokens.user(user)}`, 'content-type': 'application/json' }
      return [{
        method: 'POST',
        path: '/api/v1/fitness/sync',
        setupRequest (req) {
          const state = cursor.get(user) ?? { n: 0, end: startAt }
          cursor.set(user, { n: state.n + batchSize, end: state.end - batchSize * 120_000 })
          return { ...req, headers, body: syncBody(user, state, batchSize, 120_000) }
        },
        onResponse (status, body) {
          if (status !== 200) return
          batches++
          accepted += (JSON.parse(body) as { inserted: number }).inserted
        }
      }]
    })
  })
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  const stored = Number((await db.query('SELECT count(*) FROM fitness_samples').then((r) => r.rows[0].count)))
  await db.end()
  const measuredSamples = (result.requests - result.non2xx) * batchSize
  return {
    load: result,
    check: { batches, samplesAccepted: accepted, samplesStored: stored, samplesPerSecond: Math.round(measuredSamples / t.settings.seconds) }
  }
}
