import { test, type Test } from 'tap'
import pg from 'pg'
import { createTestDatabase } from '../../helper.ts'
import { startTcpProxy } from '../../tcp-proxy.ts'
import { createTransactor, withTransaction, type TransactionPool } from '../../../services/shared/transactions.ts'

// The transaction helper against a real Postgres: what commits, what rolls back, and that every
// client goes back to the pool, except one whose ROLLBACK failed, which is destroyed.

async function setup (t: Test): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: await createTestDatabase(t), max: 2 })
  // The database is dropped with FORCE at the end: an idle client cut off then is expected.
  pool.on('error', () => {})
  t.teardown(async () => await pool.end())
  await pool.query('CREATE TABLE items (id int PRIMARY KEY)')
  return pool
}

async function ids (pool: pg.Pool): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>('SELECT id FROM items ORDER BY id')
  return rows.map((r) => r.id)
}

// Every client is back in the pool: none checked out, none waiting.
function allIdle (t: Test, pool: pg.Pool, message: string): void {
  t.equal(pool.totalCount - pool.idleCount, 0, message)
  t.equal(pool.waitingCount, 0)
}

// A pool whose clients record the statements they are sent and, if asked, answer ROLLBACK
// with an error as a lost connection would.
function watched (pool: pg.Pool, opts: { failRollback: boolean }) {
  const sent: string[] = []
  const wrapped = {
    connect: async () => {
      const client = await pool.connect()
      return {
        query: async (text: string, values?: unknown[]) => {
          sent.push(text)
          if (opts.failRollback && text === 'ROLLBACK') throw new Error('connection lost')
          return await client.query(text, values)
        },
        release: (destroy?: boolean | Error) => client.release(destroy),
        on: (event: 'error', listener: (err: Error) => void) => client.on(event, listener),
        off: (event: 'error', listener: (err: Error) => void) => client.off(event, listener)
      }
    }
  } as unknown as TransactionPool
  return { pool: wrapped, sent }
}

test('a unit of work that succeeds is committed, and its client goes back to the pool', async (t) => {
  const pool = await setup(t)
  const transact = createTransactor(pool)
  const result = await transact(async (tx) => {
    await tx.query('INSERT INTO items (id) VALUES (1), (2)')
    return 'done'
  })
  t.equal(result, 'done', 'the work\'s result is returned')
  t.same(await ids(pool), [1, 2])
  allIdle(t, pool, 'the client is released')
})

test('a unit of work that throws is rolled back whole, and its client goes back to the pool', async (t) => {
  const pool = await setup(t)
  const failure = new Error('half way')
  await t.rejects(withTransaction(pool, async (tx) => {
    await tx.query('INSERT INTO items (id) VALUES (1)')
    await tx.query('INSERT INTO items (id) VALUES (2)')
    throw failure
  }), failure, 'the work\'s own error comes back')
  t.same(await ids(pool), [], 'nothing half-written')
  allIdle(t, pool, 'the client is released')

  // A failing statement too: the transaction is aborted, then rolled back, and the client is
  // reused afterwards in a clean state.
  await t.rejects(withTransaction(pool, async (tx) => {
    await tx.query('INSERT INTO items (id) VALUES (3)')
    await tx.query('INSERT INTO items (id) VALUES (3)')
  }), { code: '23505' })
  t.same(await ids(pool), [])
  allIdle(t, pool, 'the client is released')
  t.equal(pool.totalCount, 1, 'one client, reused')
  const { rows: [row] } = await pool.query<{ one: number }>('SELECT 1 AS one')
  t.equal(row!.one, 1, 'the reused client is out of the aborted transaction')
})

test('a client whose ROLLBACK fails is destroyed, not reused', async (t) => {
  const pool = await setup(t)
  const { pool: failing } = watched(pool, { failRollback: true })
  let pid = 0
  const failure = new Error('work failed')
  await t.rejects(withTransaction(failing, async (tx) => {
    pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
    await tx.query('INSERT INTO items (id) VALUES (1)')
    throw failure
  }), failure, 'the work\'s error comes back, not the ROLLBACK\'s')
  t.equal(pool.totalCount, 0, 'the client left the pool')
  const { rows: [next] } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  t.not(next!.pid, pid, 'the next query runs on a new connection')
  t.same(await ids(pool), [], 'the destroyed connection\'s work was never committed')
})

test('a client whose ROLLBACK succeeds is reused', async (t) => {
  const pool = await setup(t)
  const { pool: counted } = watched(pool, { failRollback: false })
  let pid = 0
  await t.rejects(withTransaction(counted, async (tx) => {
    pid = (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
    throw new Error('work failed')
  }))
  t.equal(pool.totalCount, 1, 'still in the pool')
  allIdle(t, pool, 'and idle')
  const again = await withTransaction(pool, async (tx) => (await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid)
  t.equal(again, pid, 'the same connection serves the next transaction')
})

test('folded mode: the work sends BEGIN and COMMIT in its own round trips, and commits', async (t) => {
  const pool = await setup(t)
  const { pool: counted, sent } = watched(pool, { failRollback: false })
  const result = await withTransaction(counted, async (tx, folded) => {
    await tx.query([folded.begin, 'INSERT INTO items (id) VALUES (1)'].join(';\n'))
    t.same(await ids(pool), [], 'inside a transaction: others do not see the first write yet')
    await tx.query(['INSERT INTO items (id) VALUES (2)', folded.commit].join(';\n'))
    return 'done'
  }, { folded: true })
  t.equal(result, 'done')
  t.equal(sent.length, 2, 'two round trips: the helper adds none')
  t.same(await ids(pool), [1, 2])
  allIdle(t, pool, 'the client is released')
})

test('folded mode: a failure is rolled back whole, and the client goes back to the pool', async (t) => {
  const pool = await setup(t)
  const { pool: counted, sent } = watched(pool, { failRollback: false })

  // The work throws between its round trips.
  const failure = new Error('between round trips')
  await t.rejects(withTransaction(counted, async (tx, folded) => {
    await tx.query([folded.begin, 'INSERT INTO items (id) VALUES (1)'].join(';\n'))
    throw failure
  }, { folded: true }), failure)
  t.same(sent, ['BEGIN;\nINSERT INTO items (id) VALUES (1)', 'ROLLBACK'], 'the helper rolls back')
  t.same(await ids(pool), [])
  allIdle(t, pool, 'the client is released')

  // The last round trip fails before its COMMIT runs.
  await t.rejects(withTransaction(pool, async (tx, folded) => {
    await tx.query([folded.begin, 'INSERT INTO items (id) VALUES (5)'].join(';\n'))
    await tx.query(['INSERT INTO items (id) VALUES (5)', folded.commit].join(';\n'))
  }, { folded: true }), { code: '23505' })
  t.same(await ids(pool), [], 'the first round trip\'s write is rolled back too')
  allIdle(t, pool, 'the client is released')

  // Work that sends nothing opens no transaction at all.
  sent.length = 0
  t.equal(await withTransaction(counted, async () => 'nothing', { folded: true }), 'nothing')
  t.same(sent, [], 'no round trip')
  allIdle(t, pool, 'the client is released')
})

test('a connection lost in the middle of a unit of work fails it without ending the process, and its client is not reused', async (t) => {
  const url = new URL(await createTestDatabase(t))
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) })
  t.teardown(() => proxy.close())
  url.host = `127.0.0.1:${proxy.port}`
  const pool = new pg.Pool({ connectionString: url.toString(), max: 1 })
  pool.on('error', () => {})
  t.teardown(async () => await pool.end())
  await pool.query('CREATE TABLE items (id int PRIMARY KEY)')
  // The cut comes between two queries of the transaction: no query is in flight, so only the
  // client's own 'error' event tells of it (unheard, tap reports it as an uncaught exception).
  await t.rejects(withTransaction(pool, async (tx) => {
    await tx.query('INSERT INTO items (id) VALUES (1)')
    proxy.cut()
    await new Promise((resolve) => setTimeout(resolve, 100))
    await tx.query('INSERT INTO items (id) VALUES (2)')
  }), 'the unit of work fails')
  t.equal(pool.totalCount, 0, 'the broken client left the pool')
  proxy.restore()
  t.same((await pool.query<{ id: number }>('SELECT id FROM items')).rows, [], 'nothing of it was committed')
})
