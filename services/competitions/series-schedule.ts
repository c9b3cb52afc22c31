import { addDays, zoneDay, zoneOffsetMinutes } from '../shared/time-zones.ts'
import { WEEKDAYS, type Schedule } from '../../schemas/series.ts'

const DAY_MS = 86_400_000

// When a series' competitions start: a wall-clock time on chosen local days of the series'
// time zone, so "Monday 06:00 in London" stays 06:00 in London on both sides of a DST change.

export type { Schedule }

// The instant a local wall-clock time (HH:MM) of a local day happens in `timeZone`, as
// Temporal's 'compatible' disambiguation has it: a time that happens twice when the clocks go
// back is its first, and a time skipped when they go forward is moved on by the gap (02:30
// becomes 03:30). Candidates use the offsets a day either side; a candidate is right when the
// zone's offset at it is the one it was made with.
export function zoneInstant (day: string, at: string, timeZone: string): Date {
  const wall = Date.parse(`${day}T${at}:00.000Z`)
  const before = zoneOffsetMinutes(timeZone, new Date(wall - DAY_MS))
  const after = zoneOffsetMinutes(timeZone, new Date(wall + DAY_MS))
  const candidates = [wall - before * 60_000, wall - after * 60_000].sort((a, b) => a - b)
  const exact = candidates.find((c) => wall - zoneOffsetMinutes(timeZone, new Date(c)) * 60_000 === c)
  return new Date(exact ?? wall - before * 60_000)
}

function daysInMonth (day: string): number {
  const [year, month] = day.split('-').map(Number) as [number, number]
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

function matches (schedule: Schedule, day: string): boolean {
  if (schedule.every === 'day') return true
  if (schedule.every === 'week') return WEEKDAYS[new Date(`${day}T00:00:00.000Z`).getUTCDay()] === schedule.weekday
  return Number(day.slice(8, 10)) === Math.min(schedule.day, daysInMonth(day))
}

// The first occurrence strictly after `after`. A month and a half of local days always holds
// one (a monthly day is clamped to the month's length); the day before is looked at too, since
// an instant's local day may lag the wall-clock day an occurrence is computed from.
export function nextOccurrence (schedule: Schedule, timeZone: string, after: Date): Date {
  const today = zoneDay(after, timeZone)
  for (let i = -1; i <= 62; i++) {
    const day = addDays(today, i)
    if (!matches(schedule, day)) continue
    const at = zoneInstant(day, schedule.at, timeZone)
    if (at.getTime() > after.getTime()) return at
  }
  throw new Error(`no occurrence of ${JSON.stringify(schedule)} after ${after.toISOString()}`)
}
