import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import pg from 'pg'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { build, bearer } from '../helper.ts'
import { startPostgresServer } from '../processes.ts'

// Postgres stopped under a running app: requests that need it get 503 with a clear message,
// never a 500 or a hang; readiness says so; the app recovers by itself when Postgres returns.

const BOUND_MS = 10_000
const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

// The response, or a failure if the app has not answered within the bound.
async function within (app: FastifyInstance, opts: InjectOptions): Promise<LightMyRequestResponse> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`no answer within ${BOUND_MS} ms`)), BOUND_MS) })
  try {
    return await Promise.race([app.inject(opts), hang])
  } finally {
    clearTimeout(timer)
  }
}

test('Postgres stopped: 503 fast, readiness reports it, recovery by itself', async (t) => {
  const postgres = await startPostgresServer(t)
  const admin = new pg.Client({ connectionString: postgres.url })
  await admin.connect()
  await admin.query('CREATE DATABASE app')
  await admin.end()
  const databaseUrl = postgres.url.replace(/\/postgres$/, '/app')

  const user = randomUUID()
  const app = await build(t, {
    databaseUrl,
    config: { DATABASE_CONNECT_TIMEOUT_MS: 1000, DATABASE_STATEMENT_TIMEOUT_MS: 3000, MAX_EVENT_LOOP_DELAY_MS: 0 },
    // Stand-ins for domain routes: a read, a write in a transaction, and a slow query.
    extend (fastify) {
      fastify.get('/probe/read', async () => {
        const { rows } = await fastify.pg.query('SELECT count(*)::int AS n FROM users')
        return rows[0]
      })
      fastify.post('/probe/write', async (_request, reply) => {
        await fastify.pg.transact(async (client) => {
          await client.query('INSERT INTO users (id, display_name) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [randomUUID(), 'x'])
        })
        return await reply.code(201).send({ ok: true })
      })
      fastify.get('/probe/slow', async () => {
        await fastify.pg.query('SELECT pg_sleep(2)')
        return { ok: true }
      })
    }
  })

  t.equal((await within(app, { url: '/probe/read' })).statusCode, 200, 'works while Postgres is up')
  t.equal((await within(app, { method: 'POST', url: '/probe/write' })).statusCode, 201)

  // A query in flight when Postgres goes away is answered with 503 too.
  const inFlight = within(app, { url: '/probe/slow' })
  await sleep(300)
  await postgres.stop()
  const cut = await inFlight
  t.equal(cut.statusCode, 503, 'the in-flight query is answered with 503')

  for (const [name, opts] of [
    ['read', { url: '/probe/read' }],
    ['write', { method: 'POST' as const, url: '/probe/write' }]
  ] as const) {
    const res = await within(app, opts)
    t.equal(res.statusCode, 503, `${name} while Postgres is down: 503`)
    t.match(res.json(), { statusCode: 503, code: 'SERVICE_UNAVAILABLE', error: 'Service Unavailable', message: /temporarily unavailable/ })
    t.equal(res.headers['retry-after'], '5')
    t.notMatch(res.body, /ECONNREFUSED|127\.0\.0\.1|postgres:\/\//, 'no internals leak')
  }

  const ready = await within(app, { url: '/health/ready' })
  t.equal(ready.statusCode, 503, 'readiness fails')
  t.match(ready.json(), { status: 'unavailable', message: 'postgres unavailable', checks: { postgres: { ok: false }, redis: { ok: true } } })
  t.equal((await within(app, { url: '/health' })).statusCode, 200, 'liveness stays up: restarting would not help')
  t.equal((await within(app, { url: '/api/v1/me', headers: bearer({ sub: user }) })).statusCode, 200, 'routes without Postgres keep working')

  await postgres.start()
  let recovered = 0
  for (let i = 0; i < 100 && recovered !== 200; i++) {
    recovered = (await within(app, { url: '/probe/read' })).statusCode
    if (recovered !== 200) await sleep(100)
  }
  t.equal(recovered, 200, 'reads recover without restarting the app')
  t.equal((await within(app, { method: 'POST', url: '/probe/write' })).statusCode, 201, 'writes recover')
  t.equal((await within(app, { url: '/health/ready' })).statusCode, 200, 'readiness recovers')
  // The user whose first call came while Postgres was down is created by their next call.
  t.equal((await app.pg.query('SELECT 1 FROM users WHERE id = $1', [user])).rowCount, 0, 'not provisioned during the outage')
  t.equal((await within(app, { url: '/api/v1/me', headers: bearer({ sub: user }) })).statusCode, 200)
  t.equal((await app.pg.query('SELECT 1 FROM users WHERE id = $1', [user])).rowCount, 1, 'provisioned by the next call')
})

// A network black hole (packets dropped, nothing refused): connections and queries must time
// out into 503 rather than hang.
test('Postgres unreachable without refusal: 503 within the configured timeouts', async (t) => {
  const postgres = await startPostgresServer(t)
  const hole = await startBlackHoleProxy(postgres.port)
  t.teardown(hole.close)
  const databaseUrl = `postgres://postgres@127.0.0.1:${hole.port}/postgres`
  const app = await build(t, {
    databaseUrl,
    config: { DATABASE_CONNECT_TIMEOUT_MS: 1000, DATABASE_STATEMENT_TIMEOUT_MS: 1000, MAX_EVENT_LOOP_DELAY_MS: 0 },
    extend (fastify) {
      fastify.get('/probe/read', async () => (await fastify.pg.query('SELECT 1 AS one')).rows[0])
    }
  })
  t.equal((await within(app, { url: '/probe/read' })).statusCode, 200)
  hole.swallow()
  // Pooled connections now hang mid-query, new ones never finish their handshake.
  for (let i = 0; i < 3; i++) {
    const res = await within(app, { url: '/probe/read' })
    t.equal(res.statusCode, 503, `request ${i + 1} while packets vanish: 503`)
  }
  t.equal((await within(app, { url: '/health/ready' })).statusCode, 503, 'readiness fails')
  hole.pass()
  let recovered = 0
  for (let i = 0; i < 100 && recovered !== 200; i++) {
    recovered = (await within(app, { url: '/probe/read' })).statusCode
    if (recovered !== 200) await sleep(100)
  }
  t.equal(recovered, 200, 'recovers once the network does')
})

// Forwards to Postgres until swallow(): from then on bytes in either direction are dropped and
// new connections are accepted but never answered, like a silent network partition.
async function startBlackHoleProxy (targetPort: number): Promise<{ port: number, swallow: () => void, pass: () => void, close: () => Promise<void> }> {
  const { createServer, connect } = await import('node:net')
  let swallowing = false
  const sockets = new Set<import('node:net').Socket>()
  const server = createServer((client) => {
    sockets.add(client)
    client.on('error', () => {}).on('close', () => sockets.delete(client))
    if (swallowing) { client.resume(); return }
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(upstream)
    upstream.on('error', () => client.destroy()).on('close', () => { sockets.delete(upstream); client.destroy() })
    client.on('close', () => upstream.destroy())
    client.on('data', (d) => { if (!swallowing) upstream.write(d) })
    upstream.on('data', (d) => { if (!swallowing) client.write(d) })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    swallow () { swallowing = true },
    // Connections that lost bytes are broken for good; drop them so clients reconnect.
    pass () { swallowing = false; for (const s of sockets) s.destroy() },
    async close () {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
