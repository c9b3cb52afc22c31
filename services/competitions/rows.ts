import { errors } from '../../lib/errors.ts'
import { toMoney } from '../money/ledger.ts'

export type CompetitionStatus = 'scheduled' | 'active' | 'grace' | 'final' | 'paid' | 'cancelled'
export type Metric = 'steps' | 'distance_m' | 'active_kcal' | 'active_minutes' | 'custom'
export type ScoreOrder = 'highest_wins' | 'lowest_wins'
export type PrizeSplit = { type: 'percent', places: number[] } | { type: 'fixed', amounts: number[] }

export interface Competition {
  id: string
  name: string
  description: string
  metric: Metric
  startsAt: string
  endsAt: string
  timeZone: string
  gracePeriodSeconds: number
  entryFee: number
  currency: string
  sponsorPrize: number
  houseShareBps: number
  maxParticipants: number | null
  participantCount: number
  prizePool: number
  prizeSplit: PrizeSplit
  allowManualEntries: boolean
  visibility: 'public' | 'private'
  scoreOrder: ScoreOrder
  status: CompetitionStatus
  statusChangedAt: string
  joinable: boolean
  createdBy: string | null
  createdAt: string
}

// Fitness metrics add up over the competition, so more is better; only a custom metric (set by
// the app or a trusted service, e.g. a fastest time) may rank the lowest first.
export function checkScoreOrder (metric: Metric, order: ScoreOrder | undefined): void {
  if (order === 'lowest_wins' && metric !== 'custom') throw errors.BadRequest('scoreOrder lowest_wins needs the custom metric')
}

// Columns for toCompetition; cursor_ts keeps created_at's microseconds for exact paging, and
// row_version is the row's own version in Postgres (xmin, new with every change of the row).
export const COMPETITION_COLUMNS = `c.id, c.name, c.description, c.metric, c.starts_at, c.ends_at, c.time_zone,
  c.grace_period_seconds, c.entry_fee, c.currency, c.sponsor_prize, c.house_share_bps, c.max_participants,
  c.participant_count, c.prize_split, c.allow_manual_entries, c.visibility, c.score_order, c.status, c.status_changed_at,
  c.created_by, c.created_at, to_json(c.created_at) #>> '{}' AS cursor_ts, c.xmin::text AS row_version`

// What a competition's details show changes with its row and, at its end, with the clock
// (joinable): both make its version, the ETag of its details.
export function competitionVersion (r: Record<string, any>, competition: Competition): string {
  return `${String(r.row_version)}.${competition.joinable ? 1 : 0}`
}

// Open for joining: not over, not cancelled, and a place left. The same rule as join()'s
// guarded UPDATE and toCompetition's `joinable`; `now` is a query parameter such as '$2'.
export function joinableSql (now: string): string {
  return `(c.status IN ('scheduled', 'active') AND c.ends_at > ${now}
    AND (c.max_participants IS NULL OR c.participant_count < c.max_participants))`
}

// Entry fees net of the house share, plus the sponsor's prize (floor keeps it exact).
export function prizePool (entryFee: number, participants: number, houseShareBps: number, sponsorPrize: number): number {
  const fees = BigInt(entryFee) * BigInt(participants)
  return toMoney(fees * BigInt(10_000 - houseShareBps) / 10_000n + BigInt(sponsorPrize))
}

export function toCompetition (r: Record<string, any>, now: Date): Competition {
  const entryFee = toMoney(r.entry_fee)
  const sponsorPrize = toMoney(r.sponsor_prize)
  const participantCount = Number(r.participant_count)
  const maxParticipants = r.max_participants === null ? null : Number(r.max_participants)
  const endsAt = r.ends_at as Date
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    metric: r.metric,
    startsAt: (r.starts_at as Date).toISOString(),
    endsAt: endsAt.toISOString(),
    timeZone: r.time_zone,
    gracePeriodSeconds: r.grace_period_seconds,
    entryFee,
    currency: r.currency,
    sponsorPrize,
    houseShareBps: r.house_share_bps,
    maxParticipants,
    participantCount,
    prizePool: prizePool(entryFee, participantCount, r.house_share_bps, sponsorPrize),
    prizeSplit: r.prize_split,
    allowManualEntries: r.allow_manual_entries,
    visibility: r.visibility,
    scoreOrder: r.score_order,
    status: r.status,
    statusChangedAt: (r.status_changed_at as Date).toISOString(),
    joinable: ['scheduled', 'active'].includes(r.status) && endsAt > now && (maxParticipants === null || participantCount < maxParticipants),
    createdBy: r.created_by,
    createdAt: (r.created_at as Date).toISOString()
  }
}
