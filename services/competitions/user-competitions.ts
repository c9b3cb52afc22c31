import { COMPETITION_COLUMNS, toCompetition, type Competition } from './rows.ts'
import { toMoney } from '../money/ledger.ts'
import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import type { Db } from '../shared/transactions.ts'

export interface UserCompetition {
  competition: Competition
  joinedAt: string
  score: number
  // Current place by score (1 + participants strictly ahead); ties share a place.
  rank: number
  // Set once the competition is final.
  finalRank: number | null
  entryFeePaid: number
}

export type UserCompetitionScope = 'current' | 'past' | 'all'

const SCOPES: Record<UserCompetitionScope, string[]> = {
  current: ['scheduled', 'active', 'grace'],
  past: ['final', 'paid', 'cancelled'],
  all: ['scheduled', 'active', 'grace', 'final', 'paid', 'cancelled']
}

// Rank in Postgres, the source of truth: 1 + those with a better standing (the score signed by
// the competition's order); the tie order (reached_at asc, user_id asc) only orders people
// sharing a place. Without a score yet where the lowest wins: after everyone with one.
export const RANK_SQL = `(SELECT 1 + count(*) FROM participants q WHERE q.competition_id = p.competition_id
  AND q.standing > coalesce(p.standing, -9223372036854775808))`

export function createUserCompetitionsService ({ pool, clock = () => new Date() }: { pool: Db, clock?: () => Date }) {
  async function list (userId: string, page: { scope: UserCompetitionScope, cursor?: string, limit: number }): Promise<Page<UserCompetition>> {
    const now = clock()
    const request = pageRequest(page.cursor, ['string', 'string'])
    const { rows } = await pool.query(`SELECT ${COMPETITION_COLUMNS}, p.joined_at, p.score, p.final_rank, p.entry_fee_paid,
        ${RANK_SQL} AS rank, to_json(p.joined_at) #>> '{}' AS joined_key
      FROM participants p JOIN competitions c ON c.id = p.competition_id
      WHERE p.user_id = $1 AND c.status = ANY($2::text[])
        AND ($3::timestamptz IS NULL OR (p.joined_at, p.competition_id) ${request.compare} ($3, $4::uuid))
      ORDER BY p.joined_at ${request.order}, p.competition_id ${request.order} LIMIT $5`,
    [userId, SCOPES[page.scope], request.key?.[0] ?? null, request.key?.[1] ?? null, page.limit + 1])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, page.limit, request, (r) => [r.joined_key, r.id])
    return {
      nextCursor,
      prevCursor,
      items: shown.map((r) => ({
        competition: toCompetition(r, now),
        joinedAt: (r.joined_at as Date).toISOString(),
        score: toMoney(r.score),
        rank: Number(r.rank),
        finalRank: r.final_rank,
        entryFeePaid: toMoney(r.entry_fee_paid)
      }))
    }
  }

  return { list }
}

export type UserCompetitionsService = ReturnType<typeof createUserCompetitionsService>
