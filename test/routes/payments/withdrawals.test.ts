import { randomUUID } from 'node:crypto'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { credit, signIn, type Person } from '../competitions/fixtures.ts'
import { until } from '../webhooks/receiver.ts'
import type { FakeStripe } from '../../fakes/stripe.ts'
import { assertBooksBalance, deliverAll, eventsProcessed, paymentsRig, startDeposit, wallet } from './fixtures.ts'

async function deposited (app: FastifyInstance, stripe: FakeStripe, user: Person, amount: number): Promise<void> {
  const deposit = await startDeposit(app, user, amount)
  await deliverAll(stripe, [await stripe.succeedPaymentIntent(deposit.paymentIntentId)])
  await eventsProcessed(app)
}

async function onboarded (app: FastifyInstance, stripe: FakeStripe, user: Person): Promise<string> {
  const res = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/payout-account`, headers: user.headers })
  if (res.statusCode !== 201) throw new Error(`onboarding failed: ${res.statusCode} ${res.body}`)
  const { stripeAccountId } = res.json()
  await deliverAll(stripe, [await stripe.completeOnboarding(stripeAccountId)])
  await eventsProcessed(app)
  return stripeAccountId
}

async function withdraw (app: FastifyInstance, user: Person, amount: number, key = randomUUID()) {
  return await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/withdrawals`, headers: { ...user.headers, 'idempotency-key': key }, payload: { amount, currency: 'USD' } })
}

async function withdrawal (app: FastifyInstance, user: Person, id: string): Promise<Record<string, any>> {
  return (await app.inject({ url: `/api/v1/users/${user.id}/withdrawals/${id}`, headers: user.headers })).json()
}

async function settled (app: FastifyInstance, user: Person, id: string, statuses: string[]): Promise<Record<string, any>> {
  await until(`withdrawal ${statuses.join(' or ')}`, async () => statuses.includes((await withdrawal(app, user, id)).status))
  return await withdrawal(app, user, id)
}

t.test('a payout account is onboarded on Stripe\'s pages; its status follows account.updated', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)
  t.equal((await app.inject({ url: `/api/v1/users/${user.id}/payout-account`, headers: user.headers })).statusCode, 404)
  const started = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/payout-account`, headers: user.headers })
  t.match(started.json(), { status: 'onboarding', payoutsEnabled: false, onboardingUrl: /\/connect\/onboarding\/acct_/ })
  const again = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/payout-account`, headers: user.headers })
  t.equal(again.json().stripeAccountId, started.json().stripeAccountId, 'one account per user')
  t.equal(stripe.accounts.size, 1)
  await deliverAll(stripe, [await stripe.completeOnboarding(started.json().stripeAccountId)])
  await eventsProcessed(app)
  t.match((await app.inject({ url: `/api/v1/users/${user.id}/payout-account`, headers: user.headers })).json(), { status: 'active', payoutsEnabled: true, requirements: [] })
  await assertBooksBalance(t, app)
})

t.test('a withdrawal reserves at once, transfers and pays out; a failed payout is reversed exactly once', async (t) => {
  const { app, stripe, admin } = await paymentsRig(t)
  const user = await signIn(app)
  t.equal((await withdraw(app, user, 1000)).statusCode, 409, 'no payout account yet')
  const account = await onboarded(app, stripe, user)
  await credit(app, admin, user.id, 5000)
  t.equal((await withdraw(app, user, 1000)).json().code, 'INSUFFICIENT_FUNDS', 'promotional credit is never withdrawn')
  await deposited(app, stripe, user, 20000)

  const first = await withdraw(app, user, 6000)
  t.equal(first.statusCode, 201)
  t.match(first.json(), { status: 'processing', amount: 6000 })
  const done = await settled(app, user, first.json().id, ['in_transit'])
  t.equal(done.status, 'in_transit')
  t.match(await wallet(app, user), { deposits: 14000, pendingWithdrawal: 0, promo: 5000 })
  const payout = [...stripe.payouts.values()][0]!
  t.match(payout, { amount: 6000, currency: 'usd' })
  t.equal(stripe.requests.find((r) => r.path === '/v1/payouts')?.stripeAccount, account, 'paid out from the user\'s connected account')
  await deliverAll(stripe, [await stripe.payPayout(payout.id)])
  await eventsProcessed(app)
  t.equal((await withdrawal(app, user, first.json().id)).status, 'paid')

  const second = await withdraw(app, user, 4000)
  await settled(app, user, second.json().id, ['in_transit'])
  const secondPayout = [...stripe.payouts.values()].find((p) => p.amount === 4000)!
  const failed = await stripe.failPayout(secondPayout.id)
  await deliverAll(stripe, [failed, failed, failed])
  await eventsProcessed(app)
  await deliverAll(stripe, [failed])
  await eventsProcessed(app)
  const after = await withdrawal(app, user, second.json().id)
  t.match(after, { status: 'failed', failureCode: 'account_closed' })
  t.match(await wallet(app, user), { deposits: 14000, pendingWithdrawal: 0 }, 'the money is back, once')
  const transfer = [...stripe.transfers.values()].find((tr) => tr.amount === 4000)!
  t.equal(transfer.amount_reversed, 4000, 'the transfer was reversed once at the gateway')
  const { rows } = await app.pg.query("SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = 'withdrawal_reversal'")
  t.equal(rows[0].n, 1)
  const events = await app.pg.query('SELECT type, payload FROM domain_events WHERE type LIKE \'withdrawal.%\' ORDER BY seq')
  t.same(events.rows, [
    { type: 'withdrawal.paid', payload: { withdrawalId: first.json().id, userId: user.id, amount: 6000, currency: 'USD' } },
    { type: 'withdrawal.failed', payload: { withdrawalId: second.json().id, userId: user.id, amount: 4000, currency: 'USD', status: 'failed', reason: 'account_closed' } }
  ], 'each outcome is one event (the user is told once)')
  await assertBooksBalance(t, app)
})

t.test('a transfer the gateway refuses is reversed from the pending account', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)
  await onboarded(app, stripe, user)
  await deposited(app, stripe, user, 10000)
  // The platform's Stripe balance is drained elsewhere: the transfer is refused.
  stripe.injectBalanceTransaction({ type: 'adjustment', amount: -stripe.availableBalance('usd'), currency: 'usd' })
  const res = await withdraw(app, user, 5000)
  const failed = await settled(app, user, res.json().id, ['failed'])
  t.match(failed, { status: 'failed', failureCode: 'balance_insufficient' })
  t.match(await wallet(app, user), { deposits: 10000, pendingWithdrawal: 0 })
  await assertBooksBalance(t, app)
})

t.test('limits, review above the threshold, no double spend, and debt blocks withdrawals', async (t) => {
  const limits = { depositMin: 500, depositMax: 50000, depositDailyMax: 200000, withdrawalMin: 1000, withdrawalMax: 80000, withdrawalDailyMax: 90000, reviewAbove: 40000 }
  const { app, stripe, admin } = await paymentsRig(t, { PAYMENTS_LIMITS: JSON.stringify({ USD: limits }) })
  const user = await signIn(app)
  await onboarded(app, stripe, user)
  await deposited(app, stripe, user, 50000)
  await deposited(app, stripe, user, 50000)
  t.equal((await withdraw(app, user, 500)).json().code, 'LIMIT_EXCEEDED', 'below the minimum')
  t.equal((await withdraw(app, user, 90000)).json().code, 'LIMIT_EXCEEDED', 'above the maximum')

  const key = randomUUID()
  const [a, b] = await Promise.all([withdraw(app, user, 60000, key), withdraw(app, user, 60000, key)])
  t.same([a.statusCode, b.statusCode], [201, 201])
  t.equal(a.json().id, b.json().id, 'one withdrawal per Idempotency-Key')
  t.equal(a.json().status, 'review', 'above the review threshold it waits for an admin')
  t.match(await wallet(app, user), { deposits: 40000, pendingWithdrawal: 60000 }, 'reserved at once')
  t.equal((await withdraw(app, user, 50000)).json().code, 'INSUFFICIENT_FUNDS', 'reserved money cannot be withdrawn twice')

  const queue = (await app.inject({ url: '/api/v1/admin/payments/withdrawals?status=review', headers: admin.headers })).json()
  t.same(queue.items.map((w: { id: string }) => w.id), [a.json().id])
  t.equal((await app.inject({ url: '/api/v1/admin/payments/withdrawals', headers: user.headers })).statusCode, 403)
  const rejected = await app.inject({ method: 'POST', url: `/api/v1/admin/payments/withdrawals/${a.json().id}/reject`, headers: admin.headers })
  t.equal(rejected.json().status, 'rejected')
  t.equal((await app.inject({ method: 'POST', url: `/api/v1/admin/payments/withdrawals/${a.json().id}/approve`, headers: admin.headers })).statusCode, 409, 'decided once')
  t.match(await wallet(app, user), { deposits: 100000, pendingWithdrawal: 0 }, 'a rejection returns the money')

  const big = await withdraw(app, user, 70000)
  t.equal(big.json().status, 'review')
  const approved = await app.inject({ method: 'POST', url: `/api/v1/admin/payments/withdrawals/${big.json().id}/approve`, headers: admin.headers })
  t.equal(approved.json().status, 'processing')
  await settled(app, user, big.json().id, ['in_transit'])
  const daily = await withdraw(app, user, 30000)
  t.match(daily.json(), { code: 'LIMIT_EXCEEDED', message: /24 hours/ }, 'the 24-hour total counts withdrawals not failed or rejected')

  // A refund the wallet cannot cover leaves a debt: no withdrawals until it is paid.
  const debtor = await signIn(app)
  await onboarded(app, stripe, debtor)
  const deposit = await startDeposit(app, debtor, 3000)
  await deliverAll(stripe, [await stripe.succeedPaymentIntent(deposit.paymentIntentId)])
  await eventsProcessed(app)
  const pending = await withdraw(app, debtor, 2500)
  await settled(app, debtor, pending.json().id, ['in_transit'])
  await deliverAll(stripe, [await stripe.refund(deposit.paymentIntentId)])
  await eventsProcessed(app)
  t.match(await wallet(app, debtor), { deposits: 0, debt: 2500 })
  t.equal((await withdraw(app, debtor, 1000)).json().code, 'OUTSTANDING_DEBT')
  await assertBooksBalance(t, app)
})
