import { randomUUID } from 'node:crypto'
import { CREATED_AT_MICROS, createdBeyond, createdKey, createdKeyOf, createdOrder, createdPageRequest, type Page, pageOf } from '../shared/cursors.ts'
import { runOnce, type StoredResponse } from '../shared/stored-responses.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import { errors } from '../../lib/errors.ts'
import { toMoney } from '../money/ledger.ts'
import { asClientError, type Gateway } from './gateway.ts'
import { checkRange, limitsFor, type CurrencyLimits } from './limits.ts'

export type DepositStatus = 'pending' | 'succeeded' | 'failed'

export interface Deposit {
  id: string
  amount: number
  currency: string
  status: DepositStatus
  refundedAmount: number
  failureCode: string | null
  failureMessage: string | null
  createdAt: string
  updatedAt: string
}

export interface StartedDeposit extends Deposit {
  paymentIntentId: string
  // What the app confirms the payment with (Stripe's Payment Sheet or Elements).
  clientSecret: string
  publishableKey: string | null
}

const COLUMNS = 'id, amount, currency, status, refunded_amount, failure_code, failure_message, created_at, updated_at'

function toDeposit (r: Record<string, unknown>): Deposit {
  return {
    id: r.id as string,
    amount: toMoney(r.amount as string),
    currency: r.currency as string,
    status: r.status as DepositStatus,
    refundedAmount: toMoney(r.refunded_amount as string),
    failureCode: r.failure_code as string | null,
    failureMessage: r.failure_message as string | null,
    createdAt: (r.created_at as Date).toISOString(),
    updatedAt: (r.updated_at as Date).toISOString()
  }
}

// A deposit starts as a PaymentIntent the app confirms; the wallet is credited only when the
// gateway's signed payment_intent.succeeded arrives (services/payments/deposit-events.ts).
export function createDepositsService ({ pool, transact, gateway, limits, publishableKey }: {
  pool: Db
  transact: Transact
  gateway: Pick<Gateway, 'paymentIntents'>
  limits: Map<string, CurrencyLimits>
  publishableKey: string
}) {
  async function start (userId: string, input: { amount: number, currency: string }, opts: { idempotencyKey: string }): Promise<StoredResponse<StartedDeposit>> {
    const limit = limitsFor(limits, input.currency)
    checkRange(input.amount, limit.depositMin, limit.depositMax, 'deposit')
    const request = { userId, ...input }
    return await transact(async (tx) => await runOnce(tx, { scope: 'deposit', key: opts.idempotencyKey, request }, async () => {
      // One start at a time per user, so two concurrent deposits cannot both pass the daily limit.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`deposit-limit\n${userId}`])
      const { rows: [day] } = await tx.query<{ total: string }>(`SELECT coalesce(sum(amount), 0)::text AS total FROM deposits
        WHERE user_id = $1 AND currency = $2 AND status <> 'failed' AND created_at > now() - interval '24 hours'`, [userId, input.currency])
      if (toMoney(day!.total) + input.amount > limit.depositDailyMax) {
        throw errors.LimitExceeded(`Deposits are limited to ${limit.depositDailyMax} minor units of ${input.currency} in 24 hours`)
      }
      const id = randomUUID()
      const intent = await gateway.paymentIntents.create({
        amount: input.amount,
        currency: input.currency.toLowerCase(),
        automatic_payment_methods: { enabled: true },
        description: 'Wallet deposit',
        metadata: { depositId: id, userId }
      }, { idempotencyKey: `deposit-${id}` }).catch(asClientError)
      const { rows: [row] } = await tx.query(`INSERT INTO deposits (id, user_id, amount, currency, payment_intent_id)
        VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`, [id, userId, input.amount, input.currency, intent.id])
      const body: StartedDeposit = {
        ...toDeposit(row!),
        paymentIntentId: intent.id,
        clientSecret: intent.client_secret ?? '',
        publishableKey: publishableKey === '' ? null : publishableKey
      }
      return { statusCode: 201, body }
    }))
  }

  async function get (userId: string, id: string): Promise<Deposit> {
    const { rows } = await pool.query(`SELECT ${COLUMNS} FROM deposits WHERE id = $1 AND user_id = $2`, [id, userId])
    if (rows.length === 0) throw errors.NotFound('Deposit not found')
    return toDeposit(rows[0])
  }

  async function list (userId: string, page: { cursor?: string, limit: number }): Promise<Page<Deposit>> {
    const request = createdPageRequest(page.cursor)
    const { rows } = await pool.query(`SELECT ${COLUMNS}, ${CREATED_AT_MICROS} FROM deposits
      WHERE user_id = $1 AND ${createdBeyond(request, 2)}
      ORDER BY ${createdOrder(request)} LIMIT $4`, [userId, ...createdKey(request), page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, createdKeyOf)
    return { items: shown.map(toDeposit), nextCursor, prevCursor }
  }

  return { start, get, list }
}

export type DepositsService = ReturnType<typeof createDepositsService>
