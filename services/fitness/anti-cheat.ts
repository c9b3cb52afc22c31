import type { Metric } from '../../schemas/fitness.ts'
import type { Db } from '../shared/transactions.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'

// Plausibility limits; the defaults come from configuration (see env.template).
export interface PlausibilityLimits {
  // Sustained cadence above this is not walking or running (elite runners reach ~200).
  maxStepsPerMinute: number
  // Distance over time faster than this is a vehicle, not a person.
  maxSpeedMps: number
  // One source's total for one local day above this is implausible.
  dailyCeilings: Record<Metric, number>
}

export type FlagReason = 'steps_rate' | 'speed' | 'daily_ceiling'

export interface SampleCheck {
  metric: Metric
  kind: 'sample' | 'daily_total'
  startMs: number
  endMs: number
  value: number
}

export interface RuleHit {
  reason: FlagReason
  details: Record<string, number | string>
}

// Rate rules apply to interval samples only; a day's total is judged by the ceiling. Spans
// shorter than a minute (or a second) are treated as a minute (a second), so a burst of
// 5,000 steps "in an instant" is as suspicious as it looks.
export function checkSample (s: SampleCheck, limits: PlausibilityLimits): RuleHit[] {
  if (s.kind !== 'sample') return []
  const hits: RuleHit[] = []
  if (s.metric === 'steps') {
    const minutes = Math.max(1, (s.endMs - s.startMs) / 60_000)
    const rate = s.value / minutes
    if (rate > limits.maxStepsPerMinute) {
      hits.push({ reason: 'steps_rate', details: { stepsPerMinute: Math.round(rate), limit: limits.maxStepsPerMinute } })
    }
  }
  if (s.metric === 'distance_m') {
    const seconds = Math.max(1, (s.endMs - s.startMs) / 1000)
    const speed = s.value / seconds
    if (speed > limits.maxSpeedMps) {
      hits.push({ reason: 'speed', details: { metresPerSecond: Math.round(speed * 10) / 10, limit: limits.maxSpeedMps } })
    }
  }
  return hits
}

export function overCeiling (metric: Metric, value: number, limits: PlausibilityLimits): boolean {
  return value > limits.dailyCeilings[metric]
}

export interface FlagToRaise {
  sampleId: string
  sampleVersion: string
  reason: FlagReason
  details: Record<string, number | string>
  metric: Metric
  localDay: string
  // The time the flagged data covers: decides which competitions it affects.
  windowStart: string
  windowEnd: string
  manual: boolean
}

export interface RaisedFlag {
  id: number
  sampleId: string
  reason: FlagReason
  competitionIds: string[]
}

// Stores flags (once per sample version and reason; a day over the ceiling once while its
// flag is open) and holds the participant out of prizes in every running competition the
// flagged data counts in (participants.flagged, read by the prize calculation).
export async function raiseFlags (tx: Db, userId: string, flags: FlagToRaise[]): Promise<RaisedFlag[]> {
  if (flags.length === 0) return []
  const { rows } = await tx.query<{ id: string, sample_id: string, reason: FlagReason, competition_ids: string[] }>(
    `WITH input AS (
       SELECT * FROM jsonb_to_recordset($2::jsonb) AS x(sample_id bigint, sample_version bigint, reason text, details jsonb,
         metric text, local_day date, window_start timestamptz, window_end timestamptz, manual boolean)
     ), targets AS (
       SELECT i.*, array(
         SELECT c.id FROM participants p JOIN competitions c ON c.id = p.competition_id
         WHERE p.user_id = $1 AND c.metric = i.metric AND c.status IN ('active', 'grace')
           AND now() < c.ends_at + c.grace_period_seconds * interval '1 second'
           AND i.window_start < c.ends_at AND i.window_end >= c.starts_at
           AND (c.allow_manual_entries OR NOT i.manual)
         ORDER BY c.id) AS competition_ids
       FROM input i
       WHERE i.reason <> 'daily_ceiling' OR NOT EXISTS (
         SELECT 1 FROM fitness_flags f WHERE f.user_id = $1 AND f.reason = 'daily_ceiling' AND f.status = 'open'
           AND f.metric = i.metric AND f.local_day = i.local_day)
     )
     INSERT INTO fitness_flags (user_id, sample_id, sample_version, reason, details, metric, local_day, competition_ids)
     SELECT $1, sample_id, sample_version, reason, details, metric, local_day, competition_ids FROM targets
     ON CONFLICT (sample_id, sample_version, reason) DO NOTHING
     RETURNING id, sample_id, reason, competition_ids`,
    [userId, JSON.stringify(flags.map((f) => ({
      sample_id: f.sampleId,
      sample_version: f.sampleVersion,
      reason: f.reason,
      details: f.details,
      metric: f.metric,
      local_day: f.localDay,
      window_start: f.windowStart,
      window_end: f.windowEnd,
      manual: f.manual
    })))])
  const competitionIds = [...new Set(rows.flatMap((r) => r.competition_ids))]
  if (competitionIds.length > 0) {
    await tx.query('UPDATE participants SET flagged = true WHERE user_id = $1 AND competition_id = ANY($2::uuid[]) AND NOT flagged',
      [userId, competitionIds])
  }
  const raised = rows.map((r) => ({ id: Number(r.id), sampleId: r.sample_id, reason: r.reason, competitionIds: r.competition_ids }))
  await recordEvents(tx, raised.map((f) => domainEvent('flag.raised', { flagId: f.id, userId, reason: f.reason, competitionIds: f.competitionIds })))
  return raised
}

// A sample's flagged/flag_reason mirror the unresolved or confirmed flags of its current version.
export async function refreshSampleFlags (tx: Db, sampleIds: string[]): Promise<void> {
  if (sampleIds.length === 0) return
  await tx.query(
    `UPDATE fitness_samples s SET flagged = f.reasons IS NOT NULL, flag_reason = f.reasons
     FROM (SELECT s2.id, (SELECT string_agg(DISTINCT fl.reason, ',' ORDER BY fl.reason) FROM fitness_flags fl
             WHERE fl.sample_id = s2.id AND fl.sample_version = s2.version AND fl.status IN ('open', 'confirmed')) AS reasons
           FROM fitness_samples s2 WHERE s2.id = ANY($1::bigint[])) f
     WHERE s.id = f.id AND (s.flagged IS DISTINCT FROM (f.reasons IS NOT NULL) OR s.flag_reason IS DISTINCT FROM f.reasons)`,
    [sampleIds])
}

// participants.flagged for the given competitions: held out while any open or confirmed
// flag of the user names the competition. Clearing the last one releases them.
export async function refreshParticipantFlags (tx: Db, userId: string, competitionIds: string[]): Promise<void> {
  if (competitionIds.length === 0) return
  await tx.query(
    `UPDATE participants p SET flagged = EXISTS (
       SELECT 1 FROM fitness_flags f WHERE f.user_id = p.user_id AND f.status IN ('open', 'confirmed')
         AND p.competition_id = ANY(f.competition_ids))
     WHERE p.user_id = $1 AND p.competition_id = ANY($2::uuid[])`,
    [userId, competitionIds])
}
