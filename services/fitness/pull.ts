import { errors } from '../../lib/errors.ts'
import type { Metric, SampleInput } from '../../schemas/fitness.ts'
import { addDays, daysBetween, isValidTimeZone, zoneDay, zoneOffsetMinutes } from '../shared/time-zones.ts'
import { invalidField } from './validation.ts'
import type { FitnessProvider, ProviderDay } from '../providers/types.ts'
import type { Db } from '../shared/transactions.ts'

export interface PullLimits {
  // Days fetched on a user's first pull.
  initialDays: number
  // Most days one pull may fetch.
  maxDays: number
}

export interface PullPlan {
  accessToken: string
  timeZone: string
  from: string
  to: string
}

// Which days to fetch: from the last day already stored for this provider (it may have been
// partial) up to today in the user's zone, or a first window of `initialDays`. An explicit
// range is honoured within `maxDays`.
export async function planPull (db: Db, userId: string, provider: FitnessProvider,
  body: { accessToken?: string, from?: string, to?: string }, limits: PullLimits, now: Date): Promise<PullPlan> {
  const { rows } = await db.query<{ time_zone: string | null, access_token: string | null, expired: boolean | null, last_day: string | null }>(
    `SELECT u.time_zone, t.access_token, t.expires_at < now() AS expired,
       (SELECT max(local_day)::text FROM fitness_samples WHERE user_id = $1 AND source = $3 AND NOT deleted) AS last_day
     FROM (SELECT $1::uuid AS id) q LEFT JOIN users u ON u.id = q.id
     LEFT JOIN provider_tokens t ON t.user_id = q.id AND t.provider = $2`,
    [userId, provider.name, provider.source])
  const row = rows[0]
  let accessToken = body.accessToken
  if (accessToken === undefined) {
    if (row?.access_token == null) throw invalidField(['accessToken'], `is required: no ${provider.label} token is stored for this user`)
    if (row.expired === true) throw errors.Unprocessable(`The stored ${provider.label} token has expired; send a fresh accessToken`)
    accessToken = row.access_token
  }
  const timeZone = row?.time_zone != null && isValidTimeZone(row.time_zone) ? row.time_zone : 'UTC'
  const today = zoneDay(now, timeZone)
  const to = body.to ?? today
  if (to > today) throw invalidField(['to'], 'must not be after today')
  let from = body.from ?? row?.last_day ?? addDays(to, 1 - limits.initialDays)
  if (from > to) {
    if (body.from !== undefined) throw invalidField(['from'], 'must not be after to')
    from = to
  }
  if (daysBetween(from, to) >= limits.maxDays) {
    if (body.from !== undefined) throw invalidField(['from'], `must be within ${limits.maxDays} days of to`)
    // Long gaps are filled from the most recent days backwards, a window per pull.
    from = addDays(to, 1 - limits.maxDays)
  }
  return { accessToken, timeZone, from, to }
}

// One daily total per day and metric. The pull time is the version, so a later pull replaces
// an earlier one (today's total grows during the day); an unchanged day rewrites nothing.
export function daysToSamples (days: ProviderDay[], timeZone: string, version: number): SampleInput[] {
  return days.flatMap((d) => Object.entries(d.values).map(([metric, value]) => ({
    externalId: `daily:${metric}:${d.day}`,
    version,
    metric: metric as Metric,
    kind: 'daily_total' as const,
    startTime: d.start.toISOString(),
    endTime: d.end.toISOString(),
    value: value ?? 0,
    recordingMethod: 'automatic' as const,
    tzOffsetMinutes: zoneOffsetMinutes(timeZone, d.start)
  })))
}

export async function markPulled (db: Db, userId: string, provider: FitnessProvider, to: string): Promise<void> {
  await db.query('UPDATE provider_tokens SET last_synced_day = $3, updated_at = now() WHERE user_id = $1 AND provider = $2',
    [userId, provider.name, to])
}
