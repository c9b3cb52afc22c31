import { randomUUID } from 'node:crypto'
import { test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { bearer, build } from '../../helper.ts'
import { createCompetition, credit, signIn } from '../competitions/fixtures.ts'
import { LEADERBOARD_TEST_CONFIG, seedCompetition, seedParticipants, seedUsers, updateScore } from './fixtures.ts'

// Every ledger transaction sums to zero, so all entries and all balances do too.
async function books (app: FastifyInstance) {
  const { rows } = await app.pg.query(`SELECT
    (SELECT coalesce(sum(amount), 0) FROM ledger_entries)::bigint AS entries,
    (SELECT coalesce(sum(balance), 0) FROM accounts)::bigint AS balances,
    (SELECT count(*) FROM (SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING sum(amount) <> 0) x)::int AS unbalanced`)
  return { entries: Number(rows[0].entries), balances: Number(rows[0].balances), unbalanced: rows[0].unbalanced }
}

async function wallet (app: FastifyInstance, userId: string): Promise<number> {
  const { rows } = await app.pg.query('SELECT sum(balance)::text AS balance FROM accounts WHERE kind = \'wallet\' AND user_id = $1', [userId])
  return Number(rows[0]?.balance ?? 0)
}

test('a paid competition: pool, ties sharing places with an odd remainder, a flagged winner held out, paid once under concurrent calls', async (t) => {
  const a = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const b = await build(t, { config: LEADERBOARD_TEST_CONFIG, databaseUrl: a.config.DATABASE_URL, redisPrefix: a.config.REDIS_KEY_PREFIX })
  const boss = await signIn(a, { admin: true })
  const people = []
  for (let i = 0; i < 5; i++) people.push(await signIn(a))
  for (const p of people) await credit(a, boss, p.id, 5000)
  const competition = await createCompetition(a, boss, {
    name: 'Paid race', metric: 'custom', entryFee: 1000, houseShareBps: 1000, sponsorPrize: 506, prizeSplit: { type: 'percent', places: [50, 30, 20] }
  })
  const competitionId: string = competition.id
  for (const p of people) {
    const joined = await a.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/join`, headers: p.headers })
    t.equal(joined.statusCode, 200, 'joined, paying the fee')
  }
  await a.lifecycle.sweep(new Date(Date.now() + 2 * 3600_000))
  const [cheat, first, second, third, fourth] = people.map((p) => p.id)
  // first and second tie at 900 (first got there first); cheat is ahead but flagged.
  for (const [userId, value] of [[cheat, 2000], [first, 900], [second, 900], [third, 700], [fourth, 100]] as const) {
    t.equal((await updateScore(a, { competitionId, userId: userId!, value })).statusCode, 200)
  }
  await a.pg.query('UPDATE participants SET flagged = true WHERE competition_id = $1 AND user_id = $2', [competitionId, cheat])

  const preview = await a.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${competitionId}`, headers: people[3]!.headers })
  t.equal(preview.statusCode, 200)
  // Fees 5 x 1000 = 5000, house 10% = 500, sponsor 506: pool 5006. 50/30/20 = 2503, 1501.8, 1001.2,
  // the odd unit to place 1: 2504, 1501, 1001. The tie shares places 1 and 2: 4005 = 2003 + 2002.
  t.match(preview.json(), {
    competitionId,
    status: 'active',
    currency: 'USD',
    escrow: 5000,
    houseShareBps: 1000,
    houseShare: 500,
    sponsorPrize: 506,
    pool: 5006,
    places: [{ place: 1, amount: 2504 }, { place: 2, amount: 1501 }, { place: 3, amount: 1001 }],
    unallocated: 0,
    distributed: false,
    distributedAt: null,
    transactionId: null
  })
  t.same(preview.json().winners.map((w: any) => [w.userId, w.rank, w.position, w.score, w.amount]), [
    [first, 1, 1, 900, 2003], [second, 1, 2, 900, 2002], [third, 3, 3, 700, 1001]
  ])
  t.same(preview.json().heldOut.map((h: any) => [h.userId, h.score, h.reason]), [[cheat, 2000, 'flagged']])

  const early = await a.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${competitionId}`, headers: boss.headers })
  t.equal(early.statusCode, 409, 'not before the competition is final')
  const byUser = await a.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${competitionId}`, headers: people[0]!.headers })
  t.equal(byUser.statusCode, 403)

  for (let i = 0; i < 2; i++) {
    t.equal((await a.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/end-early`, headers: boss.headers })).statusCode, 200)
  }
  const before = await Promise.all(people.map(async (p) => await wallet(a, p.id)))
  t.same(before, [4000, 4000, 4000, 4000, 4000], 'each paid the fee')

  // Two instances, at once.
  const [one, two] = await Promise.all([a, b].map(async (app) => await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${competitionId}`, headers: boss.headers })))
  t.same([one!.statusCode, two!.statusCode], [200, 200])
  t.same(one!.json(), two!.json(), 'both answers are the same result')
  t.same([one!.headers['idempotent-replayed'], two!.headers['idempotent-replayed']].sort(), ['false', 'true'], 'one paid, the other replayed')
  const paid = one!.json()
  t.match(paid, { status: 'paid', distributed: true, pool: 5006, unallocated: 0 })
  t.type(paid.transactionId, 'number')
  t.same(paid.winners.map((w: any) => w.amount), [2003, 2002, 1001])

  t.same(await Promise.all(people.map(async (p) => await wallet(a, p.id))), [4000, 6003, 6002, 5001, 4000], 'paid exactly once')
  const { rows: txs } = await a.pg.query('SELECT kind, count(*)::int AS n FROM ledger_transactions WHERE competition_id = $1 GROUP BY kind ORDER BY kind', [competitionId])
  t.same(txs, [{ kind: 'entry_fee', n: 5 }, { kind: 'house_fee', n: 1 }, { kind: 'prize', n: 1 }])
  const { rows: accounts } = await a.pg.query('SELECT kind, balance::text FROM accounts WHERE kind IN (\'escrow\', \'house\', \'external\') AND (competition_id = $1 OR competition_id IS NULL) ORDER BY kind', [competitionId])
  t.same(accounts.map((r) => [r.kind, Number(r.balance)]).filter(([kind]) => kind !== 'external'), [['escrow', 0], ['house', 500]])
  t.same(await books(a), { entries: 0, balances: 0, unbalanced: 0 }, 'the ledger sums to zero')

  const { rows: payouts } = await a.pg.query('SELECT user_id, place, amount::int FROM prize_payouts WHERE competition_id = $1 ORDER BY amount DESC', [competitionId])
  t.same(payouts, [{ user_id: first, place: 1, amount: 2003 }, { user_id: second, place: 1, amount: 2002 }, { user_id: third, place: 3, amount: 1001 }])
  const { rows: feed } = await a.pg.query('SELECT user_id, data FROM activity WHERE kind = \'prize\' AND competition_id = $1 ORDER BY user_id', [competitionId])
  t.equal(feed.length, 3, 'winners see the prize in their feed')
  const status = await a.inject({ url: `/api/v1/competitions/${competitionId}`, headers: boss.headers })
  t.equal(status.json().status, 'paid')

  const again = await a.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${competitionId}`, headers: boss.headers })
  t.same(again.json(), paid, 'a later call returns the same result')
  const calculated = await a.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${competitionId}`, headers: people[1]!.headers })
  t.same(calculated.json(), paid, 'the table that was paid')
  // Counted by the instance that paid.
  const payer = one!.headers['idempotent-replayed'] === 'false' ? a : b
  const metrics = await payer.inject({ url: '/metrics' })
  t.match(metrics.body, /prize_payouts_total\{currency="USD"\} 3/)
  t.match(metrics.body, /prize_paid_minor_units_total\{currency="USD"\} 5006/)
})

test('no winners and a fixed split: unclaimed money goes to the house, the books still balance', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const competitionId = await seedCompetition(app, { status: 'final', sponsorPrize: 1500, prizeSplit: { type: 'fixed', amounts: [1000, 400, 300] } })
  const [only] = await seedUsers(app, 1)
  await seedParticipants(app, competitionId, [only!])
  await app.pg.query('UPDATE participants SET score = 10 WHERE competition_id = $1', [competitionId])
  const res = await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${competitionId}`, headers: bearer({ sub: randomUUID(), service: true }) })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { pool: 1500, places: [{ amount: 1000 }, { amount: 400 }, { amount: 100 }], unallocated: 500, winners: [{ userId: only, amount: 1000 }] })
  t.same(await books(app), { entries: 0, balances: 0, unbalanced: 0 })
  t.equal(await wallet(app, only!), 1000)

  const empty = await seedCompetition(app, { status: 'final', sponsorPrize: 0 })
  const none = await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${empty}`, headers: bearer({ sub: randomUUID(), admin: true }) })
  t.match(none.json(), { pool: 0, winners: [], heldOut: [], unallocated: 0, status: 'paid' })
})

test('bad inputs: unknown competition 404, private competitions hidden, invalid ids 400', async (t) => {
  const app = await build(t, { config: LEADERBOARD_TEST_CONFIG })
  const user = bearer({ sub: randomUUID() })
  const boss = bearer({ sub: randomUUID(), admin: true })
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${randomUUID()}`, headers: user })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${randomUUID()}`, headers: boss })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/prizes/calculate/xyz', headers: user })).statusCode, 400)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${randomUUID()}` })).statusCode, 401)
  const hidden = await seedCompetition(app, { visibility: 'private' })
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${hidden}`, headers: user })).statusCode, 404)
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/prizes/calculate/${hidden}`, headers: boss })).statusCode, 200)
  const cancelled = await seedCompetition(app, { status: 'cancelled' })
  const res = await app.inject({ method: 'POST', url: `/api/v1/prizes/distribute/${cancelled}`, headers: boss })
  t.equal(res.statusCode, 409)
  t.match(res.json(), { code: 'CONFLICT', message: /final; it is cancelled/ })
})
