import { randomUUID } from 'node:crypto'
import t from 'tap'
import { build } from '../../helper.ts'
import { startFakeStripe } from '../../fakes/stripe.ts'
import { signIn, TEST_CONFIG } from '../competitions/fixtures.ts'
import { assertBooksBalance, deliverAll, eventsProcessed, paymentsRig, startDeposit, wallet } from './fixtures.ts'

t.test('without Stripe keys the payment routes answer 503 PAYMENTS_DISABLED and the rest works', async (t) => {
  const app = await build(t, { config: TEST_CONFIG })
  const user = await signIn(app)
  const deposit = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/deposits`, headers: { ...user.headers, 'idempotency-key': 'k1' }, payload: { amount: 1000, currency: 'USD' } })
  t.equal(deposit.statusCode, 503)
  t.equal(deposit.json().code, 'PAYMENTS_DISABLED')
  const webhook = await app.inject({ method: 'POST', url: '/api/v1/payments/stripe/webhook', payload: {} })
  t.equal(webhook.json().code, 'PAYMENTS_DISABLED')
  const wallet = await app.inject({ url: `/api/v1/users/${user.id}/wallet`, headers: user.headers })
  t.equal(wallet.statusCode, 200, 'the wallet still answers')
})

t.test('deposits', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)

  await t.test('a started deposit is pending with what the app needs to confirm it, and is idempotent', async (t) => {
    const headers = { ...user.headers, 'idempotency-key': randomUUID() }
    const first = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/deposits`, headers, payload: { amount: 2500, currency: 'USD' } })
    t.equal(first.statusCode, 201)
    const body = first.json()
    t.match(body, { status: 'pending', amount: 2500, currency: 'USD', publishableKey: 'pk_test_fake', paymentIntentId: /^pi_/, clientSecret: /^pi_.+_secret_/ })
    t.equal(stripe.paymentIntents.get(body.paymentIntentId)?.amount, 2500)
    const again = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/deposits`, headers, payload: { amount: 2500, currency: 'USD' } })
    t.equal(again.headers['idempotent-replayed'], 'true')
    t.same(again.json(), body, 'a retry gets the same deposit')
    t.equal(stripe.paymentIntents.size, 1, 'and makes no second payment intent')
    t.equal((await wallet(app, user)).total, 0, 'nothing is credited before the gateway confirms')
    const got = await app.inject({ url: `/api/v1/users/${user.id}/deposits/${body.id}`, headers: user.headers })
    t.equal(got.json().status, 'pending')
  })

  await t.test('input is refused, never guessed', async (t) => {
    const post = async (payload: unknown, userId = user.id) => await app.inject({ method: 'POST', url: `/api/v1/users/${userId}/deposits`, headers: { ...user.headers, 'idempotency-key': randomUUID() }, payload: payload as object })
    t.equal((await post({ amount: 100, currency: 'USD' })).json().code, 'LIMIT_EXCEEDED', 'below the minimum')
    t.equal((await post({ amount: 60000, currency: 'USD' })).json().code, 'LIMIT_EXCEEDED', 'above the maximum')
    t.equal((await post({ amount: 1000, currency: 'CHF' })).statusCode, 400, 'a currency not accepted')
    t.equal((await post({ amount: '1000', currency: 'USD' })).statusCode, 400, 'a string amount')
    const unknown = await post({ amount: 1000, currency: 'USD', tip: 5 })
    t.equal(unknown.statusCode, 400)
    t.match(unknown.json().message, /tip/, 'an unknown field is named')
    t.equal((await post({ amount: 1000, currency: 'USD' }, randomUUID())).statusCode, 403, 'only into one\'s own wallet')
    const noKey = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/deposits`, headers: user.headers, payload: { amount: 1000, currency: 'USD' } })
    t.equal(noKey.statusCode, 400, 'an Idempotency-Key is required')
    await assertBooksBalance(t, app)
  })

  await t.test('the daily limit counts deposits that have not failed', async (t) => {
    const other = await signIn(app)
    for (let i = 0; i < 2; i++) await startDeposit(app, other, 50000)
    const over = await app.inject({ method: 'POST', url: `/api/v1/users/${other.id}/deposits`, headers: { ...other.headers, 'idempotency-key': randomUUID() }, payload: { amount: 500, currency: 'USD' } })
    t.equal(over.statusCode, 422)
    t.match(over.json().message, /24 hours/)
  })
})

t.test('a deposit is credited exactly once under redelivered, reordered and concurrent webhooks', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)
  const deposits = await Promise.all([startDeposit(app, user, 1000), startDeposit(app, user, 2000), startDeposit(app, user, 3000)])

  // The first deposit's first card is declined, then a second attempt succeeds; Stripe
  // delivers the success before the failure.
  const failed = await stripe.failPaymentIntent(deposits[0]!.paymentIntentId)
  const succeeded = await Promise.all(deposits.map(async (d) => await stripe.succeedPaymentIntent(d.paymentIntentId)))
  const statuses = await deliverAll(stripe, [...succeeded, ...succeeded, ...succeeded, failed, ...succeeded])
  t.ok(statuses.every((s) => s === 200), 'every delivery is acknowledged')
  await eventsProcessed(app, 4)
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM stripe_events')
  t.equal(rows[0].n, 4, 'each event id is stored once')

  const w = await wallet(app, user)
  t.same([w.deposits, w.total, w.withdrawable], [6000, 6000, 6000], 'each deposit credited once')
  const list = (await app.inject({ url: `/api/v1/users/${user.id}/deposits`, headers: user.headers })).json()
  t.same(list.items.map((d: { status: string }) => d.status), ['succeeded', 'succeeded', 'succeeded'], 'a late failure never undoes a success')
  const paged: string[] = []
  let cursor: string | null = null
  do {
    const query: Record<string, string> = cursor === null ? { limit: '1' } : { limit: '1', cursor }
    const res = await app.inject({ url: `/api/v1/users/${user.id}/deposits`, query, headers: user.headers })
    const page: { items: Array<{ id: string }>, nextCursor: string | null } = res.json()
    paged.push(...page.items.map((d) => d.id))
    cursor = page.nextCursor
  } while (cursor !== null)
  t.same(paged, list.items.map((d: { id: string }) => d.id), 'pages of one, every deposit once, in order')
  for (const forged of [['2026-12-05', 'x'], [1, 'not-a-uuid'], ['a', 'b']]) {
    const res = await app.inject({ url: `/api/v1/users/${user.id}/deposits?cursor=${Buffer.from(JSON.stringify(forged)).toString('base64url')}`, headers: user.headers })
    t.equal(res.statusCode, 400, `a forged cursor ${JSON.stringify(forged)} is refused`)
  }

  // Redelivered again, much later, after processing.
  await deliverAll(stripe, succeeded)
  await eventsProcessed(app)
  t.equal((await wallet(app, user)).deposits, 6000, 'still once')
  const tx = await app.pg.query("SELECT count(*)::int AS n FROM ledger_transactions WHERE kind = 'deposit'")
  t.equal(tx.rows[0].n, 3)
  const events = await app.pg.query('SELECT type, count(*)::int AS n FROM domain_events WHERE type LIKE \'deposit.%\' GROUP BY type')
  t.same(events.rows, [{ type: 'deposit.succeeded', n: 3 }], 'one deposit.succeeded event per deposit (the user is told once)')
  await assertBooksBalance(t, app)
})

t.test('a failed payment leaves the deposit failed and the wallet untouched', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)
  const deposit = await startDeposit(app, user, 1500)
  await deliverAll(stripe, [await stripe.failPaymentIntent(deposit.paymentIntentId, { code: 'insufficient_funds', message: 'Your card has insufficient funds.' })])
  await eventsProcessed(app, 1)
  const got = (await app.inject({ url: `/api/v1/users/${user.id}/deposits/${deposit.id}`, headers: user.headers })).json()
  t.match(got, { status: 'failed', failureMessage: 'Your card has insufficient funds.' })
  t.equal((await wallet(app, user)).total, 0)
  const events = await app.pg.query('SELECT payload FROM domain_events WHERE type = \'deposit.failed\'')
  t.same(events.rows.map((r) => r.payload), [{ depositId: deposit.id, userId: user.id, amount: 1500, currency: 'USD', reason: 'insufficient_funds' }])
  await assertBooksBalance(t, app)
})

t.test('forged, stale, tampered and other accounts\' signatures are refused and store nothing', async (t) => {
  const { app, stripe, webhookUrl } = await paymentsRig(t)
  const user = await signIn(app)
  const deposit = await startDeposit(app, user, 1000)
  const event = await stripe.succeedPaymentIntent(deposit.paymentIntentId)
  const other = await startFakeStripe()
  t.teardown(other.close)

  const refusals = [
    await stripe.deliver(event, { secret: 'whsec_forged' }),
    await stripe.deliver(event, { timestamp: Math.floor(Date.now() / 1000) - 3600 }),
    // Signed correctly, by another Stripe account's endpoint secret.
    await other.deliver(event, { url: webhookUrl })
  ]
  for (const r of refusals) {
    t.equal(r.status, 400)
    t.match(JSON.parse(r.body), { code: 'BAD_REQUEST', message: /Stripe-Signature/ })
  }
  // Signed for one body, sent with another.
  const tampered = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': stripe.signatureHeader(JSON.stringify(event)) },
    body: JSON.stringify({ ...event, data: { object: { ...(event.data.object as object), amount_received: 999999 } } })
  })
  t.equal(tampered.status, 400, 'a tampered body')
  const unsigned = await fetch(webhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(event) })
  t.equal(unsigned.status, 400, 'no signature')
  const { rows } = await app.pg.query('SELECT count(*)::int AS n FROM stripe_events')
  t.equal(rows[0].n, 0, 'nothing was stored')
  t.equal((await wallet(app, user)).total, 0, 'nothing was credited')

  t.equal((await stripe.deliver(event)).status, 200, 'the genuine delivery is accepted')
  await eventsProcessed(app, 1)
  t.equal((await wallet(app, user)).deposits, 1000)
  await assertBooksBalance(t, app)
})

t.test('each currency in its own minor units and its own wallet', async (t) => {
  const { app, stripe } = await paymentsRig(t)
  const user = await signIn(app)
  const yen = await startDeposit(app, user, 1000, 'JPY')
  const dollars = await startDeposit(app, user, 1000, 'USD')
  t.equal(stripe.paymentIntents.get(yen.paymentIntentId)?.currency, 'jpy')
  await deliverAll(stripe, [await stripe.succeedPaymentIntent(yen.paymentIntentId), await stripe.succeedPaymentIntent(dollars.paymentIntentId)])
  await eventsProcessed(app, 2)
  t.match(await wallet(app, user, 'JPY'), { deposits: 1000 }, '1,000 yen')
  t.match(await wallet(app, user, 'USD'), { deposits: 1000 }, '10 dollars')
  const small = await app.inject({ method: 'POST', url: `/api/v1/users/${user.id}/deposits`, headers: { ...user.headers, 'idempotency-key': randomUUID() }, payload: { amount: 100, currency: 'JPY' } })
  t.equal(small.json().code, 'LIMIT_EXCEEDED', 'the yen minimum is in yen')
  await assertBooksBalance(t, app)
})
