import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { build, type BuildOptions } from '../../helper.ts'
import { startFakeStripe, type FakeStripe, type StripeEvent } from '../../fakes/stripe.ts'
import { ledgerTotals, signIn, TEST_CONFIG, type Person } from '../competitions/fixtures.ts'
import { until } from '../webhooks/receiver.ts'

type Test = Parameters<typeof build>[0]

export interface PaymentsRig {
  app: FastifyInstance
  stripe: FakeStripe
  admin: Person
  webhookUrl: string
}

// Configuration that points the service's Stripe SDK at a fresh local fake.
export async function fakeStripeConfig (t: Test): Promise<{ stripe: FakeStripe, config: Record<string, string> }> {
  const stripe = await startFakeStripe()
  t.teardown(stripe.close)
  return {
    stripe,
    config: { STRIPE_SECRET_KEY: stripe.secretKey, STRIPE_PUBLISHABLE_KEY: 'pk_test_fake', STRIPE_WEBHOOK_SECRET: stripe.webhookSecret, STRIPE_API_URL: stripe.url }
  }
}

// The service listening on a spare port, with the Stripe SDK pointed at a local fake whose
// events are delivered (signed) to the service's webhook route.
export async function paymentsRig (t: Test, config: BuildOptions['config'] = {}): Promise<PaymentsRig> {
  const { stripe, config: stripeConfig } = await fakeStripeConfig(t)
  const app = await build(t, { config: { ...TEST_CONFIG, ...stripeConfig, ...config } })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  const webhookUrl = `http://127.0.0.1:${port}/api/v1/payments/stripe/webhook`
  stripe.setWebhookUrl(webhookUrl)
  return { app, stripe, admin: await signIn(app, { admin: true }), webhookUrl }
}

export async function startDeposit (app: FastifyInstance, user: Person, amount: number, currency = 'USD'): Promise<Record<string, any>> {
  const res = await app.inject({
    method: 'POST',
    url: `/api/v1/users/${user.id}/deposits`,
    headers: { ...user.headers, 'idempotency-key': randomUUID() },
    payload: { amount, currency }
  })
  if (res.statusCode !== 201) throw new Error(`deposit failed: ${res.statusCode} ${res.body}`)
  return res.json()
}

export async function wallet (app: FastifyInstance, user: Person, currency = 'USD'): Promise<Record<string, number>> {
  const res = await app.inject({ url: `/api/v1/users/${user.id}/wallet`, headers: user.headers })
  const found = res.json().wallets.find((w: { currency: string }) => w.currency === currency)
  return found ?? { total: 0, deposits: 0, winnings: 0, promo: 0, withdrawable: 0, pendingWithdrawal: 0, frozen: 0, debt: 0 }
}

// Every stored gateway event has been processed by its job.
export async function eventsProcessed (app: FastifyInstance, count?: number): Promise<void> {
  await until('stripe events processed', async () => {
    const { rows: [r] } = await app.pg.query('SELECT count(*)::int AS n, count(processed_at)::int AS done FROM stripe_events')
    return r.n === r.done && (count === undefined || r.n >= count)
  })
}

export async function deliverAll (stripe: FakeStripe, events: StripeEvent[]): Promise<number[]> {
  return await Promise.all(events.map(async (e) => (await stripe.deliver(e)).status))
}

export async function assertBooksBalance (t: { same: (...args: any[]) => unknown }, app: FastifyInstance): Promise<void> {
  t.same(await ledgerTotals(app), { entries: 0, accounts: 0, mismatched: 0, negativeWallets: 0 }, 'the ledger sums to zero and no wallet is negative')
}
