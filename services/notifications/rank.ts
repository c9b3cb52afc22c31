import type { Db } from '../shared/transactions.ts'
import type { Recipient } from './create.ts'
import type { ScoreOrder } from '../leaderboard/ranking.ts'

// Who a batch of score changes should tell: the participants a mover overtook, and a mover who
// entered the top N. Scores are read as they are now, a moment after the batch, which is what
// the message will say. Rank messages are coalesced: a participant gets at most one per
// competition per window, whatever the burst; the mark is taken in the caller's transaction,
// so a retried job that already told someone finds the mark and tells nobody twice.

export interface RankRules {
  top: number
  // The most participants one mover's jump tells they were overtaken (the ones just passed).
  overtakenPerMover: number
  windowSeconds: number
}

export interface Mover { userId: string, score: number, previousScore: number }

interface Candidate { user_id: string, template: 'overtaken' | 'entered_top', by_user: string, by_name: string | null }

// $1 competition, $2..$4 movers (standings: scores signed by the competition's order), $5
// overtaken per mover, $6 top N.
const CANDIDATES = `WITH m AS (SELECT * FROM unnest($2::uuid[], $3::bigint[], $4::bigint[]) AS m(user_id, score, previous))
  SELECT o.user_id, 'overtaken' AS template, m.user_id AS by_user, NULLIF(u.display_name, '') AS by_name
  FROM m JOIN users u ON u.id = m.user_id
  CROSS JOIN LATERAL (
    SELECT p.user_id FROM participants p
    WHERE p.competition_id = $1 AND p.standing > m.previous AND p.standing < m.score AND p.user_id <> m.user_id AND NOT p.flagged
    ORDER BY p.standing DESC LIMIT $5) o
  UNION ALL
  -- Counts stop at N rows: whether someone is in the top N never needs more.
  SELECT m.user_id, 'entered_top', m.user_id, NULL FROM m
  WHERE (SELECT count(*) FROM (SELECT 1 FROM participants p WHERE p.competition_id = $1 AND p.user_id <> m.user_id AND p.standing > m.previous LIMIT $6) a) >= $6
    AND (SELECT count(*) FROM (SELECT 1 FROM participants p WHERE p.competition_id = $1 AND p.user_id <> m.user_id AND p.standing > m.score LIMIT $6) b) < $6`

const TAKE_MARKS = `INSERT INTO notification_rank_marks AS k (competition_id, user_id, last_at)
  SELECT $1, u, now() FROM unnest($2::uuid[]) AS u
  ON CONFLICT (competition_id, user_id) DO UPDATE SET last_at = now() WHERE k.last_at <= now() - $3 * interval '1 second'
  RETURNING user_id`

// A rank is counted only up to RANK_SHOWN_UP_TO: past it the message leaves the rank out, so a
// message costs a bounded index range whatever the size of the competition.
export const RANK_SHOWN_UP_TO = 100
const RANKS = `SELECT p.user_id, p.score::text,
    1 + (SELECT count(*) FROM (SELECT 1 FROM participants q WHERE q.competition_id = $1 AND q.standing > p.standing LIMIT $3) a) AS rank
  FROM participants p WHERE p.competition_id = $1 AND p.user_id = ANY($2)`

export async function rankRecipients (tx: Db, competition: { id: string, name: string, metric: string, scoreOrder: ScoreOrder }, movers: Mover[], rules: RankRules):
Promise<Record<'overtaken' | 'entered_top', Recipient[]>> {
  const none = { overtaken: [], entered_top: [] }
  // As standings: where the lowest wins, minus the score (a first score, from 0, tells nobody).
  const standing = (score: number) => competition.scoreOrder === 'lowest_wins' ? -score : score
  const up = movers.map((m) => ({ userId: m.userId, score: standing(m.score), previousScore: standing(m.previousScore) }))
    .filter((m) => m.score > m.previousScore)
  if (up.length === 0) return none
  const { rows } = await tx.query<Candidate>(CANDIDATES, [competition.id, up.map((m) => m.userId), up.map((m) => m.score),
    up.map((m) => m.previousScore), rules.overtakenPerMover, rules.top])
  // A participant both passed and passing (or passed by two) hears one thing: their own climb first.
  const byUser = new Map<string, Candidate>()
  for (const row of rows) {
    if (!byUser.has(row.user_id) || row.template === 'entered_top') byUser.set(row.user_id, row)
  }
  if (byUser.size === 0) return none
  const marked = await tx.query<{ user_id: string }>(TAKE_MARKS, [competition.id, [...byUser.keys()], rules.windowSeconds])
  if (marked.rows.length === 0) return none
  const ranks = await tx.query<{ user_id: string, score: string, rank: string }>(RANKS, [competition.id, marked.rows.map((r) => r.user_id), RANK_SHOWN_UP_TO])
  const result: Record<'overtaken' | 'entered_top', Recipient[]> = { overtaken: [], entered_top: [] }
  for (const r of ranks.rows) {
    const candidate = byUser.get(r.user_id)!
    result[candidate.template].push({
      userId: r.user_id,
      params: {
        competitionName: competition.name,
        metric: competition.metric,
        score: Number(r.score),
        rank: Number(r.rank) <= RANK_SHOWN_UP_TO ? Number(r.rank) : null,
        top: rules.top,
        byName: candidate.by_name ?? 'Someone'
      }
    })
  }
  return result
}
