import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { bearer } from '../../helper.ts'

// Shared set-up for the users and competitions tests: people, money and competitions,
// all made through the public API so the tests exercise what clients do.

// The sweeper is driven by hand (sweep(now)) and load shedding is off: these tests are
// about rules, and a busy test machine must not turn them into 503s.
export const TEST_CONFIG = { LIFECYCLE_JOBS: false, MAX_EVENT_LOOP_DELAY_MS: 0 }

export interface Person {
  id: string
  headers: { authorization: string }
}

export function person (opts: { admin?: boolean } = {}): Person {
  const id = randomUUID()
  return { id, headers: bearer({ sub: id, admin: opts.admin }) }
}

// A signed-in user with a users row (made by their first request).
export async function signIn (app: FastifyInstance, opts: { admin?: boolean } = {}): Promise<Person> {
  const p = person(opts)
  const res = await app.inject({ url: `/api/v1/users/${p.id}/profile`, headers: p.headers })
  if (res.statusCode !== 200) throw new Error(`sign-in failed: ${res.statusCode} ${res.body}`)
  return p
}

export async function credit (app: FastifyInstance, admin: Person, userId: string, amount: number, currency = 'USD'): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/admin/users/${userId}/credit`,
    headers: { ...admin.headers, 'idempotency-key': randomUUID() },
    payload: { amount, currency }
  })
  if (res.statusCode !== 201) throw new Error(`credit failed: ${res.statusCode} ${res.body}`)
}

export function hoursFromNow (hours: number, from = Date.now()): string {
  return new Date(from + hours * 3600_000).toISOString()
}

export async function createCompetition (app: FastifyInstance, admin: Person, overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/competitions',
    headers: admin.headers,
    payload: { name: 'Step challenge', metric: 'steps', startsAt: hoursFromNow(1), endsAt: hoursFromNow(25), ...overrides }
  })
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

// The books balance: every transaction sums to zero, so all accounts together do too, and
// each account's balance is the sum of its entries.
export async function ledgerTotals (app: FastifyInstance): Promise<{ entries: number, accounts: number, mismatched: number, negativeWallets: number }> {
  const { rows } = await app.pg.query(`SELECT
    (SELECT coalesce(sum(amount), 0) FROM ledger_entries)::bigint AS entries,
    (SELECT coalesce(sum(balance), 0) FROM accounts)::bigint AS accounts,
    (SELECT count(*) FROM accounts a WHERE a.balance <> (SELECT coalesce(sum(amount), 0) FROM ledger_entries e WHERE e.account_id = a.id))::int AS mismatched,
    (SELECT count(*) FROM accounts WHERE kind IN ('wallet', 'escrow') AND balance < 0)::int AS negative_wallets`)
  const r = rows[0]
  return { entries: Number(r.entries), accounts: Number(r.accounts), mismatched: r.mismatched, negativeWallets: r.negative_wallets }
}
