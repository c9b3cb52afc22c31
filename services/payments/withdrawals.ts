import { randomUUID } from 'node:crypto'
import type Stripe from 'stripe'
import { errors } from '../../lib/errors.ts'
import { CREATED_AT_MICROS, createdBeyond, createdKey, createdKeyOf, createdOrder, createdPageRequest, type Page, pageOf } from '../shared/cursors.ts'
import type { JobQueue } from '../shared/jobs.ts'
import { runOnce, type StoredResponse } from '../shared/stored-responses.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import type { ActivityService } from '../users/activity.ts'
import { toMoney, type LedgerService } from '../money/ledger.ts'
import { debtOwed, sumLegs, takeFromPockets, undoLegs, WITHDRAWAL_ORDER } from '../money/pockets.ts'
import { isPermanentRefusal, type Gateway } from './gateway.ts'
import { checkRange, limitsFor, type CurrencyLimits } from './limits.ts'
import type { PayoutAccountsService } from './payout-accounts.ts'

export const WITHDRAWAL_QUEUE = 'payments.withdrawal'
export interface WithdrawalJob { withdrawalId: string }

export type WithdrawalStatus = 'review' | 'processing' | 'in_transit' | 'paid' | 'failed' | 'rejected'
const FINAL: readonly WithdrawalStatus[] = ['paid', 'failed', 'rejected']

export interface Withdrawal {
  id: string
  userId: string
  amount: number
  currency: string
  status: WithdrawalStatus
  failureCode: string | null
  failureMessage: string | null
  createdAt: string
  updatedAt: string
}

interface WithdrawalRow {
  id: string
  user_id: string
  amount: string
  currency: string
  status: WithdrawalStatus
  stripe_account_id: string
  transfer_id: string | null
  payout_id: string | null
  reserve_transaction_id: string
  failure_code: string | null
  failure_message: string | null
  created_at: Date
  updated_at: Date
}

function toWithdrawal (r: WithdrawalRow): Withdrawal {
  return {
    id: r.id,
    userId: r.user_id,
    amount: toMoney(r.amount),
    currency: r.currency,
    status: r.status,
    failureCode: r.failure_code,
    failureMessage: r.failure_message,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString()
  }
}

// Withdrawals of deposits and winnings to the user's payout account. The amount moves to a
// pending-withdrawal account at request time (so it cannot be spent twice), then a job sends
// a Transfer to the connected account and a Payout to the bank. A failure at either step puts
// the money back in the pockets it came from, once: the reversal is keyed by the withdrawal.
export function createWithdrawalsService ({ pool, transact, ledger, activity, gateway, jobs, limits, payoutAccounts }: {
  pool: Db
  transact: Transact
  ledger: LedgerService
  activity: Pick<ActivityService, 'record'>
  gateway: Pick<Gateway, 'transfers' | 'payouts'>
  jobs: JobQueue
  limits: Map<string, CurrencyLimits>
  payoutAccounts: Pick<PayoutAccountsService, 'find'>
}) {
  async function lock (tx: Db, id: string): Promise<WithdrawalRow | undefined> {
    const { rows } = await tx.query<WithdrawalRow>('SELECT * FROM withdrawals WHERE id = $1 FOR UPDATE', [id])
    return rows[0]
  }

  async function request (userId: string, input: { amount: number, currency: string }, opts: { idempotencyKey: string }): Promise<StoredResponse<Withdrawal>> {
    const limit = limitsFor(limits, input.currency)
    checkRange(input.amount, limit.withdrawalMin, limit.withdrawalMax, 'withdrawal')
    return await transact(async (tx) => await runOnce(tx, { scope: 'withdrawal', key: opts.idempotencyKey, request: { userId, ...input } }, async () => {
      const account = await payoutAccounts.find(tx, userId)
      if (!account?.payoutsEnabled) throw errors.Conflict('Finish setting up a payout account before withdrawing')
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`withdrawal-limit\n${userId}`])
      const debt = await debtOwed(tx, ledger, userId, input.currency)
      if (debt.amount > 0) throw errors.OutstandingDebt(`An outstanding debt of ${debt.amount} minor units must be paid off by a deposit before withdrawing`)
      const { legs, taken } = await takeFromPockets(tx, ledger, { userId, currency: input.currency, amount: input.amount, order: WITHDRAWAL_ORDER })
      if (taken < input.amount) throw errors.InsufficientFunds(`Only ${taken} minor units of ${input.currency} may be withdrawn`)
      const { rows: [day] } = await tx.query<{ total: string }>(`SELECT coalesce(sum(amount), 0)::text AS total FROM withdrawals
        WHERE user_id = $1 AND currency = $2 AND status NOT IN ('failed', 'rejected') AND created_at > now() - interval '24 hours'`, [userId, input.currency])
      if (toMoney(day!.total) + input.amount > limit.withdrawalDailyMax) {
        throw errors.LimitExceeded(`Withdrawals are limited to ${limit.withdrawalDailyMax} minor units of ${input.currency} in 24 hours`)
      }
      const id = randomUUID()
      const { transactionId } = await ledger.transfer(tx, {
        idempotencyKey: `withdrawal:${id}`,
        kind: 'withdrawal',
        memo: 'Withdrawal requested',
        legs: [...legs, { accountId: await ledger.ensureAccount(tx, { kind: 'withdrawal_pending', userId, currency: input.currency }), amount: input.amount }]
      })
      const status: WithdrawalStatus = input.amount > limit.reviewAbove ? 'review' : 'processing'
      const { rows: [row] } = await tx.query<WithdrawalRow>(`INSERT INTO withdrawals (id, user_id, amount, currency, status, stripe_account_id, reserve_transaction_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`, [id, userId, input.amount, input.currency, status, account.stripeAccountId, transactionId])
      if (status === 'processing') await jobs.send(tx, WITHDRAWAL_QUEUE, { withdrawalId: id } satisfies WithdrawalJob)
      await activity.record(tx, { userId, kind: 'withdrawal', data: { withdrawalId: id, amount: input.amount, currency: input.currency, status } })
      return { statusCode: 201, body: toWithdrawal(row!) }
    }))
  }

  // Puts the reserved money back in its pockets, once. Before the transfer it comes from the
  // pending account; after it, from the gateway (the transfer was reversed).
  async function reverse (tx: Db, row: WithdrawalRow, outcome: { status: 'failed' | 'rejected', code: string, message: string | null, reversalId?: string }): Promise<void> {
    const back = await undoLegs(tx, toMoney(row.reserve_transaction_id))
    const from = row.transfer_id === null
      ? await ledger.ensureAccount(tx, { kind: 'withdrawal_pending', userId: row.user_id, currency: row.currency })
      : await ledger.ensureAccount(tx, { kind: 'external', currency: row.currency })
    await ledger.transfer(tx, {
      idempotencyKey: `withdrawal-reversal:${row.id}`,
      kind: 'withdrawal_reversal',
      memo: outcome.status === 'rejected' ? 'Withdrawal rejected: money returned' : `Withdrawal failed (${outcome.code}): money returned`,
      externalRef: outcome.reversalId,
      legs: [...back, { accountId: from, amount: -sumLegs(back) }]
    })
    await tx.query('UPDATE withdrawals SET status = $2, failure_code = $3, failure_message = $4, updated_at = now() WHERE id = $1',
      [row.id, outcome.status, outcome.code, outcome.message])
    await activity.record(tx, { userId: row.user_id, kind: 'withdrawal', data: { withdrawalId: row.id, amount: toMoney(row.amount), currency: row.currency, status: outcome.status } })
    await recordEvents(tx, [domainEvent('withdrawal.failed', {
      withdrawalId: row.id, userId: row.user_id, amount: toMoney(row.amount), currency: row.currency, status: outcome.status, reason: outcome.code
    })])
  }

  // After the transfer, a failure needs the transfer reversed at the gateway first.
  async function reverseAfterTransfer (tx: Db, row: WithdrawalRow, code: string, message: string | null): Promise<void> {
    const reversal = await gateway.transfers.createReversal(row.transfer_id!, { metadata: { withdrawalId: row.id } },
      { idempotencyKey: `withdrawal-reversal-${row.id}` })
    await reverse(tx, row, { status: 'failed', code, message, reversalId: reversal.id })
  }

  function refusal (err: unknown): { code: string, message: string } {
    const e = err as Stripe.errors.StripeError
    return { code: e.code ?? e.type ?? 'gateway_refused', message: e.message }
  }

  // The job: transfer, then payout. Each gateway call carries an idempotency key derived from
  // the withdrawal, so a job retried after a crash never sends money twice.
  async function execute ({ withdrawalId }: WithdrawalJob): Promise<void> {
    let row = await transact(async (tx) => await lock(tx, withdrawalId))
    if (!row || row.status !== 'processing') return
    if (row.transfer_id === null) {
      let transfer: Stripe.Transfer
      try {
        transfer = await gateway.transfers.create({
          amount: toMoney(row.amount),
          currency: row.currency.toLowerCase(),
          destination: row.stripe_account_id,
          transfer_group: row.id,
          metadata: { withdrawalId: row.id }
        }, { idempotencyKey: `withdrawal-transfer-${row.id}` })
      } catch (err) {
        if (!isPermanentRefusal(err)) throw err
        const { code, message } = refusal(err)
        await transact(async (tx) => {
          const locked = await lock(tx, withdrawalId)
          if (locked && !FINAL.includes(locked.status)) await reverse(tx, locked, { status: 'failed', code, message })
        })
        return
      }
      row = await transact(async (tx) => {
        const locked = (await lock(tx, withdrawalId))!
        if (locked.transfer_id !== null) return locked
        await ledger.transfer(tx, {
          idempotencyKey: `withdrawal-sent:${locked.id}`,
          kind: 'withdrawal_sent',
          memo: 'Withdrawal sent to the payout account',
          externalRef: transfer.id,
          legs: [
            { accountId: await ledger.ensureAccount(tx, { kind: 'withdrawal_pending', userId: locked.user_id, currency: locked.currency }), amount: -toMoney(locked.amount) },
            { accountId: await ledger.ensureAccount(tx, { kind: 'external', currency: locked.currency }), amount: toMoney(locked.amount) }
          ]
        })
        const { rows } = await tx.query<WithdrawalRow>('UPDATE withdrawals SET transfer_id = $2, updated_at = now() WHERE id = $1 RETURNING *', [locked.id, transfer.id])
        return rows[0]!
      })
    }
    if (row.payout_id !== null || row.status !== 'processing') return
    try {
      const payout = await gateway.payouts.create({
        amount: toMoney(row.amount),
        currency: row.currency.toLowerCase(),
        metadata: { withdrawalId: row.id }
      }, { stripeAccount: row.stripe_account_id, idempotencyKey: `withdrawal-payout-${row.id}` })
      await pool.query(`UPDATE withdrawals SET payout_id = $2, status = 'in_transit', updated_at = now()
        WHERE id = $1 AND status = 'processing'`, [row.id, payout.id])
    } catch (err) {
      if (!isPermanentRefusal(err)) throw err
      const { code, message } = refusal(err)
      await transact(async (tx) => {
        const locked = await lock(tx, withdrawalId)
        if (locked && !FINAL.includes(locked.status)) await reverseAfterTransfer(tx, locked, code, message)
      })
    }
  }

  async function payoutPaid (tx: Db, payout: Pick<Stripe.Payout, 'id'>): Promise<void> {
    const { rows } = await tx.query<WithdrawalRow>(`UPDATE withdrawals SET status = 'paid', updated_at = now()
      WHERE payout_id = $1 AND status = 'in_transit' RETURNING *`, [payout.id])
    const row = rows[0]
    if (!row) return
    await activity.record(tx, { userId: row.user_id, kind: 'withdrawal', data: { withdrawalId: row.id, amount: toMoney(row.amount), currency: row.currency, status: 'paid' } })
    await recordEvents(tx, [domainEvent('withdrawal.paid', { withdrawalId: row.id, userId: row.user_id, amount: toMoney(row.amount), currency: row.currency })])
  }

  // payout.failed: the bank refused; the money comes back, once.
  async function payoutFailed (tx: Db, payout: Pick<Stripe.Payout, 'id' | 'failure_code' | 'failure_message'>): Promise<void> {
    const { rows } = await tx.query<{ id: string }>('SELECT id FROM withdrawals WHERE payout_id = $1', [payout.id])
    if (!rows[0]) return
    const row = (await lock(tx, rows[0].id))!
    // A payout can fail after it was reported paid; one already reversed stays as it is.
    if (row.status === 'failed' || row.status === 'rejected') return
    await reverseAfterTransfer(tx, row, payout.failure_code ?? 'payout_failed', payout.failure_message ?? null)
  }

  // An admin's decision on a withdrawal waiting for review.
  async function review (id: string, decision: 'approve' | 'reject', adminId: string): Promise<Withdrawal> {
    return await transact(async (tx) => {
      const row = await lock(tx, id)
      if (!row) throw errors.NotFound('Withdrawal not found')
      if (row.status !== 'review') throw errors.Conflict(`The withdrawal is ${row.status}, not waiting for review`)
      if (decision === 'approve') {
        await tx.query('UPDATE withdrawals SET status = \'processing\', reviewed_by = $2, updated_at = now() WHERE id = $1', [id, adminId])
        await jobs.send(tx, WITHDRAWAL_QUEUE, { withdrawalId: id } satisfies WithdrawalJob)
      } else {
        await reverse(tx, row, { status: 'rejected', code: 'rejected', message: 'Rejected on review' })
        await tx.query('UPDATE withdrawals SET reviewed_by = $2 WHERE id = $1', [id, adminId])
      }
      return toWithdrawal((await lock(tx, id))!)
    })
  }

  async function get (userId: string, id: string): Promise<Withdrawal> {
    const { rows } = await pool.query<WithdrawalRow>('SELECT * FROM withdrawals WHERE id = $1 AND user_id = $2', [id, userId])
    if (!rows[0]) throw errors.NotFound('Withdrawal not found')
    return toWithdrawal(rows[0])
  }

  // A user's withdrawals, or (no user) everyone's with a status, for admins.
  async function list (filter: { userId?: string, status?: WithdrawalStatus }, page: { cursor?: string, limit: number }): Promise<Page<Withdrawal>> {
    const request = createdPageRequest(page.cursor)
    const { rows } = await pool.query<WithdrawalRow & { created_at_us: string }>(`SELECT *, ${CREATED_AT_MICROS} FROM withdrawals
      WHERE ($1::uuid IS NULL OR user_id = $1) AND ($2::text IS NULL OR status = $2) AND ${createdBeyond(request, 3)}
      ORDER BY ${createdOrder(request)} LIMIT $5`, [filter.userId ?? null, filter.status ?? null, ...createdKey(request), page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, createdKeyOf)
    return { items: shown.map(toWithdrawal), nextCursor, prevCursor }
  }

  return { request, execute, payoutPaid, payoutFailed, review, get, list }
}

export type WithdrawalsService = ReturnType<typeof createWithdrawalsService>
