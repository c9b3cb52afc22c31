import { randomUUID } from 'node:crypto'
import t from 'tap'
import { signIn } from '../competitions/fixtures.ts'
import { until } from '../webhooks/receiver.ts'
import { assertBooksBalance, deliverAll, eventsProcessed, paymentsRig, startDeposit } from './fixtures.ts'

t.test('reconciliation matches every gateway movement to the ledger and reports each difference', async (t) => {
  const { app, stripe, admin } = await paymentsRig(t)
  const user = await signIn(app)
  const today = new Date().toISOString().slice(0, 10)

  // A day of business: deposits, a partial refund, a dispute won, a withdrawal whose payout fails.
  const first = await startDeposit(app, user, 40000)
  const second = await startDeposit(app, user, 10000)
  await deliverAll(stripe, [await stripe.succeedPaymentIntent(first.paymentIntentId), await stripe.succeedPaymentIntent(second.paymentIntentId)])
  await deliverAll(stripe, [await stripe.refund(first.paymentIntentId, 1500)])
  const dispute = await stripe.createDispute(second.paymentIntentId)
  await deliverAll(stripe, [dispute])
  await eventsProcessed(app)
  await deliverAll(stripe, [await stripe.closeDispute((dispute.data.object as { id: string }).id, 'won')])
  const onboarding = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/payout-account`, headers: user.headers })
  await deliverAll(stripe, [await stripe.completeOnboarding(onboarding.json().stripeAccountId)])
  await eventsProcessed(app)
  const withdrawal = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/withdrawals`, headers: { ...user.headers, 'idempotency-key': randomUUID() }, payload: { amount: 5000, currency: 'USD' } })
  await until('payout sent', async () => stripe.payouts.size === 1 &&
    (await app.pg.query('SELECT status FROM withdrawals WHERE id = $1', [withdrawal.json().id])).rows[0].status === 'in_transit')
  await deliverAll(stripe, [await stripe.failPayout([...stripe.payouts.values()][0]!.id)])
  await eventsProcessed(app)

  const clean = await app.inject({ method: 'POST', url: '/api/v1/admin/payments/reconciliations', headers: admin.headers, payload: { day: today } })
  t.equal(clean.statusCode, 201)
  t.match(clean.json(), { day: today, differenceCount: 0, differences: [] }, 'the books agree with the gateway')
  t.ok(clean.json().gatewayCount >= 7, `${clean.json().gatewayCount} gateway movements compared`)

  // A movement at the gateway the ledger never saw, and a posting the gateway never made.
  const injected = stripe.injectBalanceTransaction({ type: 'adjustment', amount: -777, currency: 'usd', source: 'dp_unrecorded' })
  await app.pg.transact(async (tx) => {
    const external = await app.ledger.ensureAccount(tx, { kind: 'external', currency: 'USD' })
    const house = await app.ledger.ensureAccount(tx, { kind: 'house', currency: 'USD' })
    await app.ledger.transfer(tx, { idempotencyKey: 'ghost', kind: 'deposit', externalRef: 'ch_ghost', legs: [{ accountId: external, amount: -250 }, { accountId: house, amount: 250 }] })
  })
  const found = await app.inject({ method: 'POST', url: '/api/v1/admin/payments/reconciliations', headers: admin.headers, payload: { day: today } })
  t.same(found.json().differences, [
    { reference: 'ch_ghost', currency: 'USD', kind: 'missing_at_gateway', ledgerAmount: 250, gatewayAmount: null },
    { reference: 'dp_unrecorded', currency: 'USD', kind: 'missing_in_ledger', ledgerAmount: null, gatewayAmount: injected.amount }
  ], 'each difference, by gateway object')

  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /payments_reconciliation_differences 2/, 'the latest run\'s differences are a metric')
  const list = (await app.inject({ url: '/api/v1/admin/payments/reconciliations', headers: admin.headers })).json()
  t.same(list.items.map((r: { differenceCount: number }) => r.differenceCount), [2, 0], 'the admin sees every run, latest first')
  t.equal((await app.inject({ url: '/api/v1/admin/payments/reconciliations', headers: user.headers })).statusCode, 403)
  t.equal((await app.inject({ method: 'POST', url: '/api/v1/admin/payments/reconciliations', headers: admin.headers, payload: { day: 'yesterday' } })).statusCode, 400)
  for (const day of ['1999-12-31', '2100-01-01']) {
    const res = await app.inject({ method: 'POST', url: '/api/v1/admin/payments/reconciliations', headers: admin.headers, payload: { day } })
    t.equal(res.statusCode, 400, `a day out of bounds (${day}) is refused`)
  }
  const unknown = await app.inject({ method: 'POST', url: '/api/v1/admin/payments/reconciliations', headers: admin.headers, payload: { day: today, currency: 'USD' } })
  t.match(unknown.json(), { statusCode: 400, message: /currency/ }, 'an unknown field is named')
  await assertBooksBalance(t, app)
})
