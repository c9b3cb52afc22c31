import type pg from 'pg'
import { encodeRankCursor, microsToIso, type Standing } from './leaderboard-ranking.ts'

// Postgres side of the leaderboard: the source of truth for scores, and the fallback for
// reads when the Redis projection is unavailable.

export type Db = Pick<pg.ClientBase, 'query'>

export type ScoreOperation = 'set' | 'increment' | 'best' | 'sync'

export interface ScoreChange {
  competitionId: string
  userId: string
  operation: ScoreOperation
  // Safe integer >= 0 for set/best/sync; increment may be negative (the score stops at 0).
  value: number
  idempotencyKey: string
}

// Why a change was not applied. 'duplicate' and 'unchanged' are accepted (the key is used up);
// the others were rejected and changed nothing.
export type SkipReason = 'duplicate' | 'unchanged' | 'key_reused' | 'unknown_competition' | 'inactive' | 'wrong_metric' | 'not_participant' | 'invalid'

export interface ScoreResult {
  competitionId: string
  userId: string
  // false = duplicate key, no change, or rejected (see reason).
  applied: boolean
  score: number
  reason?: SkipReason
}

// What the Redis projection needs to mirror an accepted change.
export interface ProjectedScore {
  competitionId: string
  userId: string
  score: number
  version: string
  reachedMicros: string
}

export interface CompetitionInfo {
  id: string
  status: string
  metric: string
  visibility: 'public' | 'private'
  createdBy: string | null
}

export interface Profile {
  displayName: string | null
  avatarUrl: string | null
}

export interface LeaderboardEntry extends Profile {
  rank: number
  position: number
  userId: string
  score: number
  reachedAt: string
}

export interface ProjectionRow extends Profile {
  userId: string
  score: number
  version: string
  reachedMicros: string
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const SCORING_STATUSES = new Set(['active', 'grace'])

export function nextScore (operation: ScoreOperation, current: number, value: number): number {
  switch (operation) {
    case 'increment': return Math.max(0, current + value)
    case 'best': return Math.max(current, value)
    default: return value
  }
}

function validChange (change: ScoreChange): boolean {
  const { operation, value, idempotencyKey } = change
  if (typeof idempotencyKey !== 'string' || idempotencyKey.length < 1 || idempotencyKey.length > 200) return false
  if (!Number.isSafeInteger(value)) return false
  if (operation === 'increment') return true
  return ['set', 'best', 'sync'].includes(operation) && value >= 0
}

const MICROS_SQL = '(extract(epoch FROM p.reached_at) * 1000000)::bigint::text'
const NAME_SQL = 'NULLIF(coalesce(NULLIF(u.display_name, \'\'), u.username), \'\')'

function toProfile (row: { display_name: string | null, avatar_url: string | null }): Profile {
  return { displayName: row.display_name, avatarUrl: row.avatar_url }
}

export function createLeaderboardStore () {
  // Applies a batch inside the caller's transaction. Rows are locked in (competition, user)
  // order so concurrent batches cannot deadlock on each other; competitions are share-locked
  // so a status change waits for the scores being written under the old status.
  // `onlyMetric` restricts the batch to competitions scoring that metric (direct updates: custom).
  async function applyChanges (tx: Db, changes: ScoreChange[], opts: { onlyMetric?: string } = {}): Promise<{ results: ScoreResult[], projected: ProjectedScore[] }> {
    const order = changes.map((_, i) => i).sort((a, b) => {
      const x = changes[a]!
      const y = changes[b]!
      return x.competitionId.localeCompare(y.competitionId) || x.userId.localeCompare(y.userId) || a - b
    })
    const ids = [...new Set(changes.map((c) => c.competitionId).filter((id) => UUID.test(id)))].sort()
    const { rows: competitions } = await tx.query<{ id: string, status: string, metric: string }>(
      'SELECT id, status, metric FROM competitions WHERE id = ANY($1::uuid[]) ORDER BY id FOR SHARE', [ids])
    const byId = new Map(competitions.map((c) => [c.id, c]))

    const results: ScoreResult[] = new Array(changes.length)
    const projected = new Map<string, ProjectedScore>()
    for (const i of order) {
      const change = changes[i]!
      const { competitionId, userId } = change
      const skip = (reason: SkipReason, score = 0) => { results[i] = { competitionId, userId, applied: false, score, reason } }
      if (!UUID.test(userId) || !validChange(change)) { skip('invalid'); continue }
      const competition = byId.get(competitionId.toLowerCase())
      if (competition === undefined) { skip('unknown_competition'); continue }
      if (opts.onlyMetric !== undefined && competition.metric !== opts.onlyMetric) { skip('wrong_metric'); continue }
      if (!SCORING_STATUSES.has(competition.status)) { skip('inactive'); continue }

      const { rows } = await tx.query<{ score: string }>(
        'SELECT score FROM participants WHERE competition_id = $1 AND user_id = $2 FOR UPDATE', [competitionId, userId])
      if (rows.length === 0) { skip('not_participant'); continue }
      const current = Number(rows[0]!.score)
      const score = nextScore(change.operation, current, change.value)
      if (!Number.isSafeInteger(score)) { skip('invalid', current); continue }

      const inserted = await tx.query(`INSERT INTO score_events (competition_id, user_id, idempotency_key, operation, value, score_before, score_after)
        VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (competition_id, idempotency_key) DO NOTHING RETURNING id`,
      [competitionId, userId, change.idempotencyKey, change.operation, change.value, current, score])
      if (inserted.rowCount === 0) {
        const { rows: [first] } = await tx.query<{ user_id: string, operation: string, value: string }>(
          'SELECT user_id, operation, value FROM score_events WHERE competition_id = $1 AND idempotency_key = $2',
          [competitionId, change.idempotencyKey])
        const same = first !== undefined && first.user_id === userId.toLowerCase() && first.operation === change.operation && Number(first.value) === change.value
        skip(same ? 'duplicate' : 'key_reused', current)
        continue
      }
      if (score === current) { skip('unchanged', current); continue }

      const { rows: [updated] } = await tx.query<{ version: string, micros: string }>(`UPDATE participants p
        SET score = $3, reached_at = clock_timestamp(), score_version = score_version + 1
        WHERE competition_id = $1 AND user_id = $2
        RETURNING score_version::text AS version, ${MICROS_SQL} AS micros`, [competitionId, userId, score])
      results[i] = { competitionId, userId, applied: true, score }
      projected.set(`${competitionId}|${userId}`, { competitionId, userId, score, version: updated!.version, reachedMicros: updated!.micros })
    }
    return { results, projected: [...projected.values()] }
  }

  async function getCompetition (db: Db, competitionId: string): Promise<CompetitionInfo | null> {
    if (!UUID.test(competitionId)) return null
    const { rows } = await db.query<{ id: string, status: string, metric: string, visibility: 'public' | 'private', created_by: string | null }>(
      'SELECT id, status, metric, visibility, created_by FROM competitions WHERE id = $1', [competitionId])
    const row = rows[0]
    return row ? { id: row.id, status: row.status, metric: row.metric, visibility: row.visibility, createdBy: row.created_by } : null
  }

  async function isParticipant (db: Db, competitionId: string, userId: string): Promise<boolean> {
    const { rowCount } = await db.query('SELECT 1 FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, userId])
    return rowCount === 1
  }

  async function participantsIn (db: Db, competitionId: string, userIds: string[]): Promise<Set<string>> {
    const { rows } = await db.query<{ user_id: string }>(
      'SELECT user_id FROM participants WHERE competition_id = $1 AND user_id = ANY($2::uuid[])', [competitionId, userIds])
    return new Set(rows.map((r) => r.user_id))
  }

  // Competitions whose projection must be rebuilt at start-up and when Redis returns.
  async function scoringCompetitions (db: Db): Promise<string[]> {
    const { rows } = await db.query<{ id: string }>('SELECT id FROM competitions WHERE status IN (\'active\', \'grace\') ORDER BY id')
    return rows.map((r) => r.id)
  }

  // One chunk of a competition's participants for the projection, by user id.
  async function projectionChunk (db: Db, competitionId: string, afterUserId: string | null, limit: number): Promise<ProjectionRow[]> {
    const { rows } = await db.query(`SELECT p.user_id, p.score::text, p.score_version::text AS version, ${MICROS_SQL} AS micros,
        ${NAME_SQL} AS display_name, u.avatar_url
      FROM participants p JOIN users u ON u.id = p.user_id
      WHERE p.competition_id = $1 AND ($2::uuid IS NULL OR p.user_id > $2)
      ORDER BY p.user_id LIMIT $3`, [competitionId, afterUserId, limit])
    return rows.map((r) => ({ userId: r.user_id, score: Number(r.score), version: r.version, reachedMicros: r.micros, ...toProfile(r) }))
  }

  async function projectionRow (db: Db, competitionId: string, userId: string): Promise<ProjectionRow | null> {
    const { rows } = await db.query(`SELECT p.user_id, p.score::text, p.score_version::text AS version, ${MICROS_SQL} AS micros,
        ${NAME_SQL} AS display_name, u.avatar_url
      FROM participants p JOIN users u ON u.id = p.user_id
      WHERE p.competition_id = $1 AND p.user_id = $2`, [competitionId, userId])
    const r = rows[0]
    return r ? { userId: r.user_id, score: Number(r.score), version: r.version, reachedMicros: r.micros, ...toProfile(r) } : null
  }

  // The ranked view, computed by Postgres with the same rule as Redis (see leaderboard-ranking.ts).
  const RANKED = `WITH ranked AS (
      SELECT p.user_id, p.score, p.reached_at, ${MICROS_SQL} AS micros,
        rank() OVER (ORDER BY p.score DESC) AS rank,
        row_number() OVER (ORDER BY p.score DESC, p.reached_at, p.user_id) AS position
      FROM participants p WHERE p.competition_id = $1)
    SELECT r.user_id, r.score::text, r.micros, r.rank::int, r.position::int, ${NAME_SQL} AS display_name, u.avatar_url
    FROM ranked r JOIN users u ON u.id = r.user_id`

  function toEntry (r: Record<string, string | number | null>): LeaderboardEntry & Standing {
    return {
      rank: Number(r.rank),
      position: Number(r.position),
      userId: String(r.user_id),
      displayName: r.display_name as string | null,
      avatarUrl: r.avatar_url as string | null,
      score: Number(r.score),
      reachedAt: microsToIso(String(r.micros)),
      reachedMicros: String(r.micros)
    }
  }

  async function page (db: Db, competitionId: string, after: Standing | null, limit: number): Promise<{ entries: Array<LeaderboardEntry & Standing>, nextCursor: string | null }> {
    const { rows } = await db.query(`${RANKED}
      WHERE $2::bigint IS NULL OR r.score < $2 OR (r.score = $2 AND (r.micros::bigint > $3::bigint OR (r.micros::bigint = $3::bigint AND r.user_id > $4::uuid)))
      ORDER BY r.position LIMIT $5`,
    [competitionId, after?.score ?? null, after?.reachedMicros ?? null, after?.userId ?? null, limit + 1])
    const entries = rows.slice(0, limit).map(toEntry)
    const last = entries.at(-1)
    return { entries, nextCursor: rows.length > limit && last ? encodeRankCursor(last) : null }
  }

  async function total (db: Db, competitionId: string): Promise<number> {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM participants WHERE competition_id = $1', [competitionId])
    return rows[0]!.n
  }

  // The user's own entry and the k entries above and below it; null when not a participant.
  async function around (db: Db, competitionId: string, userId: string, k: number): Promise<{ me: LeaderboardEntry, around: LeaderboardEntry[] } | null> {
    const { rows } = await db.query(`${RANKED}
      WHERE r.position BETWEEN (SELECT position FROM ranked WHERE user_id = $2) - $3 AND (SELECT position FROM ranked WHERE user_id = $2) + $3
      ORDER BY r.position`, [competitionId, userId, k])
    const entries = rows.map(toEntry).map(stripStanding)
    const me = entries.find((e) => e.userId === userId)
    return me ? { me, around: entries } : null
  }

  return { applyChanges, getCompetition, isParticipant, participantsIn, scoringCompetitions, projectionChunk, projectionRow, page, total, around }
}

export function stripStanding (entry: LeaderboardEntry & Partial<Standing>): LeaderboardEntry {
  const { rank, position, userId, displayName, avatarUrl, score, reachedAt } = entry
  return { rank, position, userId, displayName, avatarUrl, score, reachedAt }
}

export type LeaderboardStore = ReturnType<typeof createLeaderboardStore>
