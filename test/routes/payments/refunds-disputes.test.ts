import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { createCompetition, credit, signIn, type Person } from '../competitions/fixtures.ts'
import { assertBooksBalance, deliverAll, eventsProcessed, paymentsRig, startDeposit, wallet } from './fixtures.ts'
import type { FakeStripe } from '../../fakes/stripe.ts'

async function deposited (app: FastifyInstance, stripe: FakeStripe, user: Person, amount: number): Promise<string> {
  const deposit = await startDeposit(app, user, amount)
  await deliverAll(stripe, [await stripe.succeedPaymentIntent(deposit.paymentIntentId)])
  await eventsProcessed(app)
  return deposit.paymentIntentId
}

async function joinPaid (app: FastifyInstance, admin: Person, user: Person, fee: number): Promise<string> {
  const competition = await createCompetition(app, admin, { entryFee: fee, currency: 'USD' })
  const res = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competition.id}/join`, headers: { ...user.headers, 'idempotency-key': randomUUID() } })
  if (res.statusCode !== 201 && res.statusCode !== 200) throw new Error(`join failed: ${res.statusCode} ${res.body}`)
  return competition.id
}

t.test('entry fees spend promotional credit, then deposits, then winnings; only deposits and winnings are withdrawable', async (t) => {
  const { app, stripe, admin } = await paymentsRig(t)
  const user = await signIn(app)
  await credit(app, admin, user.id, 300)
  await deposited(app, stripe, user, 1000)
  t.match(await wallet(app, user), { promo: 300, deposits: 1000, total: 1300, withdrawable: 1000 })
  const competitionId = await joinPaid(app, admin, user, 500)
  t.match(await wallet(app, user), { promo: 0, deposits: 800, total: 800, withdrawable: 800 }, 'the fee took the promo credit first')
  const left = await app.inject({ method: 'POST', url: `/api/v1/competitions/${competitionId}/leave`, headers: { ...user.headers, 'idempotency-key': randomUUID() } })
  t.equal(left.statusCode, 200)
  t.match(await wallet(app, user), { promo: 300, deposits: 1000, withdrawable: 1000 }, 'leaving refunds each part to the pocket it came from')
  const summary = (await app.inject({ url: `/api/v1/users/${user.id}/wallet`, headers: user.headers })).json()
  t.same(summary.spendingOrder, ['promo', 'deposits', 'winnings'])
  await assertBooksBalance(t, app)
})

t.test('a refunded deposit debits the wallet once, even when the refund arrives before the success', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)
  const deposit = await startDeposit(app, user, 2000)
  const success = await stripe.succeedPaymentIntent(deposit.paymentIntentId)
  const refund = await stripe.refund(deposit.paymentIntentId, 500)
  // Reordered: the refund is delivered (and processed) before the success.
  await deliverAll(stripe, [refund])
  await eventsProcessed(app, 1)
  t.match(await wallet(app, user), { deposits: 1500 }, 'credited from the gateway\'s state, then refunded')
  await deliverAll(stripe, [success, refund, success, refund])
  await eventsProcessed(app, 2)
  t.match(await wallet(app, user), { deposits: 1500, debt: 0 }, 'each only once')
  const second = await stripe.refund(deposit.paymentIntentId, 300)
  await deliverAll(stripe, [second, second])
  await eventsProcessed(app, 3)
  t.match(await wallet(app, user), { deposits: 1200 })
  const got = (await app.inject({ url: `/api/v1/users/${user.id}/deposits/${deposit.id}`, headers: user.headers })).json()
  t.equal(got.refundedAmount, 800)
  const { rows } = await app.pg.query("SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = 'deposit_refund'")
  t.equal(rows[0].n, 2, 'one ledger transaction per refund')
  await assertBooksBalance(t, app)
})

t.test('a refund the wallet cannot cover is held as debt and paid off by the next deposits', async (t) => {
  const { app, stripe, admin } = await paymentsRig(t)
  const user = await signIn(app)
  const intent = await deposited(app, stripe, user, 2000)
  await joinPaid(app, admin, user, 1500)
  await deliverAll(stripe, [await stripe.refund(intent)])
  await eventsProcessed(app)
  t.match(await wallet(app, user), { deposits: 0, total: 0, debt: 1500, withdrawable: 0 }, 'never a negative balance')
  await deposited(app, stripe, user, 1000)
  t.match(await wallet(app, user), { deposits: 0, debt: 500 }, 'a deposit pays off the debt first')
  await deposited(app, stripe, user, 1000)
  t.match(await wallet(app, user), { deposits: 500, debt: 0, withdrawable: 500 })
  await assertBooksBalance(t, app)
})

t.test('disputes freeze the amount; a lost dispute with too little in the wallet is held as debt; a won one releases it', async (t) => {
  const { app, stripe, admin } = await paymentsRig(t)
  const user = await signIn(app)
  const intent = await deposited(app, stripe, user, 5000)
  await joinPaid(app, admin, user, 4000)
  t.match(await wallet(app, user), { deposits: 1000 })

  const opened = await stripe.createDispute(intent)
  await deliverAll(stripe, [opened, opened])
  await eventsProcessed(app)
  t.match(await wallet(app, user), { deposits: 0, frozen: 1000, debt: 0, withdrawable: 0 }, 'what the wallet holds is frozen')
  const disputeId = (opened.data.object as { id: string }).id
  const lost = await stripe.closeDispute(disputeId, 'lost')
  await deliverAll(stripe, [lost, lost, opened])
  await eventsProcessed(app)
  t.match(await wallet(app, user), { deposits: 0, frozen: 0, debt: 4000, total: 0 }, 'the rest is held as debt, never a negative balance')
  const { rows } = await app.pg.query("SELECT count(*)::int AS n FROM ledger_transactions WHERE kind IN ('dispute_opened', 'dispute_lost')")
  t.equal(rows[0].n, 2, 'opened and lost once each')

  const other = await signIn(app)
  const otherIntent = await deposited(app, stripe, other, 3000)
  const otherOpened = await stripe.createDispute(otherIntent)
  await deliverAll(stripe, [otherOpened])
  await eventsProcessed(app)
  t.match(await wallet(app, other), { deposits: 0, frozen: 3000 })
  await deliverAll(stripe, [await stripe.closeDispute((otherOpened.data.object as { id: string }).id, 'won')])
  await eventsProcessed(app)
  t.match(await wallet(app, other), { deposits: 3000, frozen: 0, debt: 0 }, 'a won dispute gives the money back to its pocket')
  await assertBooksBalance(t, app)
})
