import { randomUUID } from 'node:crypto'
import type { EventBus } from '../shared/domain-events.ts'
import { errors } from '../../lib/errors.ts'
import type { ActivityService } from '../users/activity.ts'
import { joinableSql } from './rows.ts'
import { publish } from '../shared/domain-events.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import { createEntryFees } from '../money/entry-fees.ts'
import { toMoney, type LedgerService } from '../money/ledger.ts'
import { runOnce } from '../shared/stored-responses.ts'
import type { Db, Transact, TransactionClient } from '../shared/transactions.ts'
import type { InvitesService } from './invites.ts'
import { seenWithoutMembership } from '../shared/competition-access.ts'

export interface Membership {
  competitionId: string
  userId: string
  joinedAt: string
  entryFee: number
  currency: string
  transactionId: number | null
}

export interface Departure {
  competitionId: string
  userId: string
  refunded: number
  currency: string
  transactionId: number | null
}

export interface MembershipsDeps {
  transact: Transact
  invites: Pick<InvitesService, 'redeem'>
  ledger: LedgerService
  activity: Pick<ActivityService, 'record'>
  events: Pick<EventBus, 'emit'>
  clock: () => Date
}

// A participant row names a competition and a user that must exist.
function missingReference (err: unknown): Error | null {
  const e = err as { code?: string, constraint?: string }
  if (e.code !== '23503') return null
  return (e.constraint ?? '').includes('competition') ? errors.NotFound('Competition not found') : errors.NotFound('User not found')
}

// Joining and leaving: membership, capacity and money change in one transaction; the
// domain events go out only after it commits.
// Who joins and how: the acting user (an admin may act for another), the Idempotency-Key, and
// the invite a private competition asks for (its creator and admins need none).
export interface JoinOptions { actorId: string, actorIsAdmin?: boolean, idempotencyKey?: string, inviteCode?: string }

export function createMemberships ({ transact, invites, ledger, activity, events, clock }: MembershipsDeps) {
  const fees = createEntryFees(ledger)

  async function membership (tx: Db, competitionId: string, userId: string): Promise<Membership | null> {
    const { rows } = await tx.query(`SELECT p.joined_at, p.entry_fee_paid, p.fee_transaction_id, c.currency
      FROM participants p JOIN competitions c ON c.id = p.competition_id
      WHERE p.competition_id = $1 AND p.user_id = $2`, [competitionId, userId])
    const r = rows[0]
    if (!r) return null
    return {
      competitionId,
      userId,
      joinedAt: (r.joined_at as Date).toISOString(),
      entryFee: toMoney(r.entry_fee_paid),
      currency: r.currency,
      transactionId: r.fee_transaction_id === null ? null : toMoney(r.fee_transaction_id)
    }
  }

  async function whyNotJoinable (tx: Db, competitionId: string, now: Date): Promise<Error> {
    const { rows } = await tx.query('SELECT status, ends_at, max_participants, participant_count FROM competitions WHERE id = $1', [competitionId])
    const c = rows[0]
    if (!c) return errors.NotFound('Competition not found')
    if (!['scheduled', 'active'].includes(c.status) || c.ends_at <= now) return errors.Conflict(`Competition is ${c.status === 'scheduled' || c.status === 'active' ? 'over' : c.status} and cannot be joined`)
    return errors.Conflict('Competition is full')
  }

  // Membership, capacity and the fee commit together. The guarded UPDATE is the capacity
  // check: concurrent joins queue on the competition's row and re-check the count.
  async function addParticipant (tx: TransactionClient, competitionId: string, userId: string, opts: JoinOptions, attemptKey: string): Promise<{ membership: Membership, joined: boolean }> {
    const { actorId } = opts
    const now = clock()
    let inserted
    try {
      inserted = await tx.query(`INSERT INTO participants (competition_id, user_id, joined_at, reached_at)
        VALUES ($1, $2, $3, $3) ON CONFLICT (competition_id, user_id) DO NOTHING RETURNING user_id`, [competitionId, userId, now])
    } catch (err) {
      throw missingReference(err) ?? err
    }
    if (inserted.rows.length === 0) return { membership: (await membership(tx, competitionId, userId))!, joined: false }

    const { rows } = await tx.query(`UPDATE competitions c SET participant_count = participant_count + 1, updated_at = now()
      WHERE c.id = $1 AND ${joinableSql('$2')} RETURNING entry_fee, currency, visibility, created_by, score_order`, [competitionId, now])
    if (rows.length === 0) throw await whyNotJoinable(tx, competitionId, now)
    // Read under the competition's lock, which an edit of the order takes too.
    if (rows[0]!.score_order === 'lowest_wins') {
      await tx.query('UPDATE participants SET lowest_wins = true WHERE competition_id = $1 AND user_id = $2', [competitionId, userId])
    }
    // The joiner's own standing decides, except that an admin acting for them needs no invite.
    if (!seenWithoutMembership({ visibility: rows[0]!.visibility, createdBy: rows[0]!.created_by }, { id: userId, isAdmin: opts.actorIsAdmin === true })) {
      const inviteId = await invites.redeem(tx, competitionId, opts.inviteCode, now)
      await tx.query('UPDATE participants SET invite_id = $3 WHERE competition_id = $1 AND user_id = $2', [competitionId, userId, inviteId])
    }
    const entryFee = toMoney(rows[0]!.entry_fee)
    if (entryFee > 0) {
      const { transactionId } = await fees.charge(tx, { competitionId, userId, amount: entryFee, currency: rows[0]!.currency, attemptKey, actorId })
      await tx.query('UPDATE participants SET entry_fee_paid = $3, fee_transaction_id = $4 WHERE competition_id = $1 AND user_id = $2',
        [competitionId, userId, entryFee, transactionId])
    }
    await activity.record(tx, { userId, kind: 'joined', competitionId, data: { entryFee, currency: rows[0]!.currency } })
    await recordEvents(tx, [domainEvent('participant.joined', { competitionId, userId })])
    return { membership: (await membership(tx, competitionId, userId))!, joined: true }
  }

  // Joining twice is a no-op returning the same membership. With an Idempotency-Key, a
  // retry returns the first answer even if the user has left since.
  async function join (competitionId: string, userId: string, opts: JoinOptions): Promise<Membership> {
    const { idempotencyKey } = opts
    const { body, joined } = await transact(async (tx) => {
      if (idempotencyKey === undefined) {
        const result = await addParticipant(tx, competitionId, userId, opts, randomUUID())
        return { body: result.membership, joined: result.joined }
      }
      let joined = false
      const stored = await runOnce(tx, { scope: `join:${competitionId}:${userId}`, key: idempotencyKey, request: { competitionId, userId } }, async () => {
        const result = await addParticipant(tx, competitionId, userId, opts, idempotencyKey)
        joined = result.joined
        return { statusCode: 200, body: result.membership }
      })
      return { body: stored.body, joined }
    })
    if (joined) publish(events, 'participant.joined', { competitionId, userId })
    return body
  }

  async function removeParticipant (tx: TransactionClient, competitionId: string, userId: string, actorId: string): Promise<Departure> {
    const now = clock()
    // NO KEY UPDATE leaves the key-share locks of concurrent joins' inserts compatible.
    const { rows: found } = await tx.query('SELECT status, starts_at, currency FROM competitions WHERE id = $1 FOR NO KEY UPDATE', [competitionId])
    const competition = found[0]
    if (!competition) throw errors.NotFound('Competition not found')
    if (['cancelled', 'final', 'paid'].includes(competition.status)) throw errors.Conflict(`Competition is ${competition.status}: there is nothing to leave`)
    if (competition.status !== 'scheduled' || competition.starts_at <= now) throw errors.Conflict('Competition has started: leaving is only possible before the start')
    const { rows } = await tx.query(`DELETE FROM participants WHERE competition_id = $1 AND user_id = $2
      RETURNING entry_fee_paid, fee_transaction_id`, [competitionId, userId])
    if (rows.length === 0) throw errors.Conflict('Not a participant of this competition')
    await tx.query('UPDATE competitions SET participant_count = participant_count - 1, updated_at = now() WHERE id = $1', [competitionId])
    const paid = toMoney(rows[0]!.entry_fee_paid)
    const currency: string = competition.currency
    let transactionId: number | null = null
    if (paid > 0 && rows[0]!.fee_transaction_id !== null) {
      const refund = await fees.refund(tx, { competitionId, userId, amount: paid, currency, feeTransactionId: toMoney(rows[0]!.fee_transaction_id), actorId, reason: 'left' })
      transactionId = refund.transactionId
      await activity.record(tx, { userId, kind: 'refund', competitionId, data: { amount: paid, currency, reason: 'left' } })
    }
    await activity.record(tx, { userId, kind: 'left', competitionId, data: { refunded: paid, currency } })
    await recordEvents(tx, [domainEvent('participant.left', { competitionId, userId })])
    return { competitionId, userId, refunded: paid, currency, transactionId }
  }

  // Leaving before the start refunds the fee. With an Idempotency-Key a retry returns the
  // first answer; without one, leaving twice is a 409 (not a participant).
  async function leave (competitionId: string, userId: string, opts: { actorId: string, idempotencyKey?: string }): Promise<Departure> {
    const { idempotencyKey } = opts
    const { body, left } = await transact(async (tx) => {
      if (idempotencyKey === undefined) return { body: await removeParticipant(tx, competitionId, userId, opts.actorId), left: true }
      const stored = await runOnce(tx, { scope: `leave:${competitionId}:${userId}`, key: idempotencyKey, request: { competitionId, userId } },
        async () => ({ statusCode: 200, body: await removeParticipant(tx, competitionId, userId, opts.actorId) }))
      return { body: stored.body, left: !stored.replayed }
    })
    if (left) publish(events, 'participant.left', { competitionId, userId })
    return body
  }

  return { join, leave }
}
