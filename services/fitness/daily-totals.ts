import { DEVICE_PRIORITY_RULE, type Metric } from '../../schemas/fitness.ts'
import type { DayKey } from './ingest.ts'
import type { Db } from '../shared/transactions.ts'

// How overlapping sources are combined, stated once for code, stats and the API document.
export const COMBINE_RULE = 'Per local day and metric, each source\'s total is the larger of its interval samples\' sum and its own ' +
  'daily total; sources are then combined by taking the maximum across sources. ' + DEVICE_PRIORITY_RULE +
  ' Deleted and admin-rejected records do not count.'

export interface SourceDayTotal { metric: Metric, day: string, source: string, value: number }

function uniqueKeys (days: DayKey[]): { metrics: string[], dayList: string[] } {
  const seen = new Set<string>()
  const metrics: string[] = []
  const dayList: string[] = []
  for (const { metric, day } of days) {
    const key = `${metric}|${day}`
    if (seen.has(key)) continue
    seen.add(key)
    metrics.push(metric)
    dayList.push(day)
  }
  return { metrics, dayList }
}

// Rebuilds daily_totals (one row per user, day, metric and source) for the given days from
// the stored samples. Recomputing rather than adding deltas is what makes replays harmless.
// One statement: the sources the samples still give are written (inserted or updated in
// place) and the rows of sources that have nothing left that day are deleted; the two touch
// different rows, so their order within the statement does not matter.
export async function recomputeDailyTotals (tx: Db, userId: string, days: DayKey[]): Promise<SourceDayTotal[]> {
  if (days.length === 0) return []
  const { metrics, dayList } = uniqueKeys(days)
  const { rows } = await tx.query<{ metric: Metric, day: string, source: string, value: string }>({
    // Named, like every statement of a device sync, so each connection parses and plans it once.
    name: 'fitness-recompute-daily-totals',
    text: `WITH k AS (
       SELECT * FROM unnest($2::text[], $3::date[]) AS k(metric, local_day)
     ), fresh AS (
       SELECT s.local_day, s.metric, s.source,
         greatest(coalesce(sum(coalesce(s.counted_value, s.value)) FILTER (WHERE s.kind = 'sample'), 0), coalesce(sum(s.value) FILTER (WHERE s.kind = 'daily_total'), 0)) AS value
       FROM fitness_samples s JOIN k ON s.metric = k.metric AND s.local_day = k.local_day
       WHERE s.user_id = $1 AND NOT s.deleted AND NOT s.rejected
       GROUP BY s.local_day, s.metric, s.source
     ), emptied AS (
       DELETE FROM daily_totals d USING k
       WHERE d.user_id = $1 AND d.metric = k.metric AND d.local_day = k.local_day
         AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.local_day = d.local_day AND f.metric = d.metric AND f.source = d.source)
     )
     INSERT INTO daily_totals (user_id, local_day, metric, source, value)
     SELECT $1, local_day, metric, source, value FROM fresh
     ON CONFLICT (user_id, metric, local_day, source) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
     RETURNING metric, local_day::text AS day, source, value`,
    values: [userId, metrics, dayList]
  })
  return rows.map((r) => ({ ...r, value: Number(r.value) }))
}

// The combined total (maximum across sources) of each given day, 0 when nothing is left, from
// what recomputeDailyTotals returned for those days (every source row they now have), so the
// rows just written need not be read back.
export function combinedDayTotals (days: DayKey[], totals: SourceDayTotal[]): Array<{ day: string, metric: Metric, value: number }> {
  const best = new Map<string, number>()
  for (const { metric, day, value } of totals) {
    const key = `${metric}|${day}`
    const seen = best.get(key)
    best.set(key, seen === undefined ? value : Math.max(seen, value))
  }
  const { metrics, dayList } = uniqueKeys(days)
  return metrics.map((metric, i) => ({ day: dayList[i]!, metric: metric as Metric, value: best.get(`${metric}|${dayList[i]}`) ?? 0 }))
    .sort((a, b) => a.day.localeCompare(b.day) || a.metric.localeCompare(b.metric))
}
