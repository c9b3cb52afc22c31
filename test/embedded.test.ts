import { test } from 'tap'
import { build, bearer } from './helper.ts'
import { randomUUID } from 'node:crypto'

// What `npm start` runs on a bare machine: the embedded PostgreSQL and the in-process Redis stand-in.
test('embedded mode serves health, readiness, docs and authenticated calls', async (t) => {
  const app = await build(t, { config: { DATABASE_URL: '', REDIS_URL: '' } })
  t.equal(app.postgresMode, 'embedded')
  t.equal(app.redisMode, 'embedded')
  const ready = await app.inject({ url: '/health/ready' })
  t.equal(ready.statusCode, 200)
  t.match(ready.json(), { status: 'ok', mode: 'embedded', checks: { postgres: { ok: true, mode: 'embedded' }, redis: { ok: true, mode: 'embedded' } } })
  const doc = await app.inject({ url: '/docs/json' })
  t.match(doc.json().openapi, /^3\./)
  const me = await app.inject({ url: '/api/v1/me', headers: bearer({ sub: randomUUID() }) })
  t.equal(me.statusCode, 200)
  const tables = await app.pg.query("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'")
  t.ok(tables.rows[0].n >= 12, 'the schema is migrated into the embedded database')
})
