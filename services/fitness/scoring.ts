import { createHash } from 'node:crypto'
import type { Metric } from '../../schemas/fitness.ts'
import type { TimeRange } from './ingest.ts'
import type { Db } from '../shared/transactions.ts'

// Bump when the scoring rule changes, so recomputed scores are pushed again.
const RULES_VERSION = 2

export interface ScoreTarget {
  competitionId: string
  metric: Metric
  startsAt: Date
  endsAt: Date
  timeZone: string
  allowManual: boolean
  joinedAt: Date
  // The participant's stored score: an unchanged total is not pushed again.
  currentScore: number
}

export interface ComputedScore {
  target: ScoreTarget
  score: number
  // The last change to any of the user's records of this metric. Every effective change
  // (insert, revision, deletion, rejection) moves it forward and it never goes back, so a
  // state that returns to an earlier value still gets a new key.
  inputs: string
}

interface TargetRow {
  id: string
  metric: Metric
  starts_at: Date
  ends_at: Date
  time_zone: string
  allow_manual_entries: boolean
  joined_at: Date
  score: string
}

const toTarget = (r: TargetRow): ScoreTarget => ({
  competitionId: r.id,
  metric: r.metric,
  startsAt: r.starts_at,
  endsAt: r.ends_at,
  timeZone: r.time_zone,
  allowManual: r.allow_manual_entries,
  joinedAt: r.joined_at,
  currentScore: Number(r.score)
})

// Competitions still taking data: active, or in grace before the grace period ends. After
// that, data is stored but no longer moves the competition.
const OPEN_COMPETITION = 'c.status IN (\'active\', \'grace\') AND now() < c.ends_at + c.grace_period_seconds * interval \'1 second\''

// The user's open competitions whose metric and window overlap what a sync touched.
export async function competitionsToScore (db: Db, userId: string, ranges: TimeRange[]): Promise<ScoreTarget[]> {
  if (ranges.length === 0) return []
  const { rows } = await db.query<TargetRow>({
    name: 'fitness-competitions-to-score',
    text: `SELECT DISTINCT c.id, c.metric, c.starts_at, c.ends_at, c.time_zone, c.allow_manual_entries, p.joined_at, p.score
     FROM participants p JOIN competitions c ON c.id = p.competition_id
     JOIN unnest($2::text[], $3::timestamptz[], $4::timestamptz[]) AS r(metric, start_at, end_at)
       ON r.metric = c.metric AND r.start_at < c.ends_at AND r.end_at >= c.starts_at
     WHERE p.user_id = $1 AND ${OPEN_COMPETITION}
     ORDER BY c.id`,
    values: [userId, ranges.map((r) => r.metric), ranges.map((r) => r.start), ranges.map((r) => r.end)]
  })
  return rows.map(toTarget)
}

export async function competitionTargets (db: Db, userId: string, competitionIds: string[]): Promise<ScoreTarget[]> {
  if (competitionIds.length === 0) return []
  const { rows } = await db.query<TargetRow>(
    `SELECT c.id, c.metric, c.starts_at, c.ends_at, c.time_zone, c.allow_manual_entries, p.joined_at, p.score
     FROM participants p JOIN competitions c ON c.id = p.competition_id
     WHERE p.user_id = $1 AND c.id = ANY($2::uuid[]) AND c.metric <> 'custom' AND ${OPEN_COMPETITION}
     ORDER BY c.id`,
    [userId, competitionIds])
  return rows.map(toTarget)
}

// The score is recomputed from stored records over the competition window, in the
// competition's time zone:
// - a record is split across the competition's local days (and clipped to the window) in
//   proportion to time, so a walk from 23:30 to 00:30 gives half to each day and a record
//   crossing the start or end only counts its part inside;
// - a sample counts its counted_value: the part no higher-priority device of its source covers
//   (services/fitness/device-priority.ts);
// - per local day, sources are combined as for daily totals (within a source the larger of
//   samples and daily totals, then the maximum across sources);
// - manual records count only where the competition allows manual entries;
// - deleted and admin-rejected records never count; flagged ones do (the flag holds the
//   participant out of prizes until an admin decides).
// Records span at most 25 hours, so only those starting up to 25 hours before the window
// are read. Arithmetic is exact (numeric), so the result never depends on row order.
export async function computeScore (db: Db, userId: string, target: ScoreTarget): Promise<ComputedScore> {
  // Named, so each connection plans it once (its planning cost as much as running it).
  const { rows } = await db.query<{ score: string, inputs: string }>({
    name: 'fitness-compute-score',
    text: `WITH c AS (
       SELECT $3::timestamptz AS starts_at, $4::timestamptz AS ends_at, $5::text AS tz, $6::boolean AS allow_manual
     ), candidates AS (
       SELECT s.* FROM fitness_samples s, c
       WHERE s.user_id = $1 AND s.metric = $2
         AND s.start_at >= c.starts_at - interval '25 hours' AND s.start_at < c.ends_at
     ), s AS (
       SELECT x.source, x.kind, x.start_at, x.end_at, coalesce(x.counted_value, x.value) AS value FROM candidates x, c
       WHERE NOT x.deleted AND NOT x.rejected
         AND (x.end_at > c.starts_at OR (x.end_at = x.start_at AND x.start_at >= c.starts_at))
         AND (c.allow_manual OR (x.source <> 'manual' AND x.recording_method <> 'manual'))
     ), pieces AS (
       SELECT days.day, s.source, s.kind,
         CASE WHEN s.end_at = s.start_at THEN s.value
           ELSE s.value * extract(epoch FROM least(s.end_at, days.day_end, c.ends_at) - greatest(s.start_at, days.day_start, c.starts_at))
             / extract(epoch FROM s.end_at - s.start_at) END AS v
       FROM s CROSS JOIN c
       -- Only the competition's local days the record's part inside the window touches (one or
       -- two for most), not every day of the competition.
       CROSS JOIN LATERAL (
         SELECT d::date AS day, (d::date::timestamp AT TIME ZONE c.tz) AS day_start, ((d::date + 1)::timestamp AT TIME ZONE c.tz) AS day_end
         FROM generate_series((greatest(s.start_at, c.starts_at) AT TIME ZONE c.tz)::date,
           (least(s.end_at, c.ends_at - interval '1 microsecond') AT TIME ZONE c.tz)::date, interval '1 day') AS d
       ) AS days
       WHERE CASE WHEN s.end_at = s.start_at
           THEN s.start_at >= days.day_start AND s.start_at < days.day_end AND s.start_at < c.ends_at
           ELSE least(s.end_at, days.day_end, c.ends_at) > greatest(s.start_at, days.day_start, c.starts_at) END
     ), per_source AS (
       SELECT day, source, greatest(coalesce(sum(v) FILTER (WHERE kind = 'sample'), 0), coalesce(sum(v) FILTER (WHERE kind = 'daily_total'), 0)) AS v
       FROM pieces GROUP BY day, source
     ), per_day AS (
       SELECT day, max(v) AS v FROM per_source GROUP BY day
     )
     SELECT (SELECT coalesce(round(sum(v)), 0)::bigint FROM per_day)::text AS score,
       (SELECT coalesce(extract(epoch FROM max(updated_at))::text, '-') FROM fitness_samples WHERE user_id = $1 AND metric = $2) AS inputs`,
    values: [userId, target.metric, target.startsAt, target.endsAt, target.timeZone, target.allowManual]
  })
  const row = rows[0]
  return { target, score: Number(row?.score ?? 0), inputs: row?.inputs ?? '' }
}

// The same state gives the same key (a replay writes nothing); any change to the stored
// records, the window, the rules or the participation gives a new one, even when the value
// returns to an earlier number.
export function scoreIdempotencyKey (userId: string, computed: ComputedScore): string {
  const { target } = computed
  const digest = createHash('sha256').update(JSON.stringify([
    RULES_VERSION, target.competitionId, target.startsAt.toISOString(), target.endsAt.toISOString(), target.timeZone,
    target.allowManual, target.joinedAt.toISOString(), computed.score, computed.inputs
  ])).digest('base64url').slice(0, 32)
  return `sync:${userId}:${digest}`
}
