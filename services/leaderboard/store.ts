import { rankPageCursors, MICROS_SQL, microsToIso, type RankCursor, type ScoreOrder, type Standing } from './ranking.ts'
import type { Db } from '../shared/transactions.ts'
import { applyScoreChanges } from './score-batch.ts'
import { isUuid } from '../../lib/uuid.ts'

// Postgres side of the leaderboard: the source of truth for scores, and the fallback for
// reads when the Redis projection is unavailable.

export interface CompetitionInfo {
  id: string
  status: string
  metric: string
  visibility: 'public' | 'private'
  createdBy: string | null
  scoreOrder: ScoreOrder
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
  // Null while the participant has no score where the lowest wins (not on the board).
  score: number | null
  version: string
  reachedMicros: string
}

const NAME_SQL = 'NULLIF(coalesce(NULLIF(u.display_name, \'\'), u.username), \'\')'

function toProfile (row: { display_name: string | null, avatar_url: string | null }): Profile {
  return { displayName: row.display_name, avatarUrl: row.avatar_url }
}

export function createLeaderboardStore () {
  async function getCompetition (db: Db, competitionId: string): Promise<CompetitionInfo | null> {
    if (!isUuid(competitionId)) return null
    const { rows } = await db.query<{ id: string, status: string, metric: string, visibility: 'public' | 'private', created_by: string | null, score_order: ScoreOrder }>(
      'SELECT id, status, metric, visibility, created_by, score_order FROM competitions WHERE id = $1', [competitionId])
    const row = rows[0]
    return row ? { id: row.id, status: row.status, metric: row.metric, visibility: row.visibility, createdBy: row.created_by, scoreOrder: row.score_order } : null
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
    // The chunk is cut from participants before users are joined: joined first, Postgres may
    // merge-join from the start of the users index, reading every user before the cursor for
    // each chunk (a 1,000,000-participant rebuild read 500 ms a chunk instead of 12).
    const { rows } = await db.query(`SELECT p.user_id, CASE WHEN p.standing IS NOT NULL THEN p.score::text END AS score, p.score_version::text AS version, ${MICROS_SQL} AS micros,
        ${NAME_SQL} AS display_name, u.avatar_url
      FROM (SELECT * FROM participants p WHERE p.competition_id = $1 AND ($2::uuid IS NULL OR p.user_id > $2) ORDER BY p.user_id LIMIT $3) p
      JOIN users u ON u.id = p.user_id
      ORDER BY p.user_id`, [competitionId, afterUserId, limit])
    return rows.map((r) => ({ userId: r.user_id, score: scoreOrNull(r.score), version: r.version, reachedMicros: r.micros, ...toProfile(r) }))
  }

  async function projectionRow (db: Db, competitionId: string, userId: string): Promise<ProjectionRow | null> {
    const { rows } = await db.query(`SELECT p.user_id, CASE WHEN p.standing IS NOT NULL THEN p.score::text END AS score, p.score_version::text AS version, ${MICROS_SQL} AS micros,
        ${NAME_SQL} AS display_name, u.avatar_url
      FROM participants p JOIN users u ON u.id = p.user_id
      WHERE p.competition_id = $1 AND p.user_id = $2`, [competitionId, userId])
    const r = rows[0]
    return r ? { userId: r.user_id, score: scoreOrNull(r.score), version: r.version, reachedMicros: r.micros, ...toProfile(r) } : null
  }

  // The ranked view, computed by Postgres with the same rule as Redis (see ranking.ts): by
  // standing, the score signed by the competition's order.
  const RANKED = `WITH ranked AS (
      SELECT p.user_id, p.score, p.standing, p.reached_at, ${MICROS_SQL} AS micros,
        rank() OVER (ORDER BY p.standing DESC) AS rank,
        row_number() OVER (ORDER BY p.standing DESC, p.reached_at, p.user_id) AS position
      FROM participants p WHERE p.competition_id = $1 AND p.standing IS NOT NULL)
    SELECT r.user_id, r.score::text, r.micros, r.rank::int, r.position::int, ${NAME_SQL} AS display_name, u.avatar_url
    FROM ranked r JOIN users u ON u.id = r.user_id`
  const CURSOR_STANDING = '(SELECT CASE WHEN score_order = \'lowest_wins\' THEN -$2::bigint ELSE $2::bigint END FROM competitions WHERE id = $1)'

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

  // The page after the cursor's entry, or backward the `limit` entries before it (in order).
  async function page (db: Db, competitionId: string, cursor: RankCursor | null, limit: number): Promise<{ entries: Array<LeaderboardEntry & Standing>, nextCursor: string | null, prevCursor: string | null }> {
    const at = cursor?.standing
    const backward = cursor?.direction === 'prev'
    // The cursor holds the score, compared as a standing (signed like the rows').
    const { rows } = await db.query(`${RANKED}
      WHERE $2::bigint IS NULL OR ${backward
        ? `r.standing > ${CURSOR_STANDING} OR (r.standing = ${CURSOR_STANDING} AND (r.micros::bigint < $3::bigint OR (r.micros::bigint = $3::bigint AND r.user_id < $4::uuid)))`
        : `r.standing < ${CURSOR_STANDING} OR (r.standing = ${CURSOR_STANDING} AND (r.micros::bigint > $3::bigint OR (r.micros::bigint = $3::bigint AND r.user_id > $4::uuid)))`}
      ORDER BY r.position ${backward ? 'DESC' : ''} LIMIT $5`,
    [competitionId, at?.score ?? null, at?.reachedMicros ?? null, at?.userId ?? null, limit + 1])
    const entries = rows.slice(0, limit).map(toEntry)
    if (backward) entries.reverse()
    // Backward, the cursor's entry came after the page.
    const hasNext = backward ? entries.length > 0 : rows.length > limit
    return { entries, ...rankPageCursors(entries, hasNext) }
  }

  async function total (db: Db, competitionId: string): Promise<number> {
    const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM participants WHERE competition_id = $1 AND standing IS NOT NULL', [competitionId])
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

  return { applyChanges: applyScoreChanges, getCompetition, isParticipant, participantsIn, scoringCompetitions, projectionChunk, projectionRow, page, total, around }
}

function scoreOrNull (score: string | null): number | null {
  return score === null ? null : Number(score)
}

export function stripStanding (entry: LeaderboardEntry & Partial<Standing>): LeaderboardEntry {
  const { rank, position, userId, displayName, avatarUrl, score, reachedAt } = entry
  return { rank, position, userId, displayName, avatarUrl, score, reachedAt }
}

export type LeaderboardStore = ReturnType<typeof createLeaderboardStore>
