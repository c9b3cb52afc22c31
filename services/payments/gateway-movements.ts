import type Stripe from 'stripe'
import type { Db } from '../shared/transactions.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import type { ActivityService } from '../users/activity.ts'
import { toMoney, type LedgerService } from '../money/ledger.ts'
import { CLAWBACK_ORDER, debtOwed, takeFromPockets, undoLegs } from '../money/pockets.ts'
import type { Gateway } from './gateway.ts'

interface DepositRow { id: string, user_id: string, amount: string, currency: string, status: string }

// What the gateway's events do to the books. Every movement is keyed by the gateway object it
// mirrors (payment intent, refund, dispute), so however often and in whatever order events
// arrive, each moves money once; the deposit row, locked first, serialises one deposit's events.
export function createGatewayMovements ({ ledger, activity, gateway }: {
  ledger: LedgerService
  activity: Pick<ActivityService, 'record'>
  gateway: Pick<Gateway, 'refunds' | 'paymentIntents'>
}) {
  async function lockDeposit (tx: Db, paymentIntentId: string): Promise<DepositRow | undefined> {
    const { rows } = await tx.query<DepositRow>(`SELECT id, user_id, amount::text, currency, status FROM deposits
      WHERE payment_intent_id = $1 FOR UPDATE`, [paymentIntentId])
    return rows[0]
  }

  // payment_intent.succeeded: external -> the deposits pocket, paying off any debt first.
  async function credit (tx: Db, intent: Pick<Stripe.PaymentIntent, 'id' | 'amount_received' | 'currency' | 'latest_charge'>): Promise<void> {
    const deposit = await lockDeposit(tx, intent.id)
    if (!deposit || deposit.status === 'succeeded') return
    if (intent.currency.toUpperCase() !== deposit.currency) throw new Error(`payment intent ${intent.id} is in ${intent.currency}, its deposit in ${deposit.currency}`)
    const amount = intent.amount_received
    const chargeId = typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge?.id ?? null
    const { currency, user_id: userId } = deposit
    const debt = await debtOwed(tx, ledger, userId, currency)
    const repay = Math.min(debt.amount, amount)
    const { transactionId } = await ledger.transfer(tx, {
      idempotencyKey: `deposit:${intent.id}`,
      kind: 'deposit',
      memo: repay > 0 ? `Deposit (${repay} paid towards an outstanding debt)` : 'Deposit',
      externalRef: chargeId ?? intent.id,
      legs: [
        { accountId: await ledger.ensureAccount(tx, { kind: 'external', currency }), amount: -amount },
        { accountId: debt.account, amount: repay },
        { accountId: await ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'deposits', userId, currency }), amount: amount - repay }
      ]
    })
    await tx.query(`UPDATE deposits SET status = 'succeeded', charge_id = $2, transaction_id = $3, amount = $4,
      failure_code = NULL, failure_message = NULL, updated_at = now() WHERE id = $1`, [deposit.id, chargeId, transactionId, amount])
    await activity.record(tx, { userId, kind: 'deposit', data: { depositId: deposit.id, amount, currency, status: 'succeeded' } })
    await recordEvents(tx, [domainEvent('deposit.succeeded', { depositId: deposit.id, userId, amount, currency })])
  }

  // payment_intent.payment_failed: only a pending deposit fails; a late failure of an earlier
  // attempt never undoes a success.
  async function fail (tx: Db, intent: Pick<Stripe.PaymentIntent, 'id' | 'last_payment_error'>): Promise<void> {
    const deposit = await lockDeposit(tx, intent.id)
    if (!deposit || deposit.status !== 'pending') return
    const reason = intent.last_payment_error?.decline_code ?? intent.last_payment_error?.code ?? 'payment_failed'
    await tx.query('UPDATE deposits SET status = \'failed\', failure_code = $2, failure_message = $3, updated_at = now() WHERE id = $1',
      [deposit.id, reason, intent.last_payment_error?.message ?? null])
    await recordEvents(tx, [domainEvent('deposit.failed', {
      depositId: deposit.id, userId: deposit.user_id, amount: toMoney(deposit.amount), currency: deposit.currency, reason
    })])
  }

  // An event about a deposit whose success has not arrived yet (reordered delivery): the
  // gateway's current state of the intent is credited first.
  async function creditedDeposit (tx: Db, paymentIntentId: string): Promise<DepositRow | undefined> {
    const deposit = await lockDeposit(tx, paymentIntentId)
    if (!deposit || deposit.status === 'succeeded') return deposit
    const intent = await gateway.paymentIntents.retrieve(paymentIntentId)
    if (intent.status !== 'succeeded') throw new Error(`payment intent ${paymentIntentId} is ${intent.status}, not succeeded`)
    await credit(tx, intent)
    return await lockDeposit(tx, paymentIntentId)
  }

  // Takes money the gateway took back from the wallet (deposits, then winnings); what the
  // wallet cannot cover is held as debt, never a negative balance.
  async function clawBack (tx: Db, input: { userId: string, currency: string, amount: number, idempotencyKey: string, externalRef: string, memo: string }): Promise<boolean> {
    const { legs, taken } = await takeFromPockets(tx, ledger, { userId: input.userId, currency: input.currency, amount: input.amount, order: CLAWBACK_ORDER })
    const { created } = await ledger.transfer(tx, {
      idempotencyKey: input.idempotencyKey,
      kind: 'deposit_refund',
      memo: input.memo,
      externalRef: input.externalRef,
      legs: [
        ...legs,
        { accountId: await ledger.ensureAccount(tx, { kind: 'debt', userId: input.userId, currency: input.currency }), amount: -(input.amount - taken) },
        { accountId: await ledger.ensureAccount(tx, { kind: 'external', currency: input.currency }), amount: input.amount }
      ]
    })
    return created
  }

  // charge.refunded: each refund of the charge is taken from the wallet once.
  async function refunded (tx: Db, charge: Pick<Stripe.Charge, 'id' | 'payment_intent' | 'amount_refunded'>): Promise<void> {
    const intentId = typeof charge.payment_intent === 'string' ? charge.payment_intent : charge.payment_intent?.id
    if (!intentId) return
    const deposit = await creditedDeposit(tx, intentId)
    if (!deposit) return
    const refunds = await gateway.refunds.list({ charge: charge.id, limit: 100 })
    for (const refund of refunds.data) {
      if (refund.status !== 'succeeded' && refund.status !== 'pending') continue
      const created = await clawBack(tx, {
        userId: deposit.user_id,
        currency: deposit.currency,
        amount: refund.amount,
        idempotencyKey: `deposit-refund:${refund.id}`,
        externalRef: refund.id,
        memo: 'Deposit refunded'
      })
      if (created) await activity.record(tx, { userId: deposit.user_id, kind: 'deposit', data: { depositId: deposit.id, amount: -refund.amount, currency: deposit.currency, status: 'refunded' } })
    }
    await tx.query('UPDATE deposits SET refunded_amount = greatest(refunded_amount, $2), updated_at = now() WHERE id = $1', [deposit.id, charge.amount_refunded])
  }

  // charge.dispute.created: the gateway takes the amount at once (external, held against the
  // gateway until the dispute closes); the wallet's share of it is frozen.
  async function disputeOpened (tx: Db, dispute: Pick<Stripe.Dispute, 'id' | 'amount' | 'currency' | 'payment_intent'>): Promise<void> {
    const intentId = typeof dispute.payment_intent === 'string' ? dispute.payment_intent : dispute.payment_intent?.id
    if (!intentId) return
    const deposit = await creditedDeposit(tx, intentId)
    if (!deposit) return
    const { rows: known } = await tx.query('SELECT 1 FROM disputes WHERE id = $1', [dispute.id])
    if (known.length > 0) return
    const { user_id: userId, currency } = deposit
    const { legs, taken } = await takeFromPockets(tx, ledger, { userId, currency, amount: dispute.amount, order: CLAWBACK_ORDER })
    const { transactionId } = await ledger.transfer(tx, {
      idempotencyKey: `dispute-opened:${dispute.id}`,
      kind: 'dispute_opened',
      memo: 'Deposit disputed: amount frozen',
      externalRef: dispute.id,
      legs: [
        ...legs,
        { accountId: await ledger.ensureAccount(tx, { kind: 'dispute_hold', userId, currency }), amount: taken },
        { accountId: await ledger.ensureAccount(tx, { kind: 'external', currency }), amount: dispute.amount },
        { accountId: await ledger.ensureAccount(tx, { kind: 'gateway_hold', currency }), amount: -dispute.amount }
      ]
    })
    await tx.query(`INSERT INTO disputes (id, deposit_id, user_id, amount, currency, frozen_amount, hold_transaction_id)
      VALUES ($1, $2, $3, $4, $5, $6, $7)`, [dispute.id, deposit.id, userId, dispute.amount, currency, taken, transactionId])
    await activity.record(tx, { userId, kind: 'dispute', data: { disputeId: dispute.id, depositId: deposit.id, amount: dispute.amount, currency, status: 'open' } })
  }

  // charge.dispute.closed: won gives the frozen money back to its pockets (the gateway returns
  // the amount); lost takes it, and what was not frozen becomes debt.
  async function disputeClosed (tx: Db, dispute: Pick<Stripe.Dispute, 'id' | 'status'>): Promise<void> {
    if (dispute.status !== 'won' && dispute.status !== 'lost') return
    const { rows: [row] } = await tx.query<{ user_id: string, amount: string, currency: string, status: string, frozen_amount: string, hold_transaction_id: string }>(
      `SELECT user_id, amount::text, currency, status, frozen_amount::text, hold_transaction_id::text FROM disputes
       WHERE id = $1 FOR UPDATE`, [dispute.id])
    // Closed before its opening was seen: the opening's job retries, then this one.
    if (!row) throw new Error(`dispute ${dispute.id} closed before it was recorded as open`)
    if (row.status !== 'open') return
    const amount = toMoney(row.amount)
    const frozen = toMoney(row.frozen_amount)
    const { user_id: userId, currency } = row
    const hold = await ledger.ensureAccount(tx, { kind: 'dispute_hold', userId, currency })
    const gatewayHold = await ledger.ensureAccount(tx, { kind: 'gateway_hold', currency })
    if (dispute.status === 'won') {
      await ledger.transfer(tx, {
        idempotencyKey: `dispute-won:${dispute.id}`,
        kind: 'dispute_won',
        memo: 'Dispute won: frozen amount released',
        externalRef: dispute.id,
        legs: [
          ...await undoLegs(tx, toMoney(row.hold_transaction_id)),
          { accountId: hold, amount: -frozen },
          { accountId: await ledger.ensureAccount(tx, { kind: 'external', currency }), amount: -amount },
          { accountId: gatewayHold, amount }
        ]
      })
    } else {
      await ledger.transfer(tx, {
        idempotencyKey: `dispute-lost:${dispute.id}`,
        kind: 'dispute_lost',
        memo: amount > frozen ? `Dispute lost: ${amount - frozen} held as debt` : 'Dispute lost',
        legs: [
          { accountId: hold, amount: -frozen },
          { accountId: gatewayHold, amount },
          { accountId: await ledger.ensureAccount(tx, { kind: 'debt', userId, currency }), amount: -(amount - frozen) }
        ]
      })
    }
    await tx.query('UPDATE disputes SET status = $2, closed_at = now() WHERE id = $1', [dispute.id, dispute.status])
    await activity.record(tx, { userId, kind: 'dispute', data: { disputeId: dispute.id, amount, currency, status: dispute.status } })
  }

  return { credit, fail, refunded, disputeOpened, disputeClosed }
}

export type GatewayMovements = ReturnType<typeof createGatewayMovements>
