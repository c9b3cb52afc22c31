import { test } from 'tap'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import pg from 'pg'
import { createRedisPrefix, createTestDatabase, TEST_JWT_SECRET, createDataDir } from './helper.ts'
import { resolveBackends } from './backends.ts'
import { startServerProcess } from './processes.ts'
import { projectRoot } from '../lib/project-root.ts'

// `npm start` runs the service compiled into dist/ (npm run build); both tests use that build.
await promisify(execFile)('npm', ['run', '--silent', 'build'], { cwd: projectRoot })

// Files that ship beside the sources must still be found from dist/: the migrations and the
// live page.
test('the built service starts, migrates and serves the live page', async (t) => {
  const { redisUrl } = await resolveBackends(t)
  const databaseUrl = await createTestDatabase(t)
  const server = await startServerProcess(t, {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    REDIS_KEY_PREFIX: await createRedisPrefix(t),
    JWT_SECRET: TEST_JWT_SECRET,
    LIFECYCLE_JOBS: 'false',
    DATA_DIR: await createDataDir(t)
  }, 'dist/server.js')

  const ready = await fetch(`${server.base}/health/ready`)
  t.equal(ready.status, 200, server.stderr())
  t.match(await ready.json(), { status: 'ok', checks: { postgres: { ok: true }, redis: { ok: true } } })
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  t.teardown(() => db.end())
  const { rows } = await db.query('SELECT count(*)::int AS n FROM schema_migrations')
  t.ok(rows[0].n >= 4, 'every migration applied from the built service')
  const page = await fetch(`${server.base}/live/00000000-0000-4000-8000-000000000000`)
  t.equal(page.status, 200)
  t.match(await page.text(), /<html/)
  const script = await fetch(`${server.base}/live/assets/app.js`)
  t.equal(script.status, 200)
  t.equal(server.child.exitCode, null)
})

// Node's bundled undici (fetch, WebSocket) is about 14 MB resident that the service never uses;
// an ESM import of node:http loads it through that module's lazy WebSocket getters (see
// lib/http-status.ts). Checked on the built modules, dependencies included.
test('loading the built service does not load Node\'s bundled undici', async (t) => {
  const probe = 'await import("./dist/app.js"); console.log(JSON.stringify(process.moduleLoadList.filter((m) => m.includes("undici"))))'
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], { cwd: projectRoot })
  t.same(JSON.parse(stdout), [])
})
