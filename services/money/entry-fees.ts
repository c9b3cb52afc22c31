import { errors } from '../../lib/errors.ts'
import type { LedgerService } from './ledger.ts'
import { ENTRY_FEE_ORDER, sumLegs, takeFromPockets, undoLegs } from './pockets.ts'
import type { Db } from '../shared/transactions.ts'

export interface FeeCharge {
  competitionId: string
  userId: string
  amount: number
  currency: string
  // Unique per join attempt, so a user who left and joins again pays again.
  attemptKey: string
  actorId: string
}

export interface FeeRefund {
  competitionId: string
  userId: string
  amount: number
  currency: string
  feeTransactionId: number
  actorId?: string
  reason: 'left' | 'cancelled'
}

// Entry fees move wallet -> competition escrow, refunds the reverse, always inside the
// caller's transaction so the money moves with the membership change it pays for. A fee is
// spent from the pockets in ENTRY_FEE_ORDER, and a refund returns each part to its pocket.
export function createEntryFees (ledger: LedgerService) {
  async function charge (tx: Db, fee: FeeCharge): Promise<{ transactionId: number }> {
    const { legs, taken } = await takeFromPockets(tx, ledger, { userId: fee.userId, currency: fee.currency, amount: fee.amount, order: ENTRY_FEE_ORDER })
    if (taken < fee.amount) throw errors.InsufficientFunds('Insufficient funds for this operation')
    const escrow = await ledger.ensureAccount(tx, { kind: 'escrow', competitionId: fee.competitionId, currency: fee.currency })
    const { transactionId } = await ledger.transfer(tx, {
      idempotencyKey: `entry-fee:${fee.competitionId}:${fee.userId}:${fee.attemptKey}`,
      kind: 'entry_fee',
      competitionId: fee.competitionId,
      createdBy: fee.actorId,
      memo: 'Entry fee',
      legs: [...legs, { accountId: escrow, amount: fee.amount }]
    })
    return { transactionId }
  }

  // Keyed by the fee's own transaction: whichever path refunds first (leaving or
  // cancellation), a fee is returned at most once.
  async function refund (tx: Db, fee: FeeRefund): Promise<{ transactionId: number, created: boolean }> {
    const back = await undoLegs(tx, fee.feeTransactionId)
    const escrow = await ledger.ensureAccount(tx, { kind: 'escrow', competitionId: fee.competitionId, currency: fee.currency })
    return await ledger.transfer(tx, {
      idempotencyKey: `refund:${fee.feeTransactionId}`,
      kind: 'refund',
      competitionId: fee.competitionId,
      createdBy: fee.actorId,
      memo: fee.reason === 'left' ? 'Entry fee refund: left before start' : 'Entry fee refund: competition cancelled',
      legs: [{ accountId: escrow, amount: -sumLegs(back) }, ...back]
    })
  }

  return { charge, refund }
}

export type EntryFees = ReturnType<typeof createEntryFees>
