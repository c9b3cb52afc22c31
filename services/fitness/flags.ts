import { errors } from '../../lib/errors.ts'
import type { Flag, FlagStatus, Metric, Source } from '../../schemas/fitness.ts'
import type { Db } from '../shared/transactions.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import { pageOf, pageRequest, type Page } from '../shared/cursors.ts'

interface FlagRow {
  id: string
  user_id: string
  status: FlagStatus
  reason: string
  details: Record<string, unknown>
  competition_ids: string[]
  created_at: Date
  resolved_by: string | null
  resolved_at: Date | null
  note: string | null
  sample_id: string | null
  source: Source
  sample_version: string | null
  external_id: string
  version: string
  metric: Metric
  start_at: Date
  end_at: Date
  value: string
  recording_method: string
  deleted: boolean
  rejected: boolean
  local_day: string
}

const FLAG_SELECT = `SELECT f.id, f.user_id, f.status, f.reason, f.details, f.competition_ids, f.created_at, f.resolved_by,
    f.resolved_at, f.note, f.sample_version, s.id AS sample_id, s.source, s.external_id, s.version, s.metric, s.start_at, s.end_at, s.value,
    s.recording_method, s.deleted, s.rejected, s.local_day::text AS local_day
  FROM fitness_flags f LEFT JOIN fitness_samples s ON s.id = f.sample_id`

function toFlag (r: FlagRow): Flag {
  return {
    id: Number(r.id),
    userId: r.user_id,
    status: r.status,
    reason: r.reason,
    details: r.details,
    sample: r.sample_id === null
      ? null
      : {
          id: Number(r.sample_id),
          source: r.source,
          externalId: r.external_id,
          version: Number(r.version),
          metric: r.metric,
          startTime: r.start_at.toISOString(),
          endTime: r.end_at.toISOString(),
          value: Number(r.value),
          recordingMethod: r.recording_method,
          deleted: r.deleted,
          rejected: r.rejected
        },
    competitionIds: r.competition_ids,
    createdAt: r.created_at.toISOString(),
    resolvedBy: r.resolved_by,
    resolvedAt: r.resolved_at?.toISOString() ?? null,
    note: r.note
  }
}

// Oldest first: a review queue is worked from the front.
export async function listFlags (db: Db, query: { status?: FlagStatus, userId?: string, cursor?: string, limit?: number }): Promise<Page<Flag>> {
  const limit = query.limit ?? 20
  const request = pageRequest(query.cursor, ['number'], false)
  const { rows } = await db.query<FlagRow>(
    `${FLAG_SELECT} WHERE ($1::bigint IS NULL OR f.id ${request.compare} $1) AND ($2::text IS NULL OR f.status = $2) AND ($3::uuid IS NULL OR f.user_id = $3)
     ORDER BY f.id ${request.order} LIMIT $4`,
    [request.key?.[0] ?? null, query.status ?? null, query.userId ?? null, limit + 1])
  const { rows: shown, nextCursor, prevCursor } = pageOf(rows, limit, request, (r) => [Number(r.id)])
  return { items: shown.map(toFlag), nextCursor, prevCursor }
}

export interface FlagState {
  flag: Flag
  localDay: string | null
  // Whether the sample still holds the version the flag was raised on.
  currentVersion: boolean
}

export async function getFlag (db: Db, id: number, lock = false): Promise<FlagState> {
  const { rows } = await db.query<FlagRow>(`${FLAG_SELECT} WHERE f.id = $1${lock ? ' FOR UPDATE OF f' : ''}`, [id])
  const row = rows[0]
  if (row === undefined) throw errors.NotFound('Flag not found')
  return {
    flag: toFlag(row),
    localDay: row.sample_id === null ? null : row.local_day,
    currentVersion: row.sample_id !== null && row.sample_version === row.version
  }
}

export async function flagOwner (db: Db, id: number): Promise<string> {
  const { rows } = await db.query<{ user_id: string }>('SELECT user_id FROM fitness_flags WHERE id = $1', [id])
  if (rows[0] === undefined) throw errors.NotFound('Flag not found')
  return rows[0].user_id
}

// Moves an open flag to cleared or confirmed, once. Repeating the same decision returns the
// flag unchanged; reversing a decision is refused (the audit trail records one decision).
export async function resolveFlag (tx: Db, id: number, status: 'cleared' | 'confirmed', adminId: string, note: string | undefined):
Promise<FlagState & { changed: boolean }> {
  const current = await getFlag(tx, id, true)
  if (current.flag.status === status) return { ...current, changed: false }
  if (current.flag.status !== 'open') throw errors.Conflict(`Flag is already ${current.flag.status}`)
  // resolved_by only names users with a profile row (it is a foreign key); the route
  // makes sure the admin has one.
  await tx.query(
    `UPDATE fitness_flags SET status = $2, resolved_at = now(), note = $4,
       resolved_by = (SELECT id FROM users WHERE id = $3)
     WHERE id = $1`,
    [id, status, adminId, note ?? null])
  // Confirming rejects the flagged content; if the source has since replaced it with a new
  // version, that version was judged on its own and stays.
  if (status === 'confirmed' && current.flag.sample !== null && current.currentVersion) {
    await tx.query('UPDATE fitness_samples SET rejected = true, updated_at = now() WHERE id = $1 AND NOT rejected', [current.flag.sample.id])
  }
  const updated = await getFlag(tx, id)
  await recordEvents(tx, [domainEvent(status === 'cleared' ? 'flag.cleared' : 'flag.confirmed', {
    flagId: id, userId: updated.flag.userId, competitionIds: updated.flag.competitionIds
  })])
  return { ...updated, changed: true }
}
