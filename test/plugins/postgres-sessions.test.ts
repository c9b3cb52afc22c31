import { test } from 'tap'
import { build, createTestDatabase } from '../helper.ts'

// JIT compilation once cost 400 ms on a statement that ran in under 1 ms (lib/pg-session.ts):
// every pool the service reads and writes through opens its sessions without it.
test('the primary, read and job queue pools open their sessions with JIT compilation off', async (t) => {
  const databaseUrl = await createTestDatabase(t)
  const app = await build(t, { databaseUrl, config: { DATABASE_READ_URL: databaseUrl } })
  t.not(app.pgRead, app.pg.pool)
  const [{ rows: [primary] }, { rows: [read] }, { rows: [jobs] }] = await Promise.all([
    app.pg.query<{ jit: string }>('SHOW jit'),
    app.pgRead.query<{ jit: string }>('SHOW jit'),
    app.jobs.boss.getDb().executeSql('SHOW jit') as Promise<{ rows: Array<{ jit: string }> }>
  ])
  t.equal(primary?.jit, 'off')
  t.equal(read?.jit, 'off')
  t.equal(jobs?.jit, 'off', 'the job queue\'s own pool')
})
