import type { DeletionInput, Metric, SampleInput, Source } from '../../schemas/fitness.ts'
import { checkSample, type FlagToRaise, type PlausibilityLimits } from './anti-cheat.ts'
import type { Db } from '../shared/transactions.ts'
import { refreshCountedValues, type VacatedPlace } from './device-priority.ts'

interface StoredRow {
  id: string
  external_id: string
  version: string
  metric: Metric
  kind: 'sample' | 'daily_total'
  start_at: Date
  end_at: Date
  value: string
  recording_method: string
  tz_offset_minutes: number
  local_day: string
  deleted: boolean
  device_type: string
  device_id: string
  device_name: string | null
  device_model: string | null
  device_manufacturer: string | null
}

export interface WrittenSample {
  id: string
  externalId: string
  version: string
  metric: Metric
  localDay: string
  value: number
  tzOffsetMinutes: number
  manual: boolean
}

export interface DayKey { metric: Metric, day: string }
export interface TimeRange { metric: Metric, start: string, end: string }

export interface IngestOutcome {
  inserted: number
  replaced: number
  unchanged: number
  deleted: number
  // Samples whose content this batch wrote (inserted or replaced), for the day-level rules.
  written: WrittenSample[]
  // Flags found by the per-sample rules, ready to raise.
  flags: FlagToRaise[]
  // Local days whose totals may have changed (old and new day of a revised sample).
  days: DayKey[]
  // Every interval the batch speaks about, changed or not: competitions overlapping them
  // are recomputed even on a replay, which heals a score push that failed last time.
  ranges: TimeRange[]
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000

function sameContent (s: SampleInput, row: StoredRow): boolean {
  return !row.deleted && row.metric === s.metric && row.kind === s.kind &&
    row.start_at.getTime() === Date.parse(s.startTime) && row.end_at.getTime() === Date.parse(s.endTime) &&
    Number(row.value) === round3(s.value) && row.recording_method === s.recordingMethod &&
    row.tz_offset_minutes === s.tzOffsetMinutes && sameDevice(s.device, row)
}

function sameDevice (d: SampleInput['device'], row: StoredRow): boolean {
  return row.device_type === (d?.type ?? 'other') && row.device_id === (d?.id ?? '') && row.device_name === (d?.name ?? null) &&
    row.device_model === (d?.model ?? null) && row.device_manufacturer === (d?.manufacturer ?? null)
}

// Writes one source's batch for one user inside the caller's transaction. Identity is
// (user, source, external id): a higher version replaces, an equal or lower one is ignored,
// so replays and shuffles change nothing. Deletions keep a tombstone (deleted = true) so an
// older copy arriving late cannot bring the record back; a higher version can.
export async function ingestBatch (tx: Db, userId: string, source: Source, samples: SampleInput[], deletions: DeletionInput[],
  limits: PlausibilityLimits): Promise<IngestOutcome> {
  const ids = [...samples.map((s) => s.externalId), ...deletions.map((d) => d.externalId)]
  const { rows: existingRows } = ids.length === 0
    ? { rows: [] as StoredRow[] }
    : await tx.query<StoredRow>({
      // Named, like every statement of a device sync, so each connection parses and plans it once.
      name: 'fitness-existing-samples',
      text: `SELECT id, external_id, version, metric, kind, start_at, end_at, value, recording_method, tz_offset_minutes,
              local_day::text AS local_day, deleted, device_type, device_id, device_name, device_model, device_manufacturer
       FROM fitness_samples WHERE user_id = $1 AND source = $2 AND external_id = ANY($3::text[])
       ORDER BY id FOR UPDATE`,
      values: [userId, source, ids]
    })
  const existing = new Map(existingRows.map((r) => [r.external_id, r]))

  const outcome: IngestOutcome = { inserted: 0, replaced: 0, unchanged: 0, deleted: 0, written: [], flags: [], days: [], ranges: [] }
  const toWrite: SampleInput[] = []
  const toBump: SampleInput[] = []
  const vacated: VacatedPlace[] = []
  for (const s of samples) {
    outcome.ranges.push({ metric: s.metric, start: s.startTime, end: s.endTime })
    const row = existing.get(s.externalId)
    if (row === undefined) {
      toWrite.push(s)
      outcome.inserted++
    } else if (BigInt(s.version) <= BigInt(row.version)) {
      outcome.unchanged++
    } else if (sameContent(s, row)) {
      // A new version with the same content: recorded, but nothing to recompute.
      toBump.push(s)
      outcome.unchanged++
    } else {
      toWrite.push(s)
      outcome.replaced++
      outcome.days.push({ metric: row.metric, day: row.local_day })
      outcome.ranges.push({ metric: row.metric, start: row.start_at.toISOString(), end: row.end_at.toISOString() })
      if (!row.deleted) vacated.push({ metric: row.metric, start: row.start_at, end: row.end_at })
    }
  }

  const toDelete: Array<{ external_id: string, version: string }> = []
  for (const d of deletions) {
    const row = existing.get(d.externalId)
    if (row === undefined || row.deleted || (d.version !== undefined && BigInt(d.version) < BigInt(row.version))) {
      if (row !== undefined) outcome.ranges.push({ metric: row.metric, start: row.start_at.toISOString(), end: row.end_at.toISOString() })
      outcome.unchanged++
      continue
    }
    const version = d.version !== undefined && BigInt(d.version) > BigInt(row.version) ? String(d.version) : row.version
    toDelete.push({ external_id: d.externalId, version })
    outcome.deleted++
    outcome.days.push({ metric: row.metric, day: row.local_day })
    outcome.ranges.push({ metric: row.metric, start: row.start_at.toISOString(), end: row.end_at.toISOString() })
  }

  if (toWrite.length > 0) {
    // The version guard repeats the decision above in SQL, as a last line of defence.
    const { rows } = await tx.query<{ id: string, external_id: string, version: string, local_day: string }>({
      name: 'fitness-upsert-samples',
      text: `INSERT INTO fitness_samples (user_id, source, external_id, version, metric, kind, start_at, end_at, value,
         recording_method, tz_offset_minutes, local_day, device_type, device_id, device_name, device_model, device_manufacturer, counted_value)
       SELECT $1, $2, x.external_id, x.version, x.metric, x.kind, x.start_at, x.end_at, x.value, x.recording_method,
         x.tz_offset_minutes, ((x.start_at AT TIME ZONE 'UTC') + x.tz_offset_minutes * interval '1 minute')::date,
         coalesce(x.device_type, 'other'), coalesce(x.device_id, ''), x.device_name, x.device_model, x.device_manufacturer, NULL
       FROM jsonb_to_recordset($3::jsonb) AS x(external_id text, version bigint, metric text, kind text, start_at timestamptz,
         end_at timestamptz, value numeric, recording_method text, tz_offset_minutes integer, device_type text, device_id text,
         device_name text, device_model text, device_manufacturer text)
       ON CONFLICT (user_id, source, external_id) DO UPDATE SET
         version = EXCLUDED.version, metric = EXCLUDED.metric, kind = EXCLUDED.kind, start_at = EXCLUDED.start_at,
         end_at = EXCLUDED.end_at, value = EXCLUDED.value, recording_method = EXCLUDED.recording_method,
         device_type = EXCLUDED.device_type, device_id = EXCLUDED.device_id, device_name = EXCLUDED.device_name,
         device_model = EXCLUDED.device_model, device_manufacturer = EXCLUDED.device_manufacturer, counted_value = NULL,
         tz_offset_minutes = EXCLUDED.tz_offset_minutes, local_day = EXCLUDED.local_day, deleted = false, rejected = false,
         flagged = false, flag_reason = NULL, updated_at = now()
       WHERE fitness_samples.version < EXCLUDED.version
       RETURNING id, external_id, version, local_day::text AS local_day`,
      values: [userId, source, JSON.stringify(toWrite.map((s) => ({
        external_id: s.externalId,
        version: s.version,
        metric: s.metric,
        kind: s.kind,
        start_at: s.startTime,
        end_at: s.endTime,
        value: s.value,
        recording_method: s.recordingMethod,
        tz_offset_minutes: s.tzOffsetMinutes,
        device_type: s.device?.type,
        device_id: s.device?.id,
        device_name: s.device?.name,
        device_model: s.device?.model,
        device_manufacturer: s.device?.manufacturer
      })))]
    })
    const byId = new Map(toWrite.map((s) => [s.externalId, s]))
    for (const r of rows) {
      const s = byId.get(r.external_id)
      if (s === undefined) continue
      const manual = source === 'manual' || s.recordingMethod === 'manual'
      outcome.written.push({ id: r.id, externalId: r.external_id, version: r.version, metric: s.metric, localDay: r.local_day, value: s.value, tzOffsetMinutes: s.tzOffsetMinutes, manual })
      outcome.days.push({ metric: s.metric, day: r.local_day })
      const startMs = Date.parse(s.startTime)
      const endMs = Date.parse(s.endTime)
      for (const hit of checkSample({ metric: s.metric, kind: s.kind, startMs, endMs, value: s.value }, limits)) {
        outcome.flags.push({
          sampleId: r.id,
          sampleVersion: r.version,
          ...hit,
          metric: s.metric,
          localDay: r.local_day,
          windowStart: s.startTime,
          windowEnd: s.endTime,
          manual
        })
      }
    }
  }

  if (toBump.length > 0) {
    await tx.query(
      `UPDATE fitness_samples s SET version = x.version
       FROM jsonb_to_recordset($3::jsonb) AS x(external_id text, version bigint)
       WHERE s.user_id = $1 AND s.source = $2 AND s.external_id = x.external_id AND s.version < x.version`,
      [userId, source, JSON.stringify(toBump.map((s) => ({ external_id: s.externalId, version: s.version })))])
  }

  const deletedIds: string[] = []
  const deletedMetrics: Metric[] = []
  if (toDelete.length > 0) {
    const { rows } = await tx.query<{ id: string, metric: Metric }>(
      `UPDATE fitness_samples s SET deleted = true, version = x.version, updated_at = now()
       FROM jsonb_to_recordset($3::jsonb) AS x(external_id text, version bigint)
       WHERE s.user_id = $1 AND s.source = $2 AND s.external_id = x.external_id AND NOT s.deleted
       RETURNING s.id, s.metric`,
      [userId, source, JSON.stringify(toDelete)])
    for (const r of rows) {
      deletedIds.push(r.id)
      deletedMetrics.push(r.metric)
    }
  }

  // Written and deleted samples change what overlapping samples of other devices count.
  const recounted = await refreshCountedValues(tx, userId, {
    source,
    metrics: [...outcome.written.map((w) => w.metric), ...deletedMetrics, ...vacated.map((v) => v.metric)],
    sampleIds: [...outcome.written.map((w) => w.id), ...deletedIds],
    vacated
  })
  outcome.days.push(...recounted.days)
  outcome.ranges.push(...recounted.ranges)

  return outcome
}
