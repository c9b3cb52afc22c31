import type { Db, Transact, TransactionClient } from '../shared/transactions.ts'
import type { JoinOptions, Membership } from './memberships.ts'

// Subscribers of a series join each new competition of it through the normal join (entry fee
// from the wallet, capacity, who may join). Each outcome is kept per (competition, user): joined,
// or failed with a reason; a failed join rolled back whole, so no money moved and no
// participant was left behind.

export type AutoJoinReason = 'insufficient_funds' | 'outstanding_debt' | 'full' | 'closed' | 'not_allowed' | 'limit_exceeded'

export interface AutoJoin {
  competitionId: string
  occursAt: string
  status: 'joined' | 'failed'
  reason: AutoJoinReason | null
  message: string | null
  at: string
}

// The refusals a join gives that will not change by retrying; anything else (a lost
// connection) is retried with the job.
function reasonOf (err: unknown): AutoJoinReason | null {
  const { code, message = '' } = err as { code?: string, message?: string }
  switch (code) {
    case 'INSUFFICIENT_FUNDS': return 'insufficient_funds'
    case 'OUTSTANDING_DEBT': return 'outstanding_debt'
    case 'LIMIT_EXCEEDED': return 'limit_exceeded'
    case 'FORBIDDEN': return 'not_allowed'
    case 'NOT_FOUND': return 'not_allowed'
    case 'CONFLICT': return /full/.test(message) ? 'full' : 'closed'
    default: return null
  }
}

export interface AutoJoinFailure { competitionId: string, userId: string, reason: AutoJoinReason }

export interface AutoJoinsDeps {
  pool: Db
  transact: Transact
  join: (competitionId: string, userId: string, opts: JoinOptions) => Promise<Membership>
  // Tells the user, in the transaction that records the failure (so once).
  notify: (tx: TransactionClient, failure: AutoJoinFailure) => Promise<void>
}

const RECORD = `INSERT INTO series_auto_joins (competition_id, user_id, series_id, status, reason, message)
  VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING user_id`

export function createAutoJoins ({ pool, transact, join, notify }: AutoJoinsDeps) {
  // In the order people subscribed, so the first to opt in get the places of a capped
  // competition. Those with an outcome already are skipped (a retried job), and the join's
  // idempotency key makes a join whose outcome was not yet written answer the same again.
  async function autoJoin ({ seriesId, competitionId }: { seriesId: string, competitionId: string }): Promise<void> {
    const { rows } = await pool.query(`SELECT s.user_id FROM competition_series_subscriptions s JOIN users u ON u.id = s.user_id
      WHERE s.series_id = $1 AND u.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM series_auto_joins a WHERE a.competition_id = $2 AND a.user_id = s.user_id)
      ORDER BY s.created_at, s.user_id`, [seriesId, competitionId])
    let retry: unknown = null
    for (const { user_id: userId } of rows) {
      try {
        await join(competitionId, userId, { actorId: userId, idempotencyKey: `series-auto-join:${competitionId}` })
      } catch (err) {
        const reason = reasonOf(err)
        // One subscriber's passing failure does not hold up the others; the job retries after.
        if (reason === null) { retry ??= err; continue }
        await transact(async (tx) => {
          const { rows: recorded } = await tx.query(RECORD, [competitionId, userId, seriesId, 'failed', reason, (err as Error).message])
          if (recorded.length > 0) await notify(tx, { competitionId, userId, reason })
        })
        continue
      }
      await pool.query(RECORD, [competitionId, userId, seriesId, 'joined', null, null])
    }
    if (retry !== null) throw retry
  }

  return { autoJoin }
}

export async function autoJoinsOf (db: Db, seriesId: string, userId: string, limit = 20): Promise<AutoJoin[]> {
  const { rows } = await db.query(`SELECT a.competition_id, i.occurs_at, a.status, a.reason, a.message, a.created_at
    FROM series_auto_joins a JOIN competition_series_instances i ON i.competition_id = a.competition_id
    WHERE a.series_id = $1 AND a.user_id = $2 ORDER BY i.occurs_at DESC LIMIT $3`, [seriesId, userId, limit])
  return rows.map((r) => ({
    competitionId: r.competition_id,
    occursAt: (r.occurs_at as Date).toISOString(),
    status: r.status,
    reason: r.reason,
    message: r.message,
    at: (r.created_at as Date).toISOString()
  }))
}
