import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../../helper.ts'
import { createCompetition, ledgerTotals, person, signIn, type Person, TEST_CONFIG } from './fixtures.ts'

const FEE = 100
const POOL = 10

// The production race (competitions-concurrency.test.ts) on what `npm start` runs on a bare
// machine: the embedded PostgreSQL behind the same pool, the in-process Redis stand-in.
test('50 concurrent joins on 10 places in embedded mode', async (t) => {
  const app = await build(t, {
    config: { ...TEST_CONFIG, DATABASE_URL: '', REDIS_URL: '', DATABASE_POOL_MAX: POOL, DATABASE_CONNECT_TIMEOUT_MS: 60_000 }
  })
  t.equal(app.postgresMode, 'embedded')
  const admin = await signIn(app, { admin: true })
  const people: Person[] = Array.from({ length: 50 }, () => person())
  for (const p of people) {
    await app.provisionUser({ id: p.id, email: null, displayName: null })
    await app.wallet.credit(p.id, { amount: 1000, currency: 'USD' }, { actorId: admin.id, idempotencyKey: randomUUID() })
  }
  const competition = await createCompetition(app, admin, { entryFee: FEE, maxParticipants: 10 })

  let busiest = 0
  app.pg.pool.on('acquire', () => { busiest = Math.max(busiest, app.pg.pool.totalCount - app.pg.pool.idleCount) })
  const responses = await Promise.all(people.map(async (p) =>
    await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: p.headers })))

  t.equal(responses.filter((r) => r.statusCode === 200).length, 10, 'exactly 10 joins succeed')
  const rejected = responses.filter((r) => r.statusCode !== 200)
  t.ok(rejected.every((r) => r.statusCode === 409 && r.json().code === 'CONFLICT' && r.json().message === 'Competition is full'),
    'the other 40 are told the competition is full')
  t.ok(busiest > 1, `the joins ran on several connections at once (${busiest} of ${POOL}), as in production`)

  const { rows: [counts] } = await app.pg.query(`SELECT
      (SELECT count(*)::int FROM participants WHERE competition_id = $1) AS participants,
      (SELECT participant_count FROM competitions WHERE id = $1) AS counter,
      (SELECT count(*)::int FROM ledger_transactions WHERE kind = 'entry_fee' AND competition_id = $1) AS fees,
      (SELECT balance::int FROM accounts WHERE kind = 'escrow' AND competition_id = $1) AS escrow`, [competition.id])
  t.same(counts, { participants: 10, counter: 10, fees: 10, escrow: 10 * FEE }, '10 members, 10 fees, escrow holds 10 fees')
  t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 }, 'the ledger sums to zero and no wallet is negative')
})
