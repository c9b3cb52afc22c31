import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../helper.ts'
import { startPostgresServer } from '../processes.ts'

const sleep = async (ms: number) => await new Promise((resolve) => setTimeout(resolve, ms))

test('without DATABASE_READ_URL, pgRead is the primary pool', async (t) => {
  const app = await build(t)
  t.equal(app.pgRead, app.pg.pool)
})

test('with DATABASE_READ_URL, lag-tolerant reads go to a streaming replica that refuses writes', async (t) => {
  const primary = await startPostgresServer(t)
  const replica = await startPostgresServer(t, { replicaOf: primary })
  const app = await build(t, {
    databaseUrl: primary.url,
    config: { DATABASE_READ_URL: replica.url }
  })
  t.not(app.pgRead, app.pg.pool)
  const [{ rows: [onPrimary] }, { rows: [onReplica] }] = await Promise.all([
    app.pg.query('SELECT pg_is_in_recovery() AS standby'),
    app.pgRead.query('SELECT pg_is_in_recovery() AS standby')
  ])
  t.equal(onPrimary.standby, false, 'fastify.pg is the primary')
  t.equal(onReplica.standby, true, 'fastify.pgRead is the standby')

  // A write on the primary shows up on the replica after replication (migrations included).
  const id = randomUUID()
  await app.pg.query('INSERT INTO users (id, username, display_name) VALUES ($1, $2, $3)', [id, `u_${id.slice(0, 8)}`, 'Replica Reader'])
  let seen = 0
  for (let i = 0; i < 100 && seen === 0; i++) {
    // Until the migrations are replayed the table may not exist there yet.
    seen = (await app.pgRead.query('SELECT 1 FROM users WHERE id = $1', [id]).catch(() => ({ rowCount: 0 }))).rowCount ?? 0
    if (seen === 0) await sleep(50)
  }
  t.equal(seen, 1, 'the replica catches up')

  await t.rejects(app.pgRead.query('UPDATE users SET display_name = $2 WHERE id = $1', [id, 'x']), /read-only/, 'writes are refused on the read pool')
})
