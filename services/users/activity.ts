import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import type { Db } from '../shared/transactions.ts'

export type ActivityKind = 'joined' | 'left' | 'synced' | 'rank_changed' | 'prize' | 'refund' | 'credit' | 'competition_status' | 'flagged' | 'deposit' | 'withdrawal' | 'dispute'

export interface ActivityInput {
  userId: string
  kind: ActivityKind
  competitionId?: string | null
  data?: Record<string, unknown>
}

export interface ActivityItem {
  id: number
  kind: ActivityKind
  competitionId: string | null
  data: Record<string, unknown>
  createdAt: string
}

// The feed is written inside the transaction of the change it reports, so it never tells of
// something that rolled back.
export function createActivityService () {
  async function record (tx: Db, entry: ActivityInput): Promise<void> {
    await recordMany(tx, [entry])
  }

  async function recordMany (tx: Db, entries: ActivityInput[]): Promise<void> {
    if (entries.length === 0) return
    await tx.query(`INSERT INTO activity (user_id, kind, competition_id, data)
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::jsonb[])`, [
      entries.map((e) => e.userId),
      entries.map((e) => e.kind),
      entries.map((e) => e.competitionId ?? null),
      entries.map((e) => JSON.stringify(e.data ?? {}))
    ])
  }

  async function list (db: Db, userId: string, page: { cursor?: string, limit: number }): Promise<Page<ActivityItem>> {
    const request = pageRequest(page.cursor, ['number'])
    const { rows } = await db.query(`SELECT id, kind, competition_id, data, created_at FROM activity
      WHERE user_id = $1 AND ($2::bigint IS NULL OR id ${request.compare} $2) ORDER BY id ${request.order} LIMIT $3`, [userId, request.key?.[0] ?? null, page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, (r) => [Number(r.id)])
    const items: ActivityItem[] = shown.map((r) => ({
      id: Number(r.id),
      kind: r.kind,
      competitionId: r.competition_id,
      data: r.data,
      createdAt: (r.created_at as Date).toISOString()
    }))
    return { items, nextCursor, prevCursor }
  }

  return { record, recordMany, list }
}

export type ActivityService = ReturnType<typeof createActivityService>
