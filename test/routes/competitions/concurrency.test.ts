import { test } from 'tap'
import { randomUUID } from 'node:crypto'
import { build } from '../../helper.ts'
import { createCompetition, ledgerTotals, person, signIn, type Person, TEST_CONFIG } from './fixtures.ts'

const FEE = 100
const START_BALANCE = 1000

test('200 concurrent joins on 50 places', async (t) => {
  // A small pool and a long wait for a connection: requests queue for Postgres, as under load.
  const app = await build(t, { config: { ...TEST_CONFIG, DATABASE_POOL_MAX: 10, DATABASE_CONNECT_TIMEOUT_MS: 60_000 } })
  const admin = await signIn(app, { admin: true })
  const people: Person[] = Array.from({ length: 200 }, () => person())
  // Ten of them cannot afford the fee: they must be refused without a wallet going negative.
  const broke = new Set(people.slice(0, 10).map((p) => p.id))
  for (const p of people) {
    await app.provisionUser({ id: p.id, email: null, displayName: null })
    if (!broke.has(p.id)) await app.wallet.credit(p.id, { amount: START_BALANCE, currency: 'USD' }, { actorId: admin.id, idempotencyKey: randomUUID() })
  }
  const competition = await createCompetition(app, admin, { entryFee: FEE, maxParticipants: 50 })

  const responses = await Promise.all(people.map(async (p) => ({
    person: p,
    res: await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: p.headers })
  })))

  const accepted = responses.filter((r) => r.res.statusCode === 200)
  const rejected = responses.filter((r) => r.res.statusCode !== 200)
  t.equal(accepted.length, 50, 'exactly 50 joins succeed')
  t.equal(rejected.length, 150)
  t.ok(rejected.every((r) => r.res.statusCode === 409), 'every other caller gets 409')
  const reasons = new Map<string, number>()
  for (const { res } of rejected) {
    const body = res.json()
    const clear = body.statusCode === 409 && body.error === 'Conflict' && typeof body.requestId === 'string' &&
      ((body.code === 'CONFLICT' && body.message === 'Competition is full') || (body.code === 'INSUFFICIENT_FUNDS' && /Insufficient funds/.test(body.message)))
    if (!clear) t.fail(`unclear rejection: ${res.body}`)
    reasons.set(body.code, (reasons.get(body.code) ?? 0) + 1)
  }
  t.ok((reasons.get('CONFLICT') ?? 0) >= 140, `at least 140 told the competition is full (${reasons.get('CONFLICT')})`)
  t.ok(accepted.every((r) => !broke.has(r.person.id)), 'nobody joined without paying')

  const { rows: [counts] } = await app.pg.query(`SELECT
      (SELECT count(*)::int FROM participants WHERE competition_id = $1) AS participants,
      (SELECT participant_count FROM competitions WHERE id = $1) AS counter,
      (SELECT count(*)::int FROM ledger_transactions WHERE kind = 'entry_fee' AND competition_id = $1) AS fees,
      (SELECT balance::int FROM accounts WHERE kind = 'escrow' AND competition_id = $1) AS escrow`, [competition.id])
  t.same(counts, { participants: 50, counter: 50, fees: 50, escrow: 50 * FEE }, '50 participants, 50 fees, escrow holds 50 fees')

  const { rows: wallets } = await app.pg.query('SELECT user_id, sum(balance)::int AS balance FROM accounts WHERE kind = \'wallet\' GROUP BY user_id')
  const balanceOf = new Map(wallets.map((w) => [w.user_id, w.balance]))
  for (const { person: p, res } of responses) {
    const expected = broke.has(p.id) ? 0 : res.statusCode === 200 ? START_BALANCE - FEE : START_BALANCE
    if ((balanceOf.get(p.id) ?? 0) !== expected) t.fail(`wallet of ${p.id} is ${balanceOf.get(p.id)}, expected ${expected}`)
  }
  t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 }, 'the ledger sums to zero and no wallet is negative')

  const listed = await app.inject({ url: `/api/v1/competitions/${competition.id}`, headers: admin.headers })
  t.match(listed.json(), { participantCount: 50, joinable: false, prizePool: 50 * FEE })
})

test('the same user joining many times at once pays once and gets one answer', async (t) => {
  const app = await build(t, { config: { ...TEST_CONFIG, DATABASE_CONNECT_TIMEOUT_MS: 60_000 } })
  const admin = await signIn(app, { admin: true })
  const user = await signIn(app)
  await app.wallet.credit(user.id, { amount: 500, currency: 'USD' }, { actorId: admin.id, idempotencyKey: randomUUID() })
  const competition = await createCompetition(app, admin, { entryFee: FEE, maxParticipants: 5 })
  const responses = await Promise.all(Array.from({ length: 20 }, async () =>
    await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: user.headers })))
  t.same([...new Set(responses.map((r) => r.statusCode))], [200])
  t.equal(new Set(responses.map((r) => r.body)).size, 1, 'the same membership every time')
  const { rows } = await app.pg.query('SELECT sum(balance)::int AS balance FROM accounts WHERE kind = \'wallet\' AND user_id = $1', [user.id])
  t.same(rows, [{ balance: 500 - FEE }], 'charged once')
  const { rows: [c] } = await app.pg.query('SELECT participant_count FROM competitions WHERE id = $1', [competition.id])
  t.equal(c.participant_count, 1)
})
