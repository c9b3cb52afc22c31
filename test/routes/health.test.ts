import { test } from 'tap'
import { build, createTestDatabase } from '../helper.ts'
import { startTcpProxy } from '../tcp-proxy.ts'

test('liveness and readiness against the real servers', async (t) => {
  const app = await build(t)
  const live = await app.inject({ url: '/health' })
  t.equal(live.statusCode, 200)
  t.equal(live.json().status, 'ok')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.match(ready.json(), { status: 'ok', mode: 'production', checks: { postgres: { ok: true, mode: 'external' }, redis: { ok: true, mode: 'external' } } })
})

test('readiness turns 503 naming Postgres while it is unreachable, and back to 200 when it returns', async (t) => {
  const databaseUrl = new URL(await createTestDatabase(t))
  const proxy = await startTcpProxy({ host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) })
  t.teardown(() => proxy.close())
  databaseUrl.host = `127.0.0.1:${proxy.port}`
  const app = await build(t, { databaseUrl: databaseUrl.toString(), config: { DATABASE_CONNECT_TIMEOUT_MS: 500 } })
  t.equal((await app.inject({ url: '/health/ready' })).statusCode, 200)

  proxy.cut()
  const started = Date.now()
  const down = await app.inject({ url: '/health/ready' })
  t.equal(down.statusCode, 503)
  t.match(down.json(), { status: 'unavailable', message: 'postgres unavailable', checks: { postgres: { ok: false }, redis: { ok: true } } })
  t.ok(Date.now() - started < 3000, 'answers within the check timeout')

  proxy.restore()
  let back = await app.inject({ url: '/health/ready' })
  for (let i = 0; i < 20 && back.statusCode !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    back = await app.inject({ url: '/health/ready' })
  }
  t.equal(back.statusCode, 200, 'recovers by itself')
})

test('OpenAPI document and Swagger UI', async (t) => {
  const app = await build(t)
  const doc = await app.inject({ url: '/docs/json' })
  t.equal(doc.statusCode, 200)
  const spec = doc.json()
  t.match(spec.openapi, /^3\./)
  t.ok(spec.components.securitySchemes.bearerAuth, 'bearer scheme declared')
  t.ok(spec.paths['/health/ready'], 'routes are documented')
  t.ok(spec.paths['/api/v1/me'].get.responses['401'], 'error responses are documented')
  const ui = await app.inject({ url: '/docs' })
  t.equal(ui.statusCode, 200)
  t.match(ui.body, /swagger/i)
})

test('unknown routes answer 404 in the error shape', async (t) => {
  const app = await build(t)
  const res = await app.inject({ url: '/api/v1/nothing-here' })
  t.equal(res.statusCode, 404)
  t.match(res.json(), { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found' })
})
