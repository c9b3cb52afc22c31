import type { Metric, SampleInput } from '../../../schemas/fitness.ts'
import { daysToSamples } from '../../fitness/pull.ts'
import { addDays, daysBetween, zoneDayStart } from '../../shared/time-zones.ts'

// Providers that report per-day summaries give one daily total per day and metric, stored like
// a pull: the fetch time is the version, so a later fetch of a growing day replaces the earlier
// one and a repeated fetch of an unchanged day rewrites nothing.
export function daySummaries (days: Array<{ day: string, values: Partial<Record<Metric, number>> }>, timeZone: string, now: Date): SampleInput[] {
  return daysToSamples(days.map((d) => ({
    day: d.day,
    start: zoneDayStart(d.day, timeZone),
    end: zoneDayStart(addDays(d.day, 1), timeZone),
    values: d.values
  })), timeZone, now.getTime())
}

export function eachDay (from: string, to: string): string[] {
  const days: string[] = []
  for (let i = 0; i <= daysBetween(from, to); i++) days.push(addDays(from, i))
  return days
}

// A finite, non-negative number from a provider's JSON, or undefined.
export function amount (value: unknown): number | undefined {
  const n = typeof value === 'string' ? Number(value) : value
  return typeof n === 'number' && Number.isFinite(n) && n >= 0 ? n : undefined
}
