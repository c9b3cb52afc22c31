import { errors } from '../../lib/errors.ts'
import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import type { Db } from '../shared/transactions.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'

export type AccountKind = 'wallet' | 'escrow' | 'house' | 'external' |
  'withdrawal_pending' | 'dispute_hold' | 'debt' | 'gateway_hold'
export type TransactionKind = 'credit' | 'entry_fee' | 'refund' | 'prize' | 'house_fee' |
  'deposit' | 'deposit_refund' | 'withdrawal' | 'withdrawal_sent' | 'withdrawal_reversal' |
  'dispute_opened' | 'dispute_won' | 'dispute_lost'
// A wallet's pockets: deposits and winnings may be withdrawn, promotional credit only spent.
export type Pocket = 'deposits' | 'winnings' | 'promo'

export interface AccountRef {
  kind: AccountKind
  // Wallets only.
  pocket?: Pocket
  userId?: string
  competitionId?: string
  currency: string
}

export interface Leg {
  accountId: number
  amount: number
}

export interface TransferInput {
  idempotencyKey: string
  kind: TransactionKind
  competitionId?: string
  createdBy?: string
  memo?: string
  // The gateway object the transaction mirrors, for reconciliation.
  externalRef?: string
  legs: Leg[]
}

export interface WalletSummary {
  currency: string
  deposits: number
  winnings: number
  promo: number
  total: number
  withdrawable: number
  pendingWithdrawal: number
  frozen: number
  debt: number
}

export interface WalletEntry {
  id: number
  transactionId: number
  kind: TransactionKind
  competitionId: string | null
  memo: string | null
  pocket: Pocket
  currency: string
  amount: number
  balanceAfter: number
  createdAt: string
}

// Money is bigint in Postgres and a JS number here: only while it stays exact.
export function toMoney (value: string | number | bigint): number {
  const n = Number(value)
  if (!Number.isSafeInteger(n)) throw new Error(`amount ${String(value)} is not a safe integer`)
  return n
}

// Merges legs per account, drops zeros and orders by account id, so concurrent transfers
// touching the same accounts lock them in the same order.
function normaliseLegs (legs: Leg[]): Leg[] {
  const byAccount = new Map<number, number>()
  for (const { accountId, amount } of legs) {
    if (!Number.isSafeInteger(accountId) || !Number.isSafeInteger(amount)) throw new Error('ledger legs need integer accounts and amounts')
    byAccount.set(accountId, (byAccount.get(accountId) ?? 0) + amount)
  }
  const total = [...byAccount.values()].reduce((sum, amount) => sum + amount, 0)
  if (total !== 0) throw new Error(`ledger legs must sum to zero, got ${total}`)
  return [...byAccount].filter(([, amount]) => amount !== 0)
    .sort(([a], [b]) => a - b)
    .map(([accountId, amount]) => ({ accountId, amount }))
}

function isNegativeBalance (err: unknown): boolean {
  const e = err as { code?: string, table?: string }
  return e.code === '23514' && e.table === 'accounts'
}

export function createLedgerService () {
  async function ensureAccount (tx: Db, ref: AccountRef): Promise<number> {
    if ((ref.kind === 'wallet') !== (ref.pocket !== undefined)) throw new Error('a wallet account needs a pocket, and only a wallet has one')
    const values = [ref.kind, ref.pocket ?? null, ref.userId ?? null, ref.competitionId ?? null, ref.currency]
    await tx.query(`INSERT INTO accounts (kind, pocket, user_id, competition_id, currency) VALUES ($1, $2, $3, $4, $5)
      ON CONFLICT (kind, pocket, user_id, competition_id, currency) DO NOTHING`, values)
    const { rows } = await tx.query<{ id: string }>(`SELECT id FROM accounts
      WHERE kind = $1 AND pocket IS NOT DISTINCT FROM $2 AND user_id IS NOT DISTINCT FROM $3
        AND competition_id IS NOT DISTINCT FROM $4 AND currency = $5`, values)
    return toMoney(rows[0]!.id)
  }

  // Idempotent by key: a second call with the same key writes nothing and returns the first id.
  // The transaction's event, naming the users' wallets it moved money in or out of.
  async function recordPosting (tx: Db, transactionId: number, input: TransferInput): Promise<void> {
    const { rows } = await tx.query<{ user_id: string, amount: string, currency: string }>(`SELECT a.user_id, sum(e.amount)::text AS amount, a.currency
      FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
      WHERE e.transaction_id = $1 AND a.kind = 'wallet' GROUP BY a.user_id, a.currency HAVING sum(e.amount) <> 0
      ORDER BY min(e.id)`, [transactionId])
    await recordEvents(tx, [domainEvent('ledger.posted', {
      transactionId,
      kind: input.kind,
      competitionId: input.competitionId ?? null,
      wallets: rows.map((r) => ({ userId: r.user_id, amount: Number(r.amount), currency: r.currency }))
    })])
  }

  async function transfer (tx: Db, input: TransferInput): Promise<{ transactionId: number, created: boolean }> {
    const legs = normaliseLegs(input.legs)
    const inserted = await tx.query<{ id: string }>(`INSERT INTO ledger_transactions (idempotency_key, kind, competition_id, created_by, memo, external_ref)
      VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
    [input.idempotencyKey, input.kind, input.competitionId ?? null, input.createdBy ?? null, input.memo ?? null, input.externalRef ?? null])
    if (inserted.rows.length === 0) {
      const existing = await tx.query<{ id: string }>('SELECT id FROM ledger_transactions WHERE idempotency_key = $1', [input.idempotencyKey])
      return { transactionId: toMoney(existing.rows[0]!.id), created: false }
    }
    const transactionId = toMoney(inserted.rows[0]!.id)
    if (legs.length > 0) {
      try {
        // WITH ORDINALITY keeps the rows (and so the account locks) in the sorted order.
        await tx.query(`INSERT INTO ledger_entries (transaction_id, account_id, amount)
          SELECT $1, leg.account_id, leg.amount FROM unnest($2::bigint[], $3::bigint[]) WITH ORDINALITY AS leg (account_id, amount, n)
          ORDER BY leg.n`,
        [transactionId, legs.map((l) => l.accountId), legs.map((l) => l.amount)])
      } catch (err) {
        if (isNegativeBalance(err)) throw errors.InsufficientFunds('Insufficient funds for this operation')
        throw err
      }
    }
    await recordPosting(tx, transactionId, input)
    return { transactionId, created: true }
  }

  async function balance (tx: Db, accountId: number): Promise<number> {
    const { rows } = await tx.query<{ balance: string }>('SELECT balance FROM accounts WHERE id = $1', [accountId])
    if (rows.length === 0) throw errors.NotFound('Account not found')
    return toMoney(rows[0]!.balance)
  }

  // Per currency: the wallet's total over its pockets, and what of it may be withdrawn.
  async function walletBalances (db: Db, userId: string): Promise<Array<{ currency: string, balance: number, withdrawable: number }>> {
    const { rows } = await db.query<{ currency: string, balance: string, withdrawable: string }>(`SELECT currency,
        sum(balance)::text AS balance, (sum(balance) FILTER (WHERE pocket <> 'promo'))::text AS withdrawable
      FROM accounts WHERE kind = 'wallet' AND user_id = $1 GROUP BY currency ORDER BY currency`, [userId])
    return rows.map((r) => ({ currency: r.currency, balance: toMoney(r.balance), withdrawable: toMoney(r.withdrawable ?? 0) }))
  }

  // Per currency, every account a user holds: the wallet's pockets and the money set aside.
  async function walletSummary (db: Db, userId: string): Promise<WalletSummary[]> {
    const { rows } = await db.query<Record<string, string>>(`SELECT currency,
        coalesce(sum(balance) FILTER (WHERE pocket = 'deposits'), 0)::text AS deposits,
        coalesce(sum(balance) FILTER (WHERE pocket = 'winnings'), 0)::text AS winnings,
        coalesce(sum(balance) FILTER (WHERE pocket = 'promo'), 0)::text AS promo,
        coalesce(sum(balance) FILTER (WHERE kind = 'withdrawal_pending'), 0)::text AS pending,
        coalesce(sum(balance) FILTER (WHERE kind = 'dispute_hold'), 0)::text AS frozen,
        coalesce(-sum(balance) FILTER (WHERE kind = 'debt'), 0)::text AS debt
      FROM accounts WHERE user_id = $1 GROUP BY currency ORDER BY currency`, [userId])
    return rows.map((r) => {
      const [deposits, winnings, promo, debt] = [toMoney(r.deposits!), toMoney(r.winnings!), toMoney(r.promo!), toMoney(r.debt!)]
      return {
        currency: r.currency!,
        deposits,
        winnings,
        promo,
        total: deposits + winnings + promo,
        withdrawable: debt > 0 ? 0 : deposits + winnings,
        pendingWithdrawal: toMoney(r.pending!),
        frozen: toMoney(r.frozen!),
        debt
      }
    })
  }

  // A user's wallet entries, newest first; balanceAfter is the wallet's running balance.
  async function listWalletEntries (db: Db, userId: string, page: { cursor?: string, limit: number }): Promise<Page<WalletEntry>> {
    const request = pageRequest(page.cursor, ['number'])
    const { rows } = await db.query(`SELECT e.id, e.transaction_id, t.kind, t.competition_id, t.memo, a.pocket, a.currency, e.amount, e.balance_after, e.created_at
      FROM ledger_entries e
      JOIN accounts a ON a.id = e.account_id
      JOIN ledger_transactions t ON t.id = e.transaction_id
      WHERE a.kind = 'wallet' AND a.user_id = $1 AND ($2::bigint IS NULL OR e.id ${request.compare} $2)
      ORDER BY e.id ${request.order} LIMIT $3`, [userId, request.key?.[0] ?? null, page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, (r) => [Number(r.id)])
    const items: WalletEntry[] = shown.map((r) => ({
      id: toMoney(r.id),
      transactionId: toMoney(r.transaction_id),
      kind: r.kind,
      competitionId: r.competition_id,
      memo: r.memo,
      pocket: r.pocket,
      currency: r.currency,
      amount: toMoney(r.amount),
      balanceAfter: toMoney(r.balance_after),
      createdAt: (r.created_at as Date).toISOString()
    }))
    return { items, nextCursor, prevCursor }
  }

  return { ensureAccount, transfer, balance, walletBalances, walletSummary, listWalletEntries }
}

export type LedgerService = ReturnType<typeof createLedgerService>
