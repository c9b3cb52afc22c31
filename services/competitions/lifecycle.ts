import type { EventBus } from '../shared/domain-events.ts'
import { errors } from '../../lib/errors.ts'
import type { ActivityService } from '../users/activity.ts'
import type { CompetitionStatus } from './rows.ts'
import { publish } from '../shared/domain-events.ts'
import { createEntryFees } from '../money/entry-fees.ts'
import { toMoney, type LedgerService } from '../money/ledger.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import type { JobQueue } from '../shared/jobs.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import { scheduleNextStep } from './schedule.ts'

export interface StatusChange {
  competitionId: string
  from: CompetitionStatus
  to: CompetitionStatus
  at: Date
}

export interface LifecycleDeps {
  transact: Transact
  ledger: LedgerService
  activity: Pick<ActivityService, 'record'>
  events: Pick<EventBus, 'emit'>
  jobs: JobQueue
  clock?: () => Date
}

// Due-ness of each timed step, in the order a late sweep must apply them.
const TIMED_STEPS: Array<{ from: CompetitionStatus, to: CompetitionStatus, due: string }> = [
  { from: 'scheduled', to: 'active', due: 'starts_at <= $2' },
  { from: 'active', to: 'grace', due: 'ends_at <= $2' },
  { from: 'grace', to: 'final', due: 'ends_at + grace_period_seconds * interval \'1 second\' <= $2' }
]
const BATCH = 50

const STATUS_EVENTS = {
  active: 'competition.started',
  grace: 'competition.ended',
  final: 'competition.final',
  cancelled: 'competition.cancelled'
} as const

// Moves one locked competition to its next status, recording it in every participant's feed
// and in the outbox, and enqueues its next timed step. Final ranks use competition ranking on
// score (1, 2, 2, 4): ties share a place.
async function applyTransition (tx: Db, jobs: JobQueue, change: StatusChange, extra: { endsAt?: Date } = {}): Promise<void> {
  const { competitionId, from, to, at } = change
  await tx.query(`UPDATE competitions SET status = $3, status_changed_at = $4, updated_at = now(),
      ends_at = COALESCE($5, ends_at)
    WHERE id = $1 AND status = $2`, [competitionId, from, to, at, extra.endsAt ?? null])
  if (to === 'final') {
    await tx.query(`UPDATE participants p SET final_rank = r.rank
      FROM (SELECT user_id, rank() OVER (ORDER BY standing DESC NULLS LAST) AS rank FROM participants WHERE competition_id = $1) r
      WHERE p.competition_id = $1 AND p.user_id = r.user_id`, [competitionId])
  }
  await tx.query(`INSERT INTO activity (user_id, kind, competition_id, data)
    SELECT user_id, 'competition_status', competition_id,
      jsonb_build_object('from', $2::text, 'to', $3::text, 'at', $4::timestamptz) || CASE WHEN final_rank IS NULL THEN '{}'::jsonb ELSE jsonb_build_object('finalRank', final_rank) END
    FROM participants WHERE competition_id = $1`, [competitionId, from, to, at])
  const type = STATUS_EVENTS[to as keyof typeof STATUS_EVENTS]
  if (type !== undefined) await recordEvents(tx, [domainEvent(type, { competitionId, from, to, at: at.toISOString() })])
  await scheduleNextStep(tx, jobs, competitionId)
}

export function createLifecycleService ({ transact, ledger, activity, events, jobs, clock = () => new Date() }: LifecycleDeps) {
  const fees = createEntryFees(ledger)

  function publishAll (changes: StatusChange[]): void {
    for (const change of changes) publish(events, 'competition.status', change)
  }

  // One batch of one step. SKIP LOCKED lets several instances sweep at once: each takes
  // different rows, and a row held by a join or an admin action waits for the next sweep.
  async function sweepBatch (step: typeof TIMED_STEPS[number], now: Date): Promise<StatusChange[]> {
    return await transact(async (tx) => {
      const { rows } = await tx.query<{ id: string }>(`SELECT id FROM competitions WHERE status = $1 AND ${step.due}
        ORDER BY id LIMIT ${BATCH} FOR NO KEY UPDATE SKIP LOCKED`, [step.from, now])
      const changes = rows.map((r) => ({ competitionId: r.id, from: step.from, to: step.to, at: now }))
      for (const change of changes) await applyTransition(tx, jobs, change)
      return changes
    })
  }

  // The lifecycle job's handler: applies every step of one competition that is due by the
  // database's clock (the one the queue used to decide the job was due). A job whose step is
  // not due (its instant moved) or already taken (by an admin) only makes sure the next step
  // waits in the queue.
  async function advance (competitionId: string): Promise<StatusChange[]> {
    const changes = await transact(async (tx) => {
      const { rows: clockRows } = await tx.query<{ now: Date }>('SELECT now()')
      const now = clockRows[0]!.now
      const applied: StatusChange[] = []
      for (const step of TIMED_STEPS) {
        const { rows } = await tx.query(`SELECT id FROM competitions WHERE status = $1 AND ${step.due} AND id = $3
          FOR NO KEY UPDATE`, [step.from, now, competitionId])
        if (rows.length === 0) continue
        const change: StatusChange = { competitionId, from: step.from, to: step.to, at: now }
        await applyTransition(tx, jobs, change)
        applied.push(change)
      }
      if (applied.length === 0) await scheduleNextStep(tx, jobs, competitionId)
      return applied
    })
    publishAll(changes)
    return changes
  }

  // Applies every transition due at `now` across competitions (start-up catch-up, and tests
  // that move the clock); events go out after each batch commits.
  async function sweep (now: Date): Promise<StatusChange[]> {
    const all: StatusChange[] = []
    for (const step of TIMED_STEPS) {
      let batch: StatusChange[]
      do {
        batch = await sweepBatch(step, now)
        publishAll(batch)
        all.push(...batch)
      } while (batch.length === BATCH)
    }
    return all
  }

  async function lock (tx: Db, competitionId: string): Promise<{ status: CompetitionStatus, starts_at: Date, currency: string }> {
    const { rows } = await tx.query('SELECT status, starts_at, currency FROM competitions WHERE id = $1 FOR NO KEY UPDATE', [competitionId])
    if (rows.length === 0) throw errors.NotFound('Competition not found')
    return rows[0]
  }

  // Cancelling refunds every fee still held; keys derived from each fee make a repeat harmless.
  async function cancel (competitionId: string, actorId: string): Promise<StatusChange | null> {
    const change = await transact(async (tx) => {
      const competition = await lock(tx, competitionId)
      if (competition.status === 'cancelled') return null
      if (competition.status === 'final' || competition.status === 'paid') throw errors.Conflict(`Competition is ${competition.status} and can no longer be cancelled`)
      const change: StatusChange = { competitionId, from: competition.status, to: 'cancelled', at: clock() }
      await applyTransition(tx, jobs, change)
      const { rows } = await tx.query(`SELECT user_id, entry_fee_paid, fee_transaction_id FROM participants
        WHERE competition_id = $1 AND fee_transaction_id IS NOT NULL ORDER BY user_id`, [competitionId])
      for (const r of rows) {
        const amount = toMoney(r.entry_fee_paid)
        const refund = await fees.refund(tx, { competitionId, userId: r.user_id, amount, currency: competition.currency, feeTransactionId: toMoney(r.fee_transaction_id), actorId, reason: 'cancelled' })
        if (refund.created) {
          await activity.record(tx, { userId: r.user_id, kind: 'refund', competitionId, data: { amount, currency: competition.currency, reason: 'cancelled' } })
        }
      }
      return change
    })
    if (change) publishAll([change])
    return change
  }

  // Ending early closes a running competition now; late syncs still get its grace period.
  // From grace it skips the rest of the grace period.
  async function endEarly (competitionId: string): Promise<StatusChange> {
    const change = await transact(async (tx) => {
      const competition = await lock(tx, competitionId)
      const at = clock()
      if (competition.status === 'active') {
        const change: StatusChange = { competitionId, from: 'active', to: 'grace', at }
        // ends_at must stay after starts_at, even for a competition that began this instant.
        const endsAt = new Date(Math.max(at.getTime(), competition.starts_at.getTime() + 1))
        await applyTransition(tx, jobs, change, { endsAt })
        return change
      }
      if (competition.status === 'grace') {
        const change: StatusChange = { competitionId, from: 'grace', to: 'final', at }
        await applyTransition(tx, jobs, change)
        return change
      }
      throw errors.Conflict(competition.status === 'scheduled'
        ? 'Competition has not started: cancel it instead'
        : `Competition is ${competition.status} and cannot be ended early`)
    })
    publishAll([change])
    return change
  }

  return { advance, sweep, cancel, endEarly }
}

export type LifecycleService = ReturnType<typeof createLifecycleService>
