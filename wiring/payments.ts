import fp from 'fastify-plugin'
import type Stripe from 'stripe'
import { createTransactor } from '../services/shared/transactions.ts'
import { createGateway } from '../services/payments/gateway.ts'
import { paymentLimits } from '../services/payments/limits.ts'
import { createDepositsService } from '../services/payments/deposits.ts'
import { createGatewayMovements } from '../services/payments/gateway-movements.ts'
import { createPayoutAccountsService } from '../services/payments/payout-accounts.ts'
import { createReconciliation, previousUtcDay, RECONCILIATION_QUEUE } from '../services/payments/reconciliation.ts'
import { paymentMetrics } from '../services/shared/metrics.ts'
import { createWithdrawalsService, WITHDRAWAL_QUEUE, type WithdrawalJob } from '../services/payments/withdrawals.ts'
import {
  createStripeEventProcessor, createStripeEventReceiver, depositHandlers, STRIPE_EVENT_QUEUE, type StripeEventJob
} from '../services/payments/stripe-events.ts'

declare module 'fastify' {
  interface FastifyInstance {
    // null without Stripe keys: the payment routes answer 503 PAYMENTS_DISABLED.
    payments: {
      deposits: ReturnType<typeof createDepositsService>
      stripeEvents: ReturnType<typeof createStripeEventReceiver>
      payoutAccounts: ReturnType<typeof createPayoutAccountsService>
      withdrawals: ReturnType<typeof createWithdrawalsService>
      reconciliation: ReturnType<typeof createReconciliation>
    } | null
  }
}

// Money in and out through Stripe. Without a secret key nothing here starts, and the rest of
// the service runs as before.
export default fp(async function paymentsWiring (fastify) {
  const { config } = fastify
  // Declared either way, so dashboards and alert rules find the series.
  const metrics = paymentMetrics(fastify.metricsRegistry)
  if (config.STRIPE_SECRET_KEY === '') {
    fastify.decorate('payments', null)
    fastify.log.info('payments are disabled: STRIPE_SECRET_KEY is not set')
    return
  }
  const secrets = [config.STRIPE_WEBHOOK_SECRET, config.STRIPE_CONNECT_WEBHOOK_SECRET].filter((s) => s !== '')
  if (secrets.length === 0) throw new Error('STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY: deposits are credited only by verified webhooks')
  const { pool } = fastify.pg
  const transact = createTransactor(pool)
  const gateway = await createGateway({ secretKey: config.STRIPE_SECRET_KEY, apiUrl: config.STRIPE_API_URL, timeoutMs: config.STRIPE_TIMEOUT_MS })
  const limits = paymentLimits(config.PAYMENTS_CURRENCIES, config.PAYMENTS_LIMITS)
  const { ledger, activity, jobs } = fastify
  const movements = createGatewayMovements({ ledger, activity, gateway })
  const payoutAccounts = createPayoutAccountsService({
    pool, gateway, country: config.PAYOUT_COUNTRY, returnUrl: config.PAYOUT_RETURN_URL || `${config.PUBLIC_URL}/payout-account/return`
  })
  const withdrawals = createWithdrawalsService({ pool, transact, ledger, activity, gateway, jobs, limits, payoutAccounts })
  const reconciliation = createReconciliation({
    pool,
    transact,
    gateway,
    onReport (report) {
      metrics.reconciliationDifferences.set(report.differenceCount)
      metrics.reconciliationLastRun.set(Date.parse(report.createdAt) / 1000)
      const log = report.differenceCount > 0 ? fastify.log.warn.bind(fastify.log) : fastify.log.info.bind(fastify.log)
      log({ day: report.day, differences: report.differenceCount, runId: report.id }, 'reconciled the ledger with the payment gateway')
    }
  })

  fastify.decorate('payments', {
    deposits: createDepositsService({ pool, transact, gateway, limits, publishableKey: config.STRIPE_PUBLISHABLE_KEY }),
    stripeEvents: createStripeEventReceiver({ gateway, secrets, toleranceSeconds: config.STRIPE_WEBHOOK_TOLERANCE_SECONDS, transact, jobs }),
    payoutAccounts,
    withdrawals,
    reconciliation
  })
  // Retries become due between notifications: poll every second so a backoff of 1 s is ~1 s.
  await jobs.work<StripeEventJob>(STRIPE_EVENT_QUEUE, { pollingIntervalSeconds: 1 }, createStripeEventProcessor({
    transact,
    handlers: {
      ...depositHandlers(movements),
      'account.updated': async (tx, e) => { await payoutAccounts.updated(tx, e.data.object as Stripe.Account) },
      'payout.paid': async (tx, e) => { await withdrawals.payoutPaid(tx, e.data.object as Stripe.Payout) },
      'payout.failed': async (tx, e) => { await withdrawals.payoutFailed(tx, e.data.object as Stripe.Payout) }
    }
  }))
  await jobs.work<WithdrawalJob>(WITHDRAWAL_QUEUE, { pollingIntervalSeconds: 1 }, withdrawals.execute)
  // Yesterday (UTC), once a day after it is complete; the schedule is stored once for all replicas.
  await jobs.work<{ day?: string }>(RECONCILIATION_QUEUE, { concurrency: 1 }, async (data) => {
    await reconciliation.run(data?.day ?? previousUtcDay(new Date()))
  })
  if (config.JOB_WORKERS) await jobs.boss.schedule(RECONCILIATION_QUEUE, '15 1 * * *', null, { tz: 'UTC' })
}, { name: 'payments-service', dependencies: ['config', 'postgres', 'jobs', 'ledger-service', 'observability'] })
