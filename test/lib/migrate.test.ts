import { test } from 'tap'
import pg from 'pg'
import { randomUUID } from 'node:crypto'
import { migrate } from '../../lib/migrate.ts'
import { createTestDatabase } from '../helper.ts'

// A freshly migrated database of the test's own, and a client on it closed after the test.
async function migratedDatabase (t: Parameters<typeof createTestDatabase>[0]): Promise<pg.Client> {
  const url = await createTestDatabase(t)
  await migrate(url)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  return db
}

test('migrations apply to an empty database and are idempotent', async (t) => {
  const url = await createTestDatabase(t)
  const first = await migrate(url)
  t.ok(first.applied.length > 0, 'applies every migration')
  const second = await migrate(url)
  t.same(second.applied, [], 'a second run applies nothing')
  t.equal(second.version, first.version)

  // Two instances starting at once: one migrates, the other waits and finds nothing to do.
  const url2 = await createTestDatabase(t)
  const both = await Promise.all([migrate(url2), migrate(url2)])
  t.equal(both[0].applied.length + both[1].applied.length, first.applied.length)

  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  const tables = (await db.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows.map((r) => r.table_name)
  for (const table of ['users', 'competitions', 'participants', 'score_events', 'fitness_samples', 'daily_totals', 'accounts', 'ledger_transactions', 'ledger_entries', 'activity', 'prize_payouts', 'idempotency_keys']) {
    t.ok(tables.includes(table), `${table} exists`)
  }
})

test('only the sync leases skip the WAL: every table of data is logged', async (t) => {
  const db = await migratedDatabase(t)
  const { rows } = await db.query<{ relname: string, relpersistence: string }>(
    "SELECT c.relname, c.relpersistence FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'")
  const unlogged = rows.filter((r) => r.relpersistence === 'u').map((r) => r.relname)
  t.same(unlogged, ['fitness_sync_leases'], 'a lease means nothing after a crash; scores, samples and money must survive one')
  t.ok(rows.length > 10, 'the tables were read')
})

test('the schema protects money and identities', async (t) => {
  const db = await migratedDatabase(t)
  const user = randomUUID()
  await db.query('INSERT INTO users (id, username) VALUES ($1, $2)', [user, 'alice'])
  await t.rejects(db.query('INSERT INTO users (id, username) VALUES ($1, $2)', [randomUUID(), 'ALICE']), { code: '23505' }, 'usernames are unique regardless of case')

  const wallet = (await db.query("INSERT INTO accounts (kind, pocket, user_id, currency) VALUES ('wallet', 'deposits', $1, 'USD') RETURNING id", [user])).rows[0].id
  const external = (await db.query("INSERT INTO accounts (kind, currency) VALUES ('external', 'USD') RETURNING id")).rows[0].id

  async function transfer (key: string, amount: number, from = external, to = wallet) {
    await db.query('BEGIN')
    try {
      const tx = (await db.query("INSERT INTO ledger_transactions (idempotency_key, kind) VALUES ($1, 'credit') RETURNING id", [key])).rows[0].id
      await db.query('INSERT INTO ledger_entries (transaction_id, account_id, amount) VALUES ($1, $2, $3), ($1, $4, $5)', [tx, from, -amount, to, amount])
      await db.query('COMMIT')
    } catch (err) {
      await db.query('ROLLBACK')
      throw err
    }
  }
  await transfer('credit-1', 500)
  t.equal((await db.query('SELECT balance FROM accounts WHERE id = $1', [wallet])).rows[0].balance, '500')
  await t.rejects(transfer('credit-1', 500), { code: '23505' }, 'an idempotency key is used once')
  await t.rejects(transfer('overdraw', 600, wallet, external), { code: '23514' }, 'a wallet never goes negative')
  t.equal((await db.query('SELECT balance FROM accounts WHERE id = $1', [wallet])).rows[0].balance, '500', 'nothing half-written')

  await db.query('BEGIN')
  const tx = (await db.query("INSERT INTO ledger_transactions (idempotency_key, kind) VALUES ('lopsided', 'credit') RETURNING id")).rows[0].id
  await db.query('INSERT INTO ledger_entries (transaction_id, account_id, amount) VALUES ($1, $2, 10)', [tx, wallet])
  await t.rejects(db.query('COMMIT'), { code: '23514' }, 'an unbalanced transaction cannot commit')
  await t.rejects(db.query('UPDATE ledger_entries SET amount = 1'), { code: '55000' }, 'entries are append-only')
  const euros = (await db.query("INSERT INTO accounts (kind, currency) VALUES ('external', 'EUR') RETURNING id")).rows[0].id
  await t.rejects(transfer('mixed', 5, euros, wallet), { code: '23514' }, 'a transaction never mixes currencies')
  const debt = (await db.query("INSERT INTO accounts (kind, user_id, currency) VALUES ('debt', $1, 'USD') RETURNING id", [user])).rows[0].id
  await t.rejects(transfer('debt-positive', 5, external, debt), { code: '23514' }, 'a debt never turns into a credit')
  await t.rejects(db.query("INSERT INTO accounts (kind, user_id, currency) VALUES ('wallet', $1, 'GBP')", [user]), { code: '23514' }, 'a wallet account is one pocket')

  await t.rejects(db.query("INSERT INTO competitions (name, metric, starts_at, ends_at) VALUES ('x', 'sleep', now(), now() + interval '1 day')"), { code: '23514' }, 'metric is an enum')
  await t.rejects(db.query("INSERT INTO competitions (name, metric, starts_at, ends_at) VALUES ('x', 'steps', now(), now() - interval '1 day')"), { code: '23514' }, 'window ends after it starts')
  const sample = [user, 'healthkit', 'uuid-1', 'steps', new Date(), new Date(), 10, '2026-01-01']
  await db.query('INSERT INTO fitness_samples (user_id, source, external_id, metric, start_at, end_at, value, local_day) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', sample)
  await t.rejects(db.query('INSERT INTO fitness_samples (user_id, source, external_id, metric, start_at, end_at, value, local_day) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', sample), { code: '23505' }, 'a sample id is stored once per user and source')
})
