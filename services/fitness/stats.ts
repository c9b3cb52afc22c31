import { MAX_STATS_DAYS, METRICS, type Metric, type Stats } from '../../schemas/fitness.ts'
import { COMBINE_RULE } from './daily-totals.ts'
import { addDays, daysBetween, isValidTimeZone, zoneDay } from '../shared/time-zones.ts'
import { invalidField } from './validation.ts'
import type { Db } from '../shared/transactions.ts'

const DEFAULT_GOALS: Record<Metric, number> = { steps: 10000, distance_m: 5000, active_kcal: 300, active_minutes: 30 }

export interface StatsQuery {
  from?: string
  to?: string
  metric?: Metric
  goal?: number
}

type MetricStats = Stats['metrics'][number]

const weekStart = (day: string): string => addDays(day, -((new Date(`${day}T00:00:00Z`).getUTCDay() + 6) % 7))
const monthStart = (day: string): string => `${day.slice(0, 7)}-01`

function sumBy (days: Array<[string, number]>, key: (day: string) => string): Array<{ start: string, value: number }> {
  const sums = new Map<string, number>()
  for (const [day, value] of days) sums.set(key(day), (sums.get(key(day)) ?? 0) + value)
  return [...sums].map(([start, value]) => ({ start, value }))
}

function best (periods: Array<{ start: string, value: number }>): { start: string, value: number } | null {
  let top: { start: string, value: number } | null = null
  for (const p of periods) if (p.value > 0 && (top === null || p.value > top.value)) top = p
  return top
}

// history: every day with data, ascending.
function metricStats (metric: Metric, history: Array<[string, number]>, from: string, to: string, goal: number, today: string): MetricStats {
  const byDay = new Map(history)
  // A counted loop over the range, capped by the caller, rather than comparing day strings.
  const daily: Array<[string, number]> = []
  const days = daysBetween(from, to)
  for (let i = 0; i <= days; i++) {
    const day = addDays(from, i)
    daily.push([day, byDay.get(day) ?? 0])
  }

  // A day counts towards a streak when it has activity and meets the goal.
  const meetsValue = (value: number): boolean => value > 0 && value >= goal
  const meets = (day: string): boolean => meetsValue(byDay.get(day) ?? 0)
  let longest = 0
  let run = 0
  let previous: string | null = null
  for (const [day, value] of history) {
    if (!meetsValue(value)) { run = 0; previous = null; continue }
    run = previous !== null && addDays(previous, 1) === day ? run + 1 : 1
    previous = day
    longest = Math.max(longest, run)
  }
  // Today is still open: a streak that reached yesterday is not broken yet.
  let cursor = to === today && !meets(to) ? addDays(to, -1) : to
  // A streak is made of days with data, so it is never longer than the history.
  let current = 0
  while (current < history.length && meets(cursor)) { current++; cursor = addDays(cursor, -1) }

  return {
    metric,
    total: daily.reduce((sum, [, v]) => sum + v, 0),
    daily: daily.map(([start, value]) => ({ start, value })),
    weekly: sumBy(daily, weekStart),
    monthly: sumBy(daily, monthStart),
    streak: { goal, current, longest },
    personalBests: { day: best(history.map(([start, value]) => ({ start, value }))), week: best(sumBy(history, weekStart)), month: best(sumBy(history, monthStart)) }
  }
}

// Daily, weekly and monthly totals over a range of the user's local days, streaks and personal
// bests, all from daily_totals combined across sources by the documented rule.
export async function userStats (db: Db, userId: string, query: StatsQuery, now: Date): Promise<Stats> {
  const { rows: users } = await db.query<{ time_zone: string }>('SELECT time_zone FROM users WHERE id = $1', [userId])
  const stored = users[0]?.time_zone
  const timeZone = stored !== undefined && isValidTimeZone(stored) ? stored : 'UTC'
  const today = zoneDay(now, timeZone)
  const to = query.to ?? today
  const from = query.from ?? addDays(to, -29)
  // The range is capped here, before any loop over its days.
  if (from > to) throw invalidField(['from'], 'must not be after to', 'querystring')
  if (daysBetween(from, to) >= MAX_STATS_DAYS) throw invalidField(['from'], `must be within ${MAX_STATS_DAYS} days of to`, 'querystring')
  const metrics = query.metric === undefined ? [...METRICS] : [query.metric]

  const { rows } = await db.query<{ metric: Metric, day: string, value: string }>(
    `SELECT metric, local_day::text AS day, max(value) AS value FROM daily_totals
     WHERE user_id = $1 AND metric = ANY($2::text[]) AND local_day <= $3::date
     GROUP BY metric, local_day ORDER BY local_day`,
    [userId, metrics, to])
  const history = new Map<Metric, Array<[string, number]>>(metrics.map((m) => [m, []]))
  for (const r of rows) history.get(r.metric)?.push([r.day, Number(r.value)])

  return {
    userId,
    from,
    to,
    timeZone,
    rule: COMBINE_RULE,
    metrics: metrics.map((m) => {
      const goal = query.metric !== undefined && query.goal !== undefined ? query.goal : DEFAULT_GOALS[m]
      return metricStats(m, history.get(m) ?? [], from, to, goal, today)
    })
  }
}
