import type { Db } from '../shared/transactions.ts'
import { toMoney, type AccountKind, type Leg, type LedgerService, type Pocket } from './ledger.ts'

// The documented orders in which money leaves a wallet's pockets.
// Entry fees spend promotional credit first (it can only be spent), then deposits, then
// winnings, so what the user could withdraw stays withdrawable longest.
export const ENTRY_FEE_ORDER: readonly Pocket[] = ['promo', 'deposits', 'winnings']
// Withdrawals pay out winnings first, then deposits; promotional credit never leaves.
export const WITHDRAWAL_ORDER: readonly Pocket[] = ['winnings', 'deposits']
// What the gateway takes back (refunds, disputes) comes from deposits, then winnings.
export const CLAWBACK_ORDER: readonly Pocket[] = ['deposits', 'winnings']

export interface Taken {
  legs: Leg[]
  taken: number
}

// Takes up to `amount` from a user's pockets in the given order: negative legs and their
// total. The pockets are locked first (in id order, as transfers lock), so two spends of one
// wallet see each other's result instead of both passing and one failing the balance check.
export async function takeFromPockets (tx: Db, ledger: Pick<LedgerService, 'ensureAccount'>, input: {
  userId: string
  currency: string
  amount: number
  order: readonly Pocket[]
}): Promise<Taken> {
  const ids: number[] = []
  for (const pocket of input.order) ids.push(await ledger.ensureAccount(tx, { kind: 'wallet', pocket, userId: input.userId, currency: input.currency }))
  const { rows } = await tx.query<{ id: string, balance: string }>(
    'SELECT id, balance FROM accounts WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE', [ids])
  const balances = new Map(rows.map((r) => [toMoney(r.id), toMoney(r.balance)]))
  const legs: Leg[] = []
  let remaining = input.amount
  for (const accountId of ids) {
    const take = Math.min(remaining, balances.get(accountId) ?? 0)
    if (take > 0) legs.push({ accountId, amount: -take })
    remaining -= take
  }
  return { legs, taken: input.amount - remaining }
}

// The legs that undo an earlier transaction's movements on accounts of the given kinds: money
// goes back to exactly the pockets it came from.
export async function undoLegs (tx: Db, transactionId: number, kinds: readonly AccountKind[] = ['wallet']): Promise<Leg[]> {
  const { rows } = await tx.query<{ account_id: string, amount: string }>(`SELECT e.account_id, e.amount
    FROM ledger_entries e JOIN accounts a ON a.id = e.account_id
    WHERE e.transaction_id = $1 AND a.kind = ANY($2::text[]) ORDER BY e.id`, [transactionId, kinds])
  return rows.map((r) => ({ accountId: toMoney(r.account_id), amount: -toMoney(r.amount) }))
}

// What a user owes in a currency (a refund or lost dispute their wallet could not cover), and
// the debt account that records it (its balance is minus the amount owed).
export async function debtOwed (tx: Db, ledger: Pick<LedgerService, 'ensureAccount' | 'balance'>, userId: string, currency: string): Promise<{ account: number, amount: number }> {
  const account = await ledger.ensureAccount(tx, { kind: 'debt', userId, currency })
  return { account, amount: -(await ledger.balance(tx, account)) }
}

export function sumLegs (legs: readonly Leg[]): number {
  return legs.reduce((sum, leg) => sum + leg.amount, 0)
}
