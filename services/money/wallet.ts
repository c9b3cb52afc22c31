import { errors } from '../../lib/errors.ts'
import type { ActivityService } from '../users/activity.ts'
import type { LedgerService, Pocket, WalletSummary } from './ledger.ts'
import { ENTRY_FEE_ORDER } from './pockets.ts'
import type { Db } from '../shared/transactions.ts'
import { runOnce, type StoredResponse } from '../shared/stored-responses.ts'
import type { Transact } from '../shared/transactions.ts'

export interface Credit {
  amount: number
  currency: string
  memo?: string
}

export interface CreditResult {
  transactionId: number
  userId: string
  amount: number
  currency: string
  balance: number
}

// Support credits: promotional money from outside (external -> the wallet's promo pocket),
// spendable on entry fees but never withdrawn.
export function createWalletService ({ pool, transact, ledger, activity }: {
  pool: Db
  transact: Transact
  ledger: LedgerService
  activity: Pick<ActivityService, 'record'>
}) {
  async function credit (userId: string, input: Credit, opts: { actorId: string, idempotencyKey: string }): Promise<StoredResponse<CreditResult>> {
    const request = { userId, amount: input.amount, currency: input.currency, memo: input.memo ?? null }
    return await transact(async (tx) => await runOnce(tx, { scope: 'wallet-credit', key: opts.idempotencyKey, request }, async () => {
      const { rows } = await tx.query('SELECT 1 FROM users WHERE id = $1', [userId])
      if (rows.length === 0) throw errors.NotFound('User not found')
      const external = await ledger.ensureAccount(tx, { kind: 'external', currency: input.currency })
      const wallet = await ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'promo', userId, currency: input.currency })
      const { transactionId } = await ledger.transfer(tx, {
        idempotencyKey: `credit:${opts.idempotencyKey}`,
        kind: 'credit',
        createdBy: opts.actorId,
        memo: input.memo ?? 'Credit',
        legs: [{ accountId: external, amount: -input.amount }, { accountId: wallet, amount: input.amount }]
      })
      await activity.record(tx, { userId, kind: 'credit', data: { amount: input.amount, currency: input.currency, transactionId } })
      const balance = (await ledger.walletBalances(tx, userId)).find((w) => w.currency === input.currency)?.balance ?? 0
      return { statusCode: 201, body: { transactionId, userId, amount: input.amount, currency: input.currency, balance } }
    }))
  }

  // What a user holds per currency, and the order entry fees spend the pockets in.
  async function summary (userId: string): Promise<{ wallets: WalletSummary[], spendingOrder: Pocket[] }> {
    return { wallets: await ledger.walletSummary(pool, userId), spendingOrder: [...ENTRY_FEE_ORDER] }
  }

  return { credit, summary }
}

export type WalletService = ReturnType<typeof createWalletService>
