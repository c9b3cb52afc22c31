import { errors } from '../../lib/errors.ts'
import type { ActivityItem, ActivityService } from './activity.ts'
import type { CompetitionStatus, Metric } from '../competitions/rows.ts'
import { toMoney, type LedgerService } from '../money/ledger.ts'
import { RANK_SQL } from '../competitions/user-competitions.ts'
import type { Db } from '../shared/transactions.ts'

const METRICS = ['steps', 'distance_m', 'active_kcal', 'active_minutes'] as const
type TotalsMetric = typeof METRICS[number]
export type MetricTotals = Record<TotalsMetric, number>

export interface Dashboard {
  timeZone: string
  today: string
  weekStart: string
  totals: { today: MetricTotals, week: MetricTotals }
  competitions: Array<{
    id: string
    name: string
    metric: Metric
    status: CompetitionStatus
    endsAt: string
    participantCount: number
    score: number
    rank: number
  }>
  wallets: Array<{ currency: string, balance: number, withdrawable: number }>
  recentActivity: ActivityItem[]
}

const RECENT_ACTIVITY = 10

function zeroTotals (): MetricTotals {
  return { steps: 0, distance_m: 0, active_kcal: 0, active_minutes: 0 }
}

export function createDashboardService ({ pool, ledger, activity, clock = () => new Date() }: {
  pool: Db
  ledger: Pick<LedgerService, 'walletBalances'>
  activity: Pick<ActivityService, 'list'>
  clock?: () => Date
}) {
  // Days and weeks (Monday first) are the user's own, in their time zone. Where several
  // sources report the same day, the largest counts, so overlapping sources are not added.
  async function totals (userId: string, now: Date): Promise<Pick<Dashboard, 'timeZone' | 'today' | 'weekStart' | 'totals'>> {
    const { rows } = await pool.query(`WITH u AS (
        SELECT time_zone, ($2::timestamptz AT TIME ZONE time_zone)::date AS today FROM users WHERE id = $1
      ), days AS (
        SELECT d.local_day, d.metric, max(d.value) AS value FROM daily_totals d, u
        WHERE d.user_id = $1 AND d.local_day BETWEEN date_trunc('week', u.today)::date AND u.today
        GROUP BY d.local_day, d.metric
      )
      SELECT u.time_zone, u.today::text AS today, date_trunc('week', u.today)::date::text AS week_start, days.metric,
        coalesce(sum(days.value) FILTER (WHERE days.local_day = u.today), 0) AS today_value, coalesce(sum(days.value), 0) AS week_value
      FROM u LEFT JOIN days ON true GROUP BY u.time_zone, u.today, days.metric`, [userId, now])
    if (rows.length === 0) throw errors.NotFound('User not found')
    const result = { timeZone: rows[0].time_zone, today: rows[0].today, weekStart: rows[0].week_start, totals: { today: zeroTotals(), week: zeroTotals() } }
    for (const r of rows) {
      if (!METRICS.includes(r.metric)) continue
      result.totals.today[r.metric as TotalsMetric] = Number(r.today_value)
      result.totals.week[r.metric as TotalsMetric] = Number(r.week_value)
    }
    return result
  }

  async function runningCompetitions (userId: string): Promise<Dashboard['competitions']> {
    const { rows } = await pool.query(`SELECT c.id, c.name, c.metric, c.status, c.ends_at, c.participant_count, p.score, ${RANK_SQL} AS rank
      FROM participants p JOIN competitions c ON c.id = p.competition_id
      WHERE p.user_id = $1 AND c.status IN ('active', 'grace')
      ORDER BY c.ends_at, c.id`, [userId])
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      metric: r.metric,
      status: r.status,
      endsAt: (r.ends_at as Date).toISOString(),
      participantCount: r.participant_count,
      score: toMoney(r.score),
      rank: Number(r.rank)
    }))
  }

  async function get (userId: string): Promise<Dashboard> {
    const now = clock()
    const base = await totals(userId, now)
    const competitions = await runningCompetitions(userId)
    const wallets = await ledger.walletBalances(pool, userId)
    const { items } = await activity.list(pool, userId, { limit: RECENT_ACTIVITY })
    return { ...base, competitions, wallets, recentActivity: items }
  }

  return { get }
}

export type DashboardService = ReturnType<typeof createDashboardService>
