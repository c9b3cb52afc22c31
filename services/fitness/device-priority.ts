import type { Metric } from '../../schemas/fitness.ts'
import type { Db } from '../shared/transactions.ts'
import type { DayKey, TimeRange } from './ingest.ts'

// One walk counted once. HealthKit and Health Connect report a phone and a watch under one
// source, so within a source samples fall in device lanes: device type by priority (watch,
// ring, band, phone, scale, other), then device id. As HealthKit's own statistics do (the watch
// over the phone for steps), a sample counts only for the part of its time that no sample of a
// higher lane of the same user, source and metric covers: its value scaled by the uncovered
// share of its duration (a zero-length sample counts unless a higher lane covers its instant).
// Samples without a device form one lane and are added, as before. Daily totals
// (kind daily_total) are the source's own deduplicated figure and count in full. A manual
// entry covers only other manual entries: competitions without manual entries drop it, and
// the recorded sample under it must then still count.

// Where a revised sample was before its revision (its old metric and time): samples it covered
// there may count more now that it moved, changed device or changed metric.
export interface VacatedPlace { metric: Metric, start: Date, end: Date }

// Recomputes counted_value of the given samples and of every sample overlapping them in the
// same source and metric (a change to a watch sample changes what the phone's samples under it
// count), and of the reduced samples (counted_value set) of that source overlapping a vacated
// place. With one device there is one lane and no reduced sample, which the lane and reduced
// indexes (migration 035) say at once, so a single-device sync pays one cheap statement. NULL means "counts in
// full". Returns the days and time ranges whose counted values changed, for the caller to
// recompute totals and scores. Records span at most 25 hours, which bounds the index scans.
export interface CountChange {
  source: string
  // The metrics of every written, deleted and vacated sample.
  metrics: Metric[]
  sampleIds: string[]
  vacated: VacatedPlace[]
}

export async function refreshCountedValues (tx: Db, userId: string, change: CountChange): Promise<{ days: DayKey[], ranges: TimeRange[] }> {
  const { source, sampleIds, vacated } = change
  if (sampleIds.length === 0 && vacated.length === 0) return { days: [], ranges: [] }
  const metrics = [...new Set(change.metrics)]
  // Nothing can count differently unless a metric of the change has two device lanes in this
  // source, or a sample already counted below its value. For a user with one device that is
  // three index probes per metric, and the refresh below does not run.
  const gate = await tx.query({
    name: 'fitness-counted-values-gate',
    text: `SELECT 1 FROM unnest($3::text[]) AS m(metric)
       WHERE (SELECT min(x.device_lane) FROM fitness_samples x WHERE x.user_id = $1 AND x.metric = m.metric AND x.source = $2
               AND x.kind = 'sample' AND NOT x.deleted AND NOT x.rejected)
          <> (SELECT max(x.device_lane) FROM fitness_samples x WHERE x.user_id = $1 AND x.metric = m.metric AND x.source = $2
               AND x.kind = 'sample' AND NOT x.deleted AND NOT x.rejected)
          OR EXISTS (SELECT 1 FROM fitness_samples r WHERE r.user_id = $1 AND r.metric = m.metric AND r.source = $2 AND r.counted_value IS NOT NULL)
       LIMIT 1`,
    values: [userId, source, metrics]
  })
  if (gate.rows.length === 0) return { days: [], ranges: [] }
  // Not a named statement: a cached generic plan of it, made without the user's values, may
  // scan every user's samples (a year of minute-level history made a batch 2 s); planned per
  // call, it takes the user's index ranges.
  const { rows } = await tx.query<{ metric: Metric, local_day: string, start_at: Date, end_at: Date }>({
    text: `WITH changed AS (
       -- Only samples whose source holds another device's samples: with one device nothing
       -- covers anything, and two index probes per sample say so.
       SELECT c.id, c.metric, c.source, c.device_lane, c.start_at, c.end_at FROM fitness_samples c
       -- (The ids are this user's, from this sync's writes; by id alone the primary key finds them.)
       WHERE c.id = ANY($2::bigint[]) AND (
         EXISTS (SELECT 1 FROM fitness_samples x WHERE x.user_id = $1 AND x.metric = c.metric AND x.source = c.source
           AND x.device_lane < c.device_lane AND x.kind = 'sample' AND NOT x.deleted AND NOT x.rejected)
         OR EXISTS (SELECT 1 FROM fitness_samples x WHERE x.user_id = $1 AND x.metric = c.metric AND x.source = c.source
           AND x.device_lane > c.device_lane AND x.kind = 'sample' AND NOT x.deleted AND NOT x.rejected))
     ), affected AS (
       -- Only lower lanes than a changed sample can count differently because of it.
       SELECT a.id FROM changed c JOIN fitness_samples a
         ON a.user_id = $1 AND a.metric = c.metric AND a.source = c.source AND a.device_lane > c.device_lane
        AND a.kind = 'sample' AND NOT a.deleted AND NOT a.rejected
        AND a.start_at >= c.start_at - interval '25 hours' AND a.start_at <= c.end_at AND a.end_at >= c.start_at
       UNION SELECT id FROM changed
       -- Only a sample counted below its value can gain from a sample leaving its time.
       UNION SELECT a.id FROM unnest($4::text[], $5::timestamptz[], $6::timestamptz[]) AS v(metric, start_at, end_at)
       JOIN fitness_samples a ON a.user_id = $1 AND a.metric = v.metric AND a.source = $3 AND a.counted_value IS NOT NULL
        AND a.kind = 'sample' AND NOT a.deleted AND NOT a.rejected
        AND a.start_at >= v.start_at - interval '25 hours' AND a.start_at <= v.end_at AND a.end_at >= v.start_at
     ), computed AS (
       SELECT a.id,
         CASE WHEN a.kind <> 'sample' OR cover.ranges IS NULL THEN a.value
           WHEN a.end_at = a.start_at THEN CASE WHEN cover.ranges @> a.start_at THEN 0 ELSE a.value END
           ELSE a.value * (SELECT coalesce(sum(extract(epoch FROM upper(r) - lower(r))), 0)
             FROM unnest(tstzmultirange(tstzrange(a.start_at, a.end_at)) - cover.ranges) AS r) / extract(epoch FROM a.end_at - a.start_at)
         END AS counted
       FROM fitness_samples a JOIN (SELECT DISTINCT id FROM affected) x ON x.id = a.id
       LEFT JOIN LATERAL (
         SELECT range_agg(tstzrange(h.start_at, h.end_at, '[]')) AS ranges FROM fitness_samples h
         WHERE a.kind = 'sample' AND h.user_id = $1 AND h.metric = a.metric AND h.source = a.source AND h.device_lane < a.device_lane
           AND h.kind = 'sample' AND NOT h.deleted AND NOT h.rejected AND (h.recording_method <> 'manual' OR a.recording_method = 'manual')
           AND h.start_at >= a.start_at - interval '25 hours' AND h.start_at <= a.end_at AND h.end_at > a.start_at
       ) cover ON true
     )
     UPDATE fitness_samples f SET counted_value = CASE WHEN c.counted = f.value THEN NULL ELSE c.counted END, updated_at = now()
     FROM computed c WHERE f.id = c.id AND coalesce(f.counted_value, f.value) IS DISTINCT FROM c.counted
     RETURNING f.metric, f.local_day::text AS local_day, f.start_at, f.end_at`,
    values: [userId, sampleIds, source, vacated.map((p) => p.metric), vacated.map((p) => p.start), vacated.map((p) => p.end)]
  })
  return {
    days: rows.map((r) => ({ metric: r.metric, day: r.local_day })),
    ranges: rows.map((r) => ({ metric: r.metric, start: r.start_at.toISOString(), end: r.end_at.toISOString() }))
  }
}
