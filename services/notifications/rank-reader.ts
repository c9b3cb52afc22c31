import type { Db } from '../shared/transactions.ts'
import type { Mover } from './rank.ts'

// Reads a competition's score.changed events since the last read, in one job however many
// batches arrived meanwhile: a burst of a thousand updates a second costs one rank check per
// job run, not one per batch. Events younger than SETTLE_MS are left for the next run, so a
// batch that took its sequence number earlier but committed later is not skipped.

export const SETTLE_MS = 1000
// Events read per run; a longer backlog is read by the next run at once.
const PAGE = 500

export interface RankRead {
  movers: Mover[]
  // The last event read (names the run's messages), null when none was.
  upTo: string | null
  // Whether events are left (too young, or past the page): the caller schedules another run.
  more: 'now' | 'soon' | false
}

// Starts the competition's cursor just before the event that woke the job the first time.
export async function readScoreChanges (tx: Db, competitionId: string, wokenBy: string): Promise<RankRead> {
  await tx.query(`INSERT INTO notification_rank_cursors (competition_id, last_seq)
    SELECT $1, seq - 1 FROM domain_events WHERE id = $2 ON CONFLICT DO NOTHING`, [competitionId, wokenBy])
  const { rows: [cursor] } = await tx.query<{ last_seq: string }>(
    'SELECT last_seq::text FROM notification_rank_cursors WHERE competition_id = $1 FOR UPDATE', [competitionId])
  if (cursor === undefined) return { movers: [], upTo: null, more: false }
  const { rows } = await tx.query<{ seq: string, changes: Array<{ userId: string, score: number, previousScore?: number }>, settled: boolean }>(`
    SELECT seq::text, payload->'changes' AS changes, occurred_at < clock_timestamp() - $3 * interval '1 millisecond' AS settled
    FROM domain_events WHERE competition_id = $1 AND type = 'score.changed' AND seq > $2 ORDER BY seq LIMIT $4`,
  [competitionId, cursor.last_seq, SETTLE_MS, PAGE + 1])
  const settled = rows.slice(0, PAGE)
  const young = settled.findIndex((r) => !r.settled)
  const read = young === -1 ? settled : settled.slice(0, young)
  // Each mover from where it stood before the first batch read to where the last one left it.
  const byUser = new Map<string, Mover>()
  for (const row of read) {
    for (const c of row.changes) {
      const known = byUser.get(c.userId)
      byUser.set(c.userId, { userId: c.userId, score: c.score, previousScore: known?.previousScore ?? c.previousScore ?? c.score })
    }
  }
  if (read.length > 0) {
    await tx.query('UPDATE notification_rank_cursors SET last_seq = $2 WHERE competition_id = $1', [competitionId, read.at(-1)!.seq])
  }
  const more = young !== -1 ? 'soon' : rows.length > PAGE ? 'now' : false
  return { movers: [...byUser.values()], upTo: read.at(-1)?.seq ?? null, more }
}
