import { errors } from '../../lib/errors.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import type { Db, Transact, TransactionClient } from '../shared/transactions.ts'

// Deleting an account (the user, an admin, or Supabase Auth after the auth user was deleted).
//
// The rule (README, "Leaving"): personal data is deleted; the users row stays as a pseudonymous
// tombstone so the ledger, wallets, participations, score history and prize rows keep valid
// references and other people's results and paid prizes stay explainable; money records stay
// as the law on bookkeeping asks. A user deleting their own account must first settle it (see
// unsettled()); an admin may force the deletion, and Supabase Auth always does (the identity is
// already gone): money left in the closed wallet stays there, in the ledger, for operators.

export type DeletionOrigin = 'self' | 'admin' | 'auth'

export const DELETED_NAME = 'Deleted user'

export interface DeletionDeps {
  pool: Db
  transact: Transact
  // The stored avatar; a failure leaves a file no row points to, removed again by a job.
  removeObject: (key: string) => Promise<void>
  // Revokes and forgets the user's cloud provider grants before the erasure (best effort).
  revokeConnections: (userId: string) => Promise<void>
  // Leaves a competition that has not started, refunding its entry fee (the competitions' own rule).
  leave: (competitionId: string, userId: string) => Promise<void>
  // In the erasing transaction: work that must follow it, enqueued with it (the auth user's deletion).
  erased?: (tx: TransactionClient, userId: string, origin: DeletionOrigin) => Promise<void>
  // After commit: every instance refuses the account's tokens; caches and leaderboards forget it.
  deleted: (userId: string) => Promise<void>
}

export interface DeletionResult {
  userId: string
  deletedAt: string
  // False when the account was already deleted (a repeated request changes nothing).
  erased: boolean
}

// What keeps a user from deleting their own account, each with what to do about it.
async function unsettled (tx: TransactionClient, userId: string): Promise<string[]> {
  // Locked so no transfer moves the wallet between this check and the commit.
  await tx.query('SELECT id FROM accounts WHERE user_id = $1 ORDER BY id FOR UPDATE', [userId])
  const { rows: [state] } = await tx.query<{ withdrawable: string, withdrawals: number, disputes: number, competitions: number }>(`SELECT
      (SELECT coalesce(sum(balance), 0) FROM accounts WHERE user_id = $1 AND kind = 'wallet' AND pocket IN ('deposits', 'winnings')) AS withdrawable,
      (SELECT count(*)::int FROM withdrawals WHERE user_id = $1 AND status IN ('review', 'processing', 'in_transit')) AS withdrawals,
      (SELECT count(*)::int FROM disputes WHERE user_id = $1 AND status = 'open') AS disputes,
      (SELECT count(*)::int FROM participants p JOIN competitions c ON c.id = p.competition_id
        WHERE p.user_id = $1 AND c.status IN ('scheduled', 'active', 'grace')) AS competitions`, [userId])
  const reasons: string[] = []
  if (BigInt(state!.withdrawable) > 0n) reasons.push('the wallet holds money that can be withdrawn: withdraw it first')
  if (state!.withdrawals > 0) reasons.push('a withdrawal is on its way: wait until it is paid')
  if (state!.disputes > 0) reasons.push('a payment dispute is open: wait until it is closed')
  if (state!.competitions > 0) reasons.push('you take part in a competition that is not over: leave it before its start or wait for its end')
  return reasons
}

// Every row that is the user's own personal data, in an order the foreign keys allow.
const ERASE = [
  'DELETE FROM push_devices WHERE user_id = $1',
  'DELETE FROM notification_preferences WHERE user_id = $1',
  'DELETE FROM notification_settings WHERE user_id = $1',
  'DELETE FROM notification_daily_counts WHERE user_id = $1',
  'DELETE FROM notification_rank_marks WHERE user_id = $1',
  'DELETE FROM notifications WHERE user_id = $1',
  'DELETE FROM provider_connections WHERE user_id = $1',
  'DELETE FROM provider_tokens WHERE user_id = $1',
  'DELETE FROM oauth_states WHERE user_id = $1',
  'DELETE FROM fitness_flags WHERE user_id = $1',
  'DELETE FROM fitness_samples WHERE user_id = $1',
  'DELETE FROM daily_totals WHERE user_id = $1',
  'DELETE FROM fitness_sync_leases WHERE user_id = $1',
  'DELETE FROM activity WHERE user_id = $1',
  'DELETE FROM account_exports WHERE user_id = $1',
  'DELETE FROM payout_accounts WHERE user_id = $1',
  'DELETE FROM competition_series_subscriptions WHERE user_id = $1',
  'DELETE FROM series_auto_joins WHERE user_id = $1'
]

// The tombstone: the id stays (it is what the ledger and results refer to), nothing else of the person.
const TOMBSTONE = `UPDATE users SET email = NULL, username = NULL, display_name = $2, bio = '', avatar_url = NULL,
  avatar_key = NULL, phone_number = NULL, time_zone = 'UTC', units = 'metric', locale = 'en',
  deleted_at = now(), deleted_by = $3, updated_at = now()
  WHERE id = $1 RETURNING to_json(deleted_at) #>> '{}' AS deleted_at`

// Copies of the user's name in other people's records: prize results and "passed you" messages.
async function scrubCopies (tx: Db, userId: string, name: string): Promise<void> {
  await tx.query(`UPDATE prize_distributions d SET result = d.result
      || jsonb_build_object('winners', (SELECT coalesce(jsonb_agg(CASE WHEN w->>'userId' = $1::text THEN w || jsonb_build_object('displayName', $2::text) ELSE w END ORDER BY i), '[]')
        FROM jsonb_array_elements(d.result->'winners') WITH ORDINALITY AS x(w, i)))
      || jsonb_build_object('heldOut', (SELECT coalesce(jsonb_agg(CASE WHEN h->>'userId' = $1::text THEN h || jsonb_build_object('displayName', $2::text) ELSE h END ORDER BY i), '[]')
        FROM jsonb_array_elements(d.result->'heldOut') WITH ORDINALITY AS y(h, i)))
    WHERE d.competition_id IN (SELECT competition_id FROM prize_payouts WHERE user_id = $1::uuid
      UNION SELECT competition_id FROM participants WHERE user_id = $1::uuid)`, [userId, DELETED_NAME])
  if (name === '') return
  // The message kept the name as text; any message naming it says "Someone" instead.
  await tx.query(`UPDATE notifications SET params = jsonb_set(params, '{byName}', '"Someone"')
    WHERE template = 'overtaken' AND params->>'byName' = $1 AND user_id <> $2`, [name, userId])
}

export function createAccountDeletion (deps: DeletionDeps) {
  async function deleteAccount (userId: string, opts: { origin: DeletionOrigin, force: boolean }): Promise<DeletionResult> {
    // Checked before the providers are told, so a refused deletion leaves the connections.
    if (!opts.force) {
      await deps.transact(async (tx) => {
        const { rows } = await tx.query('SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL', [userId])
        if (rows.length > 0) await refuseUnsettled(tx, userId)
      })
    }
    await deps.revokeConnections(userId)
    // Forced: competitions not started yet are left (a refund lands in the closed wallet); in a
    // running one the participation stays, its score frozen, under the pseudonym.
    if (opts.force) await leaveUnstarted(userId)

    const outcome = await deps.transact(async (tx) => {
      const { rows } = await tx.query<{ avatar_key: string | null, display_name: string, username: string | null, deleted_at: string | null }>(
        'SELECT avatar_key, display_name, username, to_json(deleted_at) #>> \'{}\' AS deleted_at FROM users WHERE id = $1 FOR UPDATE', [userId])
      const user = rows[0]
      if (user === undefined) throw errors.NotFound('User not found')
      if (user.deleted_at !== null) return { deletedAt: user.deleted_at, erased: false, avatarKey: null }
      if (!opts.force) await refuseUnsettled(tx, userId)
      await scrubCopies(tx, userId, user.display_name)
      for (const statement of ERASE) await tx.query(statement, [userId])
      const { rows: [tombstone] } = await tx.query<{ deleted_at: string }>(TOMBSTONE, [userId, DELETED_NAME, opts.origin])
      await deps.erased?.(tx, userId, opts.origin)
      // Integrators who keep copies of the person's data learn to delete them (webhooks).
      await recordEvents(tx, [domainEvent('user.deleted', { userId, deletedAt: new Date(tombstone!.deleted_at).toISOString() })])
      return { deletedAt: tombstone!.deleted_at, erased: true, avatarKey: user.avatar_key }
    })

    if (outcome.erased) {
      if (outcome.avatarKey !== null) await deps.removeObject(outcome.avatarKey)
      await deps.deleted(userId)
    }
    return { userId, deletedAt: new Date(outcome.deletedAt).toISOString(), erased: outcome.erased }
  }

  async function leaveUnstarted (userId: string): Promise<void> {
    const { rows } = await deps.pool.query<{ competition_id: string }>(`SELECT p.competition_id FROM participants p
      JOIN competitions c ON c.id = p.competition_id WHERE p.user_id = $1 AND c.status = 'scheduled' AND c.starts_at > now()`, [userId])
    for (const { competition_id: competitionId } of rows) await deps.leave(competitionId, userId)
  }

  async function refuseUnsettled (tx: TransactionClient, userId: string): Promise<void> {
    const reasons = await unsettled(tx, userId)
    if (reasons.length > 0) throw errors.Conflict(`The account cannot be deleted yet: ${reasons.join('; ')}`)
  }

  return { deleteAccount }
}

export type AccountDeletion = ReturnType<typeof createAccountDeletion>
