import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { bearer, build } from '../helper.ts'

// On Supabase the Data API serves the public schema to the anon and authenticated roles, and the
// project grants them every table there. Nothing of the service may be reachable that way:
// every table in public has row level security (Supabase's linter rule rls_disabled_in_public)
// with no policy for those roles, and no view in public reads around it.

const API_ROLES = ['anon', 'authenticated']

test('no table of the service is reachable through an exposed schema', async (t) => {
  const app = await build(t)
  // Rows in the most private tables: a user, their wallet (through a credit) and the ledger.
  const userId = randomUUID()
  const admin = bearer({ sub: randomUUID(), admin: true })
  t.equal((await app.inject({ url: `/api/v1/users/${userId}/profile`, headers: bearer({ sub: userId }) })).statusCode, 200)
  const credit = await app.inject({
    method: 'POST', url: `/api/v1/admin/users/${userId}/credit`, headers: { ...admin, 'idempotency-key': randomUUID() }, payload: { amount: 500, currency: 'USD' }
  })
  t.equal(credit.statusCode, 201)

  const { rows: open } = await app.pg.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relrowsecurity ORDER BY 1`)
  t.same(open.map((r) => r.relname), [], 'every table in public has row level security')
  const { rows: policies } = await app.pg.query('SELECT tablename, policyname FROM pg_policies WHERE schemaname = \'public\'')
  t.same(policies, [], 'and no policy lets anyone through')
  const { rows: views } = await app.pg.query(`SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')`)
  t.same(views, [], 'no view that would read with its owner\'s rights')

  // As Supabase sets a project up: the API roles exist and hold every privilege on public.
  for (const role of API_ROLES) {
    await app.pg.query(`DO $$ BEGIN CREATE ROLE ${role} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`)
    await app.pg.query(`GRANT USAGE ON SCHEMA public TO ${role}; GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`)
  }
  const { rows: tables } = await app.pg.query(`SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 1`)
  t.ok(tables.length > 30, `${tables.length} tables checked`)
  const client = await app.pg.connect()
  try {
    for (const role of API_ROLES) {
      await client.query('BEGIN')
      await client.query(`SET LOCAL ROLE ${role}`)
      const seen: string[] = []
      for (const { name } of tables) {
        const { rows: [row] } = await client.query(`SELECT count(*)::int AS n FROM ${name}`)
        if (row.n > 0) seen.push(`${name} (${row.n})`)
      }
      t.same(seen, [], `${role} reads no row of any table`)
      await client.query('SAVEPOINT write')
      await t.rejects(client.query('INSERT INTO users (id, display_name) VALUES ($1, $2)', [randomUUID(), 'intruder']), /row-level security/, `${role} writes nothing`)
      await client.query('ROLLBACK TO SAVEPOINT write')
      const { rowCount } = await client.query('UPDATE accounts SET balance = balance + 1000000')
      t.equal(rowCount, 0, `${role} changes no balance`)
      await client.query('ROLLBACK')
    }
  } finally {
    client.release()
  }
  const { rows: [wallet] } = await app.pg.query('SELECT sum(balance)::int AS total FROM accounts WHERE user_id = $1', [userId])
  t.equal(wallet.total, 500, 'the service still reads its own tables')
})
