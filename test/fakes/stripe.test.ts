// The Stripe fake, driven through the real `stripe` SDK: if the SDK accepts its answers
// (errors, idempotent replays, pagination, webhook signatures), code under test will too.
import t from 'tap'
import { createServer } from 'node:http'
import Stripe from 'stripe'
import { parseForm, startFakeStripe } from './stripe.ts'
import type { FakeStripe, FakeCharge, StripeEvent } from './stripe.ts'

const ID = /^[A-Za-z0-9]{24}$/

interface Teardown { teardown: (fn: () => unknown) => void }

interface Received {
  body: string
  signature: string
  userAgent: string
  contentType: string
}

// A webhook endpoint on 127.0.0.1 that keeps what it receives.
async function webhookReceiver (test: Teardown) {
  const received: Received[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      received.push({
        body: Buffer.concat(chunks).toString('utf8'),
        signature: String(req.headers['stripe-signature']),
        userAgent: String(req.headers['user-agent']),
        contentType: String(req.headers['content-type'])
      })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"received":true}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  test.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as { port: number }
  return { received, url: `http://127.0.0.1:${port}/webhooks/stripe` }
}

async function setup (test: Teardown, opts: { autoDeliver?: boolean, webhookUrl?: string } = {}) {
  const fake = await startFakeStripe(opts)
  test.teardown(() => fake.close())
  const stripe = new Stripe(fake.secretKey, { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries: 0 })
  return { fake, stripe }
}

async function rejection (promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => null, (err: unknown) => err)
}

function thrown (fn: () => unknown): unknown {
  try {
    fn()
    return null
  } catch (err) {
    return err
  }
}

// A platform balance to move money with: one paid intent.
async function paidIntent (fake: FakeStripe, stripe: Stripe, amount: number) {
  const intent = await stripe.paymentIntents.create({ amount, currency: 'usd' })
  await fake.succeedPaymentIntent(intent.id)
  return intent
}

t.test('form bodies parse to nested objects of strings', async (t) => {
  t.same(parseForm('amount=2000&metadata[userId]=u%201&capabilities[transfers][requested]=true&expand[]=a&expand[]=b&items[0][price]=p&items[1][price]=q'), {
    amount: '2000',
    metadata: { userId: 'u 1' },
    capabilities: { transfers: { requested: 'true' } },
    expand: ['a', 'b'],
    items: [{ price: 'p' }, { price: 'q' }]
  })
  t.same(parseForm('expand%5B0%5D=latest_charge&description=a+b'), { expand: ['latest_charge'], description: 'a b' })
})

t.test('payment intents: creation, idempotency and errors', async (t) => {
  const { fake, stripe } = await setup(t)

  const intent = await stripe.paymentIntents.create({
    amount: 2000, currency: 'USD', metadata: { userId: 'u1' }, automatic_payment_methods: { enabled: true }, description: 'Entry fee'
  }, { idempotencyKey: 'entry-1' })
  t.match(intent.id, /^pi_/)
  t.match(intent.id.slice(3), ID)
  t.equal(intent.object, 'payment_intent')
  t.equal(intent.status, 'requires_payment_method')
  t.equal(intent.currency, 'usd', 'currencies are lower case')
  t.equal(intent.amount_received, 0)
  t.equal(intent.latest_charge, null)
  t.equal(intent.livemode, false)
  t.same(intent.metadata, { userId: 'u1' })
  t.same(intent.automatic_payment_methods, { allow_redirects: 'always', enabled: true })
  t.ok(intent.client_secret?.startsWith(`${intent.id}_secret_`))
  t.match(intent.lastResponse.requestId, /^req_/)
  t.same(fake.requests.at(-1), {
    method: 'POST',
    path: '/v1/payment_intents',
    params: { amount: '2000', currency: 'USD', metadata: { userId: 'u1' }, automatic_payment_methods: { enabled: 'true' }, description: 'Entry fee' },
    idempotencyKey: 'entry-1',
    stripeAccount: null,
    requestId: intent.lastResponse.requestId
  })

  const replay = await stripe.paymentIntents.create({
    amount: 2000, currency: 'USD', metadata: { userId: 'u1' }, automatic_payment_methods: { enabled: true }, description: 'Entry fee'
  }, { idempotencyKey: 'entry-1' })
  t.equal(replay.id, intent.id, 'the same key and parameters replay the first response')
  t.equal(replay.lastResponse.headers['idempotent-replayed'], 'true')
  t.not(replay.lastResponse.requestId, intent.lastResponse.requestId, 'each response has its own request id')
  t.equal(fake.paymentIntents.size, 1)

  await stripe.paymentIntents.update(intent.id, { description: 'Changed since' })
  const later = await stripe.paymentIntents.create({
    amount: 2000, currency: 'USD', metadata: { userId: 'u1' }, automatic_payment_methods: { enabled: true }, description: 'Entry fee'
  }, { idempotencyKey: 'entry-1' })
  t.equal(later.description, 'Entry fee', 'a replay is the first response as it was, not the object as it is now')

  const conflict = await rejection(stripe.paymentIntents.create({ amount: 2500, currency: 'usd' }, { idempotencyKey: 'entry-1' }))
  t.ok(conflict instanceof Stripe.errors.StripeIdempotencyError, 'same key, other parameters')
  t.equal((conflict as Stripe.errors.StripeError).statusCode, 400)

  const missing = await rejection(stripe.paymentIntents.retrieve('pi_missing'))
  t.ok(missing instanceof Stripe.errors.StripeInvalidRequestError)
  t.match(missing, { code: 'resource_missing', statusCode: 404, message: /No such payment_intent: 'pi_missing'/ })

  for (const amount of [0, -5, 12.5]) {
    const err = await rejection(stripe.paymentIntents.create({ amount, currency: 'usd' }))
    t.ok(err instanceof Stripe.errors.StripeInvalidRequestError, `amount ${amount} is refused`)
    t.match(err, { param: 'amount', statusCode: 400 })
  }
  t.match(await rejection(stripe.paymentIntents.create({ currency: 'usd' } as Stripe.PaymentIntentCreateParams)), { code: 'parameter_missing', param: 'amount' })

  const stranger = new Stripe('sk_test_not_the_key_at_all', { host: '127.0.0.1', port: fake.port, protocol: 'http', maxNetworkRetries: 0 })
  t.ok(await rejection(stranger.paymentIntents.retrieve(intent.id)) instanceof Stripe.errors.StripeAuthenticationError, 'a wrong key is a 401')

  const raw = await fetch(`${fake.url}/v1/nothing-here`, { headers: { authorization: `Bearer ${fake.secretKey}` } })
  t.equal(raw.status, 404)
  t.match(raw.headers.get('request-id'), /^req_/)
  t.match(await raw.json(), { error: { type: 'invalid_request_error', message: /Unrecognized request URL/ } })

  const updated = await stripe.paymentIntents.update(intent.id, { metadata: { userId: '', competitionId: 'c1' }, amount: 2100 })
  t.same(updated.metadata, { competitionId: 'c1' }, 'an empty metadata value unsets the key')
  t.equal(updated.amount, 2100)
  const canceled = await stripe.paymentIntents.cancel(intent.id)
  t.equal(canceled.status, 'canceled')
  t.equal(fake.events.at(-1)?.type, 'payment_intent.canceled')
  t.equal(fake.events.at(-1)?.request?.id, canceled.lastResponse.requestId, 'an event caused by a request names it')
})

t.test('webhooks: signed events for payments, refunds and disputes', async (t) => {
  const hook = await webhookReceiver(t)
  const { fake, stripe } = await setup(t, { webhookUrl: hook.url, autoDeliver: true })

  const intent = await stripe.paymentIntents.create({ amount: 2000, currency: 'usd', metadata: { userId: 'u1' } })
  const succeeded = await fake.succeedPaymentIntent(intent.id)
  t.equal(succeeded.type, 'payment_intent.succeeded')
  t.match(succeeded, { object: 'event', api_version: '2026-11-18.endive', livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null } })
  t.match(succeeded.id, /^evt_/)
  t.notOk('account' in succeeded, 'a platform event names no account')
  const paid = succeeded.data.object as Stripe.PaymentIntent
  t.match(paid, { id: intent.id, status: 'succeeded', amount_received: 2000, metadata: { userId: 'u1' } })
  t.match(paid.latest_charge, /^ch_/)

  // Delivered before succeedPaymentIntent returned, pretty-printed and signed.
  t.equal(hook.received.length, 1)
  const [delivery] = hook.received
  if (!delivery) throw new Error('no delivery')
  t.equal(delivery.body, JSON.stringify(succeeded, null, 2))
  t.equal(delivery.contentType, 'application/json; charset=utf-8')
  t.equal(delivery.userAgent, 'Stripe/1.0 (+https://stripe.com/docs/webhooks)')
  t.match(delivery.signature, /^t=\d+,v1=[0-9a-f]{64}$/)
  t.same(fake.deliveries, [{ eventId: succeeded.id, type: 'payment_intent.succeeded', url: hook.url, status: 200, body: '{"received":true}' }])

  const verified = stripe.webhooks.constructEvent(delivery.body, delivery.signature, fake.webhookSecret, 300)
  t.equal(verified.id, succeeded.id, 'constructEvent accepts the signed payload')
  const wrongSecret = thrown(() => stripe.webhooks.constructEvent(delivery.body, delivery.signature, 'whsec_wrong', 300))
  t.ok(wrongSecret instanceof Stripe.errors.StripeSignatureVerificationError, 'a wrong secret is refused')
  const stale = fake.signatureHeader(delivery.body, { timestamp: Math.floor(Date.now() / 1000) - 600 })
  const staleError = thrown(() => stripe.webhooks.constructEvent(delivery.body, stale, fake.webhookSecret, 300))
  t.ok(staleError instanceof Stripe.errors.StripeSignatureVerificationError, 'a stale timestamp is refused')
  t.match(staleError, { message: /tolerance/ })
  const resent = await fake.deliver(succeeded, { url: hook.url })
  t.equal(resent.status, 200, 'an event can be delivered again, as Stripe retries do')
  t.equal(hook.received.length, 2)

  // Fees: 2.9% + 30 on the charge.
  const chargeTx = fake.balanceTransactions.at(-1)
  t.match(chargeTx, { object: 'balance_transaction', type: 'charge', amount: 2000, fee: 88, net: 1912, currency: 'usd', source: paid.latest_charge, status: 'available', reporting_category: 'charge' })
  t.equal(fake.availableBalance('usd'), 1912)

  const expanded = await stripe.paymentIntents.retrieve(intent.id, { expand: ['latest_charge'] })
  t.match(expanded.latest_charge, { object: 'charge', id: paid.latest_charge, amount: 2000, paid: true })

  // A partial refund through the API, then the rest from the dashboard.
  const refund = await stripe.refunds.create({ payment_intent: intent.id, amount: 500 })
  t.match(refund, { object: 'refund', status: 'succeeded', amount: 500, charge: paid.latest_charge, payment_intent: intent.id, currency: 'usd' })
  t.match(refund.id, /^re_/)
  await fake.idle()
  const partial = fake.events.at(-1) as StripeEvent
  t.equal(partial.type, 'charge.refunded')
  t.match(partial.data.object, { amount_refunded: 500, refunded: false })
  t.equal(partial.request?.id, refund.lastResponse.requestId)
  t.equal(hook.received.length, 3, 'events caused by API requests are delivered too')

  const rest = await fake.refund(intent.id)
  t.match(rest.data.object as FakeCharge, { object: 'charge', amount_refunded: 2000, refunded: true })
  t.same(fake.balanceTransactions.filter((tx) => tx.type === 'refund').map((tx) => tx.amount), [-500, -1500])
  const again = await rejection(stripe.refunds.create({ payment_intent: intent.id }))
  t.ok(again instanceof Stripe.errors.StripeInvalidRequestError)
  t.match(again, { code: 'charge_already_refunded' })

  // A decline set by the test, and one from a declining test card.
  const declined = await stripe.paymentIntents.create({ amount: 1500, currency: 'usd' })
  const failed = await fake.failPaymentIntent(declined.id, { code: 'insufficient_funds' })
  t.equal(failed.type, 'payment_intent.payment_failed')
  t.match(failed.data.object, { status: 'requires_payment_method', last_payment_error: { type: 'card_error', code: 'card_declined', decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' } })
  const cardError = await rejection(stripe.paymentIntents.confirm(declined.id, { payment_method: 'pm_card_chargeDeclined' }))
  t.ok(cardError instanceof Stripe.errors.StripeCardError)
  t.match(cardError, { statusCode: 402, code: 'card_declined', decline_code: 'generic_decline' })
  const confirmed = await stripe.paymentIntents.confirm(declined.id, { payment_method: 'pm_card_visa' })
  t.equal(confirmed.status, 'succeeded')
  await fake.idle()
  t.same(fake.events.slice(-2).map((e) => e.type), ['payment_intent.payment_failed', 'payment_intent.succeeded'])

  // Disputes: the amount and the fee leave the balance; a won dispute returns the amount.
  const before = fake.availableBalance()
  const opened = await fake.createDispute(declined.id)
  const dispute = opened.data.object as Stripe.Dispute
  t.equal(opened.type, 'charge.dispute.created')
  t.match(dispute, { object: 'dispute', amount: 1500, currency: 'usd', status: 'needs_response', reason: 'fraudulent', payment_intent: declined.id })
  t.match(dispute.id, /^dp_/)
  t.match(fake.balanceTransactions.at(-1), { type: 'adjustment', amount: -1500, fee: 1500, net: -3000, source: dispute.id, reporting_category: 'dispute' })
  const closed = await fake.closeDispute(dispute.id, 'won')
  t.equal(closed.type, 'charge.dispute.closed')
  t.match(closed.data.object, { status: 'won' })
  t.match(fake.balanceTransactions.at(-1), { type: 'adjustment', amount: 1500, net: 1500, reporting_category: 'dispute_reversal' })
  t.equal(fake.availableBalance(), before - 1500, 'the dispute fee stays spent')
})

t.test('connect: onboarding, transfers and payouts', async (t) => {
  const hook = await webhookReceiver(t)
  const { fake, stripe } = await setup(t, { webhookUrl: hook.url, autoDeliver: true })

  const account = await stripe.accounts.create({
    type: 'express', country: 'US', email: 'winner@example.com', capabilities: { transfers: { requested: true } }, metadata: { userId: 'u7' }
  })
  t.match(account, { object: 'account', type: 'express', charges_enabled: false, payouts_enabled: false, details_submitted: false, email: 'winner@example.com', metadata: { userId: 'u7' }, capabilities: { transfers: 'inactive' } })
  t.match(account.id, /^acct_/)
  t.ok((account.requirements?.currently_due ?? []).length > 0)
  t.match((await stripe.accounts.retrieve(account.id)).id, account.id)

  const link = await stripe.accountLinks.create({ account: account.id, refresh_url: 'https://app.example/refresh', return_url: 'https://app.example/done', type: 'account_onboarding' })
  t.match(link, { object: 'account_link', url: `${fake.url}/connect/onboarding/${account.id}` })
  t.ok(link.expires_at > link.created)

  await paidIntent(fake, stripe, 10_000) // platform balance 9,680 after fees
  const early = await rejection(stripe.transfers.create({ amount: 1000, currency: 'usd', destination: account.id }))
  t.match(early, { code: 'insufficient_capabilities_for_transfer' }, 'no transfers before onboarding')
  t.match(await rejection(stripe.payouts.create({ amount: 100, currency: 'usd' }, { stripeAccount: account.id })), { code: 'payouts_not_allowed' })

  // Visiting the link finishes onboarding and goes back to the app.
  const page = await fetch(link.url, { redirect: 'manual' })
  t.equal(page.status, 302)
  t.equal(page.headers.get('location'), 'https://app.example/done')
  const onboarded = fake.events.at(-1) as StripeEvent
  t.equal(onboarded.type, 'account.updated')
  t.equal(onboarded.account, account.id, 'a Connect event names the account')
  t.match(onboarded.data, { object: { charges_enabled: true, payouts_enabled: true, details_submitted: true, requirements: { currently_due: [] }, capabilities: { transfers: 'active' } }, previous_attributes: { payouts_enabled: false } })
  const second = await stripe.accounts.create({ type: 'express', capabilities: { transfers: { requested: true } } })
  const event = await fake.completeOnboarding(second.id)
  t.equal(event.account, second.id)
  t.equal(hook.received.length, 3)

  const transfer = await stripe.transfers.create({ amount: 5000, currency: 'usd', destination: account.id, transfer_group: 'competition-1', metadata: { prizeId: 'p1' } })
  t.match(transfer, { object: 'transfer', amount: 5000, currency: 'usd', destination: account.id, reversed: false, amount_reversed: 0, transfer_group: 'competition-1', metadata: { prizeId: 'p1' } })
  t.match(transfer.id, /^tr_/)
  t.match(transfer.balance_transaction, /^txn_/)
  t.match(fake.balanceTransactions.at(-1), { type: 'transfer', amount: -5000, net: -5000, source: transfer.id })
  t.equal(fake.availableBalance(), 4680)
  t.equal(fake.availableBalance('usd', account.id), 5000)

  const tooMuch = await rejection(stripe.transfers.create({ amount: 4681, currency: 'usd', destination: account.id }))
  t.ok(tooMuch instanceof Stripe.errors.StripeInvalidRequestError)
  t.match(tooMuch, { code: 'balance_insufficient', statusCode: 400 })
  t.match(await rejection(stripe.transfers.create({ amount: 100, currency: 'usd', destination: 'acct_nobody' })), { code: 'resource_missing', param: 'destination' })

  const reversal = await stripe.transfers.createReversal(transfer.id, { amount: 1000 })
  t.match(reversal, { object: 'transfer_reversal', amount: 1000, currency: 'usd', transfer: transfer.id })
  t.match(reversal.id, /^trr_/)
  t.match(fake.transfers.get(transfer.id), { amount_reversed: 1000, reversed: false })
  t.match(fake.balanceTransactions.at(-1), { type: 'transfer_refund', amount: 1000, source: reversal.id })
  t.equal(fake.availableBalance(), 5680)
  t.equal(fake.availableBalance('usd', account.id), 4000)

  // Payouts come out of the connected account's balance, not the platform's.
  const payout = await stripe.payouts.create({ amount: 3000, currency: 'usd', metadata: { prizeId: 'p1' } }, { stripeAccount: account.id })
  t.match(payout, { object: 'payout', status: 'pending', amount: 3000, currency: 'usd', failure_code: null, failure_message: null, metadata: { prizeId: 'p1' } })
  t.match(payout.id, /^po_/)
  t.match(payout.destination, /^ba_/)
  t.ok(payout.arrival_date > payout.created)
  t.equal(fake.requests.at(-1)?.stripeAccount, account.id)
  t.equal(fake.availableBalance('usd', account.id), 1000)
  t.equal(fake.availableBalance(), 5680)
  t.match(await rejection(stripe.payouts.create({ amount: 1001, currency: 'usd' }, { stripeAccount: account.id })), { code: 'balance_insufficient' })
  t.match(await rejection(stripe.payouts.retrieve(payout.id)), { code: 'resource_missing' }, 'a connected account’s payout is not the platform’s')
  t.equal((await stripe.payouts.retrieve(payout.id, {}, { stripeAccount: account.id })).id, payout.id)

  const failed = await fake.failPayout(payout.id)
  t.equal(failed.type, 'payout.failed')
  t.equal(failed.account, account.id)
  t.match(failed.data.object, { status: 'failed', failure_code: 'account_closed', failure_message: /closed/ })
  t.equal(fake.availableBalance('usd', account.id), 4000, 'the failed payout is back in the balance')

  const paid = await stripe.payouts.create({ amount: 4000, currency: 'usd' }, { stripeAccount: account.id })
  const paidEvent = await fake.payPayout(paid.id)
  t.match(paidEvent, { type: 'payout.paid', account: account.id, data: { object: { status: 'paid' } } })
  t.equal(fake.payouts.get(paid.id)?.status, 'paid')
  t.notOk(fake.balanceTransactions.some((tx) => tx.type === 'payout'), 'connected payouts stay off the platform ledger')
})

t.test('balance transactions: filters and pagination', async (t) => {
  const { fake, stripe } = await setup(t)
  const injected = [100, 200, 300, 400, 500].map((amount, i) => fake.injectBalanceTransaction({ type: 'adjustment', amount, currency: 'usd', created: 1_700_000_000 + i * 100 }))

  const page = await stripe.balanceTransactions.list({ limit: 2 })
  t.match(page, { object: 'list', has_more: true, url: '/v1/balance_transactions' })
  t.same(page.data.map((tx) => tx.amount), [500, 400], 'newest first')

  const ranged = await stripe.balanceTransactions.list({ created: { gte: 1_700_000_100, lt: 1_700_000_400 } })
  t.same(ranged.data.map((tx) => tx.amount), [400, 300, 200])
  t.equal(ranged.has_more, false)
  const strict = await stripe.balanceTransactions.list({ created: { gt: 1_700_000_100, lte: 1_700_000_400 } })
  t.same(strict.data.map((tx) => tx.amount), [500, 400, 300], 'gt and lte bounds')

  const before = fake.requests.length
  const all: number[] = []
  for await (const tx of stripe.balanceTransactions.list({ limit: 2 })) all.push(tx.amount)
  t.same(all, [500, 400, 300, 200, 100], 'auto-pagination walks every page')
  t.equal(fake.requests.length - before, 3, 'three pages of two')
  t.same(fake.requests.at(-1)?.params, { limit: '2', starting_after: injected[1]?.id })

  const back = await stripe.balanceTransactions.list({ limit: 2, ending_before: injected[1]?.id })
  t.same(back.data.map((tx) => tx.amount), [400, 300], 'ending_before gives the page just newer')

  t.match(await rejection(stripe.balanceTransactions.list({ limit: 101 })), { param: 'limit' })
  t.match(await rejection(stripe.balanceTransactions.list({ starting_after: 'txn_unknown' })), { code: 'resource_missing', param: 'starting_after' })

  const retrieved = await stripe.balanceTransactions.retrieve(injected[0]?.id ?? '')
  t.match(retrieved, { id: injected[0]?.id, amount: 100, type: 'adjustment', fee: 0, net: 100, status: 'available' })
  const balance = await stripe.balance.retrieve()
  t.same(balance.available, [{ amount: 1500, currency: 'usd', source_types: { card: 1500 } }])
})
