import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import pg from 'pg'
import { bearer, createDataDir, createRedisPrefix, createTestDatabase, TEST_JWT_SECRET } from '../helper.ts'
import { resolveBackends } from '../backends.ts'
import { startServerProcess } from '../processes.ts'
import { ADMIN_ID, liveClient } from '../routes/leaderboard/fixtures.ts'
import { rawConnect, type RawConnection } from '../raw-http.ts'

// The real server (node server.ts) under load receives SIGTERM: requests in flight complete,
// WebSockets close with 1001 (going away), every accepted write is in Postgres, and the
// process exits by itself within a bound.

const EXIT_BOUND_MS = 15_000
// close-with-grace's delay in server.ts: past it the process exits with code 1.
const SHUTDOWN_DEADLINE_MS = 10_000

interface Outcome { key: string, status: number | 'failed', value: number }

test('SIGTERM under load', async (t) => {
  const { redisUrl } = await resolveBackends(t)
  const databaseUrl = await createTestDatabase(t)
  const prefix = await createRedisPrefix(t)
  const dataDir = await createDataDir(t)
  const server = await startServerProcess(t, {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    RATE_LIMIT_MAX: '1000000',
    LIFECYCLE_JOBS: 'false',
    REALTIME_TICK_MS: '50',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: dataDir
  })
  const { base, child } = server

  // A custom-metric competition with participants, made with SQL on the server's database.
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const competitionId = randomUUID()
  const players = Array.from({ length: 4 }, () => randomUUID())
  await db.query('INSERT INTO users (id, display_name) SELECT unnest($1::uuid[]), \'Runner\'', [[ADMIN_ID, ...players]])
  await db.query(`INSERT INTO competitions (id, name, metric, starts_at, ends_at, status, created_by)
    VALUES ($1, 'Shutdown race', 'custom', now() - interval '1 hour', now() + interval '1 day', 'active', $2)`, [competitionId, ADMIN_ID])
  await db.query('INSERT INTO participants (competition_id, user_id) SELECT $1, unnest($2::uuid[])', [competitionId, players])
  await db.query('UPDATE competitions SET participant_count = $2 WHERE id = $1', [competitionId, players.length])
  const rebuilt = await fetch(`${base}/api/v1/admin/leaderboard/${competitionId}/rebuild`, { method: 'POST', headers: bearer({ sub: ADMIN_ID, admin: true }) })
  t.equal(rebuilt.status, 200, 'the projection knows the participants')

  const sockets = await Promise.all(players.slice(0, 3).map(async (userId) => await liveClient(base, competitionId, { userId })))
  for (const s of sockets) await s.next((f) => f.type === 'snapshot')

  const headers = { ...bearer({ sub: ADMIN_ID, admin: true }), 'content-type': 'application/json' }
  async function scoreUpdate (userId: string): Promise<Outcome> {
    const key = randomUUID()
    const value = 1 + Math.floor(Math.random() * 5)
    try {
      const res = await fetch(`${base}/api/v1/leaderboard/update`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': key },
        body: JSON.stringify({ competitionId, userId, operation: 'increment', value }),
        signal: AbortSignal.timeout(EXIT_BOUND_MS)
      })
      await res.arrayBuffer()
      return { key, status: res.status, value }
    } catch {
      return { key, status: 'failed', value }
    }
  }

  // A request whose body is still arriving when SIGTERM comes: it is in flight for sure.
  function slowUpdate (userId: string): { sent: Promise<void>, finish: () => void, outcome: Promise<Outcome> } {
    const key = randomUUID()
    const body = JSON.stringify({ competitionId, userId, operation: 'increment', value: 100 })
    let finish = () => {}
    let sent: () => void = () => {}
    const sentPromise = new Promise<void>((resolve) => { sent = resolve })
    const outcome = new Promise<Outcome>((resolve) => {
      const req = httpRequest(`${base}/api/v1/leaderboard/update`, {
        method: 'POST',
        headers: { ...headers, 'idempotency-key': key, 'content-length': Buffer.byteLength(body), connection: 'close' }
      }, (res) => {
        res.resume()
        res.on('end', () => resolve({ key, status: res.statusCode ?? 0, value: 100 }))
      })
      req.on('error', () => resolve({ key, status: 'failed', value: 100 }))
      req.write(body.slice(0, 10), () => sent())
      finish = () => req.end(body.slice(10))
    })
    return { sent: sentPromise, finish, outcome }
  }

  // Steady load from a few loops, plus two requests caught mid-body.
  const outcomes: Outcome[] = []
  const load = { running: true }
  const loops = players.map(async (userId) => {
    while (load.running) outcomes.push(await scoreUpdate(userId))
  })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const slow = [slowUpdate(players[0]!), slowUpdate(players[1]!)]
  await Promise.all(slow.map(async (s) => await s.sent))
  await new Promise((resolve) => setTimeout(resolve, 100))

  const signalledAt = Date.now()
  child.kill('SIGTERM')
  const closes = sockets.map(async (s) => await s.closed)
  await new Promise((resolve) => setTimeout(resolve, 300))
  for (const s of slow) s.finish()
  const slowOutcomes = await Promise.all(slow.map(async (s) => await s.outcome))

  let bound: NodeJS.Timeout | undefined
  const exit = await Promise.race([
    server.exited,
    new Promise<'timeout'>((resolve) => { bound = setTimeout(() => resolve('timeout'), EXIT_BOUND_MS) })
  ])
  clearTimeout(bound)
  load.running = false
  await Promise.all(loops)
  t.not(exit, 'timeout', `the process exits within ${EXIT_BOUND_MS} ms`)
  t.same(exit, { code: 0, signal: null }, 'with code 0')
  t.comment(`exited ${Date.now() - signalledAt} ms after SIGTERM`)
  t.notMatch(server.stderr(), /"level":(50|60)/, 'no errors logged during shutdown')

  t.same(slowOutcomes.map((o) => o.status), [200, 200], 'requests in flight at SIGTERM complete with 200')
  const closeCodes = (await Promise.all(closes)).map((c) => c.code)
  t.same(closeCodes, [1001, 1001, 1001], 'WebSockets close with 1001 going away')

  const all = [...outcomes, ...slowOutcomes]
  const accepted = all.filter((o) => o.status === 200)
  t.ok(outcomes.length > 20, `${outcomes.length} requests under load`)
  t.same(all.filter((o) => typeof o.status === 'number' && o.status !== 200 && o.status !== 503).map((o) => o.status), [],
    'every answer is 200, or 503 while closing')
  const { rows } = await db.query<{ idempotency_key: string }>('SELECT idempotency_key FROM score_events WHERE competition_id = $1', [competitionId])
  const stored = new Set(rows.map((r) => r.idempotency_key))
  t.same(accepted.filter((o) => !stored.has(o.key)).map((o) => o.key), [], `all ${accepted.length} accepted writes are in Postgres`)
  const { rows: [sum] } = await db.query<{ total: string }>('SELECT coalesce(sum(score), 0)::text AS total FROM participants WHERE competition_id = $1', [competitionId])
  const committed = all.filter((o) => stored.has(o.key)).reduce((s, o) => s + o.value, 0)
  t.equal(Number(sum!.total), committed, 'scores are exactly the committed increments')
  t.comment(`${accepted.length} accepted, ${all.filter((o) => o.status === 503).length} refused with 503, ${all.filter((o) => o.status === 'failed').length} could not connect`)
})

// Keep-alive clients: connections idle after an answer, connections that never sent a
// request, and a request in flight on a keep-alive connection. None of them holds the
// process until the shutdown deadline: the idle ones close at once, the request in flight is
// answered with Connection: close, nothing is reset, and the process exits 0.
test('SIGTERM with keep-alive clients', async (t) => {
  const { redisUrl } = await resolveBackends(t)
  const databaseUrl = await createTestDatabase(t)
  const prefix = await createRedisPrefix(t)
  const server = await startServerProcess(t, {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: prefix,
    JWT_SECRET: TEST_JWT_SECRET,
    LIFECYCLE_JOBS: 'false',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    DATA_DIR: await createDataDir(t)
  })
  const { base, child } = server
  const port = Number(new URL(base).port)
  const userId = randomUUID()
  const authorization = bearer({ sub: userId }).authorization
  const head = (method: string, url: string, extra = '') => `${method} ${url} HTTP/1.1\r\nHost: x\r\nAuthorization: ${authorization}\r\n${extra}`
  const connections: RawConnection[] = []
  const open = async () => { const c = await rawConnect(port); connections.push(c); return c }
  t.teardown(() => { for (const c of connections) c.socket.destroy() })

  // Connections that never send a request, opened first: the server accepts connections in
  // the order they arrive, so once it has answered on a later one it has accepted these (one
  // still waiting in the listen backlog at SIGTERM would be reset by the kernel, not by us).
  const unused = [await open(), await open()]

  // The request in flight: its body is still arriving at SIGTERM. Sent first, so the server
  // has read it (the round trips below) before the signal.
  const first = await open()
  await first.write(head('GET', '/api/v1/me', '\r\n'))
  t.equal((await first.response()).status, 200, 'the user is known')
  const body = JSON.stringify({ displayName: 'Kept alive' })
  const inFlight = await open()
  await inFlight.write(head('PUT', `/api/v1/users/${userId}/profile`, `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`) + body.slice(0, 5))
  const idle = [first]
  for (let i = 0; i < 3; i++) {
    const c = await open()
    await c.write(head('GET', '/health', '\r\n'))
    const res = await c.response()
    t.equal(res.headers.connection, 'keep-alive', 'an idle keep-alive connection')
    idle.push(c)
  }

  const signalledAt = Date.now()
  child.kill('SIGTERM')
  let bound: NodeJS.Timeout | undefined
  const deadline = new Promise<'deadline'>((resolve) => { bound = setTimeout(() => resolve('deadline'), SHUTDOWN_DEADLINE_MS) })
  t.teardown(() => clearTimeout(bound))
  const closedQuietly = await Promise.race([Promise.all([...idle, ...unused].map(async (c) => await c.closed)), deadline])
  t.same(closedQuietly, Array.from({ length: idle.length + unused.length }, () => ({ error: null })),
    'idle and unused keep-alive connections are closed at once, without a reset')

  await inFlight.write(body.slice(5))
  const answered = await Promise.race([inFlight.response(), deadline])
  t.not(answered, 'deadline', 'the request in flight is answered')
  if (answered !== 'deadline') {
    t.equal(answered.status, 200)
    t.equal(answered.json().displayName, 'Kept alive')
    t.equal(answered.headers.connection, 'close', 'with Connection: close')
  }
  t.same(await Promise.race([inFlight.closed, deadline]), { error: null }, 'and its connection ends cleanly')

  const exit = await Promise.race([server.exited, deadline])
  t.not(exit, 'deadline', `the process exits before the ${SHUTDOWN_DEADLINE_MS} ms deadline`)
  t.same(exit, { code: 0, signal: null }, 'with code 0')
  t.comment(`exited ${Date.now() - signalledAt} ms after SIGTERM`)
  t.notMatch(server.stderr(), /"level":(50|60)/, 'no errors logged during shutdown')
})
