import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import WebSocket from 'ws'
import { bearer, token } from '../../helper.ts'
import { scoreOfZset } from '../../../services/leaderboard/ranking.ts'

// Set-up for the leaderboard, prize and realtime tests: rows made with plain SQL (fast, and
// independent of the competitions API), scores through the public API.

export const ADMIN_ID = '00000000-0000-4000-8000-00000000ad01'
export const admin = bearer({ sub: ADMIN_ID, admin: true })
// High enough for the bulk tests; the rate limit has its own tests.
export const LEADERBOARD_TEST_CONFIG = { RATE_LIMIT_MAX: 100000, LIFECYCLE_JOBS: false, REALTIME_TICK_MS: 50 }

export async function seedUsers (app: FastifyInstance, count: number, name = 'Runner'): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID())
  await app.pg.query(`INSERT INTO users (id, display_name, avatar_url)
    SELECT id, $2 || ' ' || n, 'https://img.example/' || n || '.png' FROM unnest($1::uuid[]) WITH ORDINALITY AS u (id, n)`, [ids, name])
  return ids
}

export async function seedCompetition (app: FastifyInstance, opts: Record<string, unknown> = {}): Promise<string> {
  const id = randomUUID()
  await app.pg.query('INSERT INTO users (id, display_name) VALUES ($1, \'Admin\') ON CONFLICT DO NOTHING', [ADMIN_ID])
  await app.pg.query(`INSERT INTO competitions (id, name, metric, starts_at, ends_at, status, visibility, entry_fee, currency, sponsor_prize, house_share_bps, prize_split, created_by, score_order)
    VALUES ($1, $2, $3, now() - interval '1 hour', now() + interval '1 day', $4, $5, $6, $7, $8, $9, $10, $11, $12)`, [
    id, opts.name ?? 'Points race', opts.metric ?? 'custom', opts.status ?? 'active', opts.visibility ?? 'public',
    opts.entryFee ?? 0, opts.currency ?? 'USD', opts.sponsorPrize ?? 0, opts.houseShareBps ?? 0,
    JSON.stringify(opts.prizeSplit ?? { type: 'percent', places: [100] }), ADMIN_ID, opts.scoreOrder ?? 'highest_wins'
  ])
  return id
}

// Participants added with SQL; the joined event tells the leaderboard, as the join route does.
export async function seedParticipants (app: FastifyInstance, competitionId: string, userIds: string[], opts: { emit?: boolean } = {}): Promise<void> {
  await app.pg.query('INSERT INTO participants (competition_id, user_id) SELECT $1, unnest($2::uuid[])', [competitionId, userIds])
  await app.pg.query('UPDATE competitions SET participant_count = participant_count + $2 WHERE id = $1', [competitionId, userIds.length])
  if (opts.emit !== false) {
    await Promise.all(userIds.map(async (userId) => await app.leaderboard.reconcileParticipant({ competitionId, userId })))
  }
}

export async function updateScore (app: FastifyInstance, body: { competitionId: string, userId: string, operation?: string, value: number }, key: string = randomUUID()) {
  return await app.inject({
    method: 'POST',
    url: '/api/v1/leaderboard/update',
    headers: { ...admin, 'idempotency-key': key },
    payload: { operation: 'set', ...body }
  })
}

export async function leaderboard (app: FastifyInstance, competitionId: string, userId: string, query = '') {
  const res = await app.inject({ url: `/api/v1/leaderboard/${competitionId}${query}`, headers: bearer({ sub: userId }) })
  return { statusCode: res.statusCode, body: res.json() }
}

// Participants' scores as Postgres has them.
export async function postgresScores (app: FastifyInstance, competitionId: string): Promise<Map<string, number>> {
  const { rows } = await app.pg.query('SELECT user_id, score::text FROM participants WHERE competition_id = $1', [competitionId])
  return new Map(rows.map((r) => [r.user_id, Number(r.score)]))
}

// Postgres's ranking, the source of truth the projection must equal, in ZRANGE order.
export async function postgresRanking (app: FastifyInstance, competitionId: string): Promise<Array<{ userId: string, score: number }>> {
  const { rows } = await app.pg.query(`SELECT p.user_id, p.score::text AS points FROM participants p WHERE p.competition_id = $1
    ORDER BY p.score DESC, p.reached_at, p.user_id`, [competitionId])
  return rows.map((r) => ({ userId: r.user_id, score: Number(r.points) }))
}

// The Redis sorted set decoded: user -> score, in ZRANGE order.
// The ranking in the app's projection, or in the sorted set `key` of another one.
export async function redisRanking (app: FastifyInstance, competitionId: string, key = app.leaderboard.keys(competitionId).scores): Promise<Array<{ userId: string, score: number }>> {
  const rows = await app.redis.zrange(key, 0, -1, 'WITHSCORES')
  const out: Array<{ userId: string, score: number }> = []
  for (let i = 0; i < rows.length; i += 2) out.push({ userId: rows[i]!.slice(16), score: scoreOfZset(rows[i + 1]!) })
  return out
}

// Deletes this app's Redis keys (its own prefix only: the Redis is shared).
export async function flushPrefix (app: FastifyInstance): Promise<number> {
  let cursor = '0'
  let deleted = 0
  do {
    const [next, keys] = await app.redis.scan(cursor, 'MATCH', `${app.redisPrefix}*`, 'COUNT', 1000)
    if (keys.length > 0) deleted += await app.redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
  return deleted
}

export async function eventually<T> (check: () => Promise<T | undefined | false>, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`${what} not met in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface LiveClient {
  socket: WebSocket
  frames: any[]
  closed: Promise<{ code: number, reason: string, framesBeforeClose: number }>
  next: (predicate: (frame: any) => boolean, timeoutMs?: number) => Promise<any>
  send: (message: unknown) => void
  close: () => Promise<void>
}

// A real WebSocket client against an app listening on a real port.
export async function liveClient (baseUrl: string, competitionId: string, opts: { userId?: string, token?: string, query?: string } = {}): Promise<LiveClient> {
  const jwt = opts.token ?? token({ sub: opts.userId ?? randomUUID() })
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/ws/leaderboard/${competitionId}?token=${encodeURIComponent(jwt)}${opts.query ?? ''}`)
  const frames: any[] = []
  const waiters = new Set<() => void>()
  socket.on('message', (data) => {
    frames.push(JSON.parse(String(data)))
    for (const wake of waiters) wake()
  })
  const closed = new Promise<{ code: number, reason: string, framesBeforeClose: number }>((resolve) => {
    socket.on('close', (code, reason) => {
      resolve({ code, reason: String(reason), framesBeforeClose: frames.length })
      for (const wake of waiters) wake()
    })
  })
  socket.on('error', () => {})
  await new Promise<void>((resolve) => {
    socket.once('open', () => resolve())
    socket.once('close', () => resolve())
  })
  let seen = 0
  return {
    socket,
    frames,
    closed,
    // The next frame (after those already returned) matching the predicate.
    async next (predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        while (seen < frames.length) {
          const frame = frames[seen++]
          if (predicate(frame)) return frame
        }
        if (socket.readyState === WebSocket.CLOSED) throw new Error(`socket closed while waiting; frames: ${JSON.stringify(frames).slice(0, 2000)}`)
        if (Date.now() > deadline) throw new Error(`no matching frame in ${timeoutMs} ms; frames: ${JSON.stringify(frames).slice(0, 2000)}`)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(1, deadline - Date.now()))
          const wake = () => { clearTimeout(timer); waiters.delete(wake); resolve() }
          waiters.add(wake)
        })
      }
    },
    send (message) { socket.send(JSON.stringify(message)) },
    async close () {
      if (socket.readyState === WebSocket.CLOSED) return
      socket.close()
      await closed
    }
  }
}

export async function listen (app: FastifyInstance): Promise<string> {
  return await app.listen({ port: 0, host: '127.0.0.1' })
}
