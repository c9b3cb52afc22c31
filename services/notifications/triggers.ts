import { setTimeout } from 'node:timers/promises'
import type { RelayedEvent } from '../shared/event-relay.ts'
import type { EventConsumer, JobQueue } from '../shared/jobs.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import type { DomainEventPayload, DomainEventType } from '../../schemas/domain-events.ts'
import type { Category, Channel } from './categories.ts'
import { createNotifications, type CreatedNotification, type Recipient } from './create.ts'
import { rankRecipients, type RankRules } from './rank.ts'
import type { ScoreOrder } from '../leaderboard/ranking.ts'
import { readScoreChanges, SETTLE_MS } from './rank-reader.ts'
import type { Params, TemplateName } from './templates.ts'

// What the domain's events tell users. Every notification is keyed by the event that caused
// it, so the consumer's job may run again (retry, restart) and create nothing twice.

export const REMINDERS_QUEUE = 'notifications.reminders'

export interface Reminder { competitionId: string, kind: 'starting_soon' | 'ending_soon' }

export interface TriggerDeps {
  transact: Transact
  jobs: Pick<JobQueue, 'send' | 'sendMany'>
  // The channels this instance has providers for.
  channels: readonly Channel[]
  rank: RankRules
  reminderLeadMinutes: number
  // Called after each commit with the notifications it created (they go to open WebSockets).
  onCreated: (created: CreatedNotification[], category: Category) => void
}

interface CompetitionRow {
  id: string
  name: string
  metric: string
  status: string
  starts_at: Date
  ends_at: Date
  grace_period_seconds: number
  participant_count: number
  score_order: ScoreOrder
}

// Participants told per transaction when a whole competition hears something.
const CHUNK = 1000

const RANK_CONSUMER = 'notifications-rank'
const RANK_QUEUE = `events.${RANK_CONSUMER}`

const TRIGGER_TYPES = ['competition.created', 'competition.updated', 'competition.started', 'competition.ended', 'competition.final',
  'competition.cancelled', 'prize.paid', 'deposit.succeeded', 'deposit.failed', 'withdrawal.paid', 'withdrawal.failed',
  'flag.raised', 'flag.cleared'] as const satisfies DomainEventType[]

export function createTriggers (deps: TriggerDeps) {
  const { transact, jobs, channels } = deps

  async function competition (db: Db, id: string): Promise<CompetitionRow | undefined> {
    const { rows } = await db.query<CompetitionRow>(`SELECT id, name, metric, status, starts_at, ends_at, grace_period_seconds, participant_count, score_order
      FROM competitions WHERE id = $1`, [id])
    return rows[0]
  }

  // A whole competition is told a chunk at a time, resting as long as each chunk took between
  // them, so writing 100,000 inbox rows takes at most half of the database's time meanwhile.
  async function notify (cause: string, category: Category, template: TemplateName, competitionId: string | null, recipients: Recipient[]): Promise<void> {
    for (let i = 0; i < recipients.length; i += CHUNK) {
      const started = performance.now()
      const created = await transact(async (tx) => await createNotifications(tx, jobs, {
        cause, category, template, competitionId, recipients: recipients.slice(i, i + CHUNK)
      }, channels))
      if (created.length > 0) deps.onCreated(created, category)
      if (i + CHUNK < recipients.length) await setTimeout(performance.now() - started)
    }
  }

  // Everyone in the competition, with their rank and score now (ties share a rank).
  async function participants (db: Db, c: CompetitionRow, opts: { synced?: boolean } = {}): Promise<Array<{ userId: string, score: number, rank: number, finalRank: number | null, synced: boolean }>> {
    const { rows } = await db.query<{ user_id: string, score: string, rank: string, final_rank: number | null, synced: boolean }>(`SELECT p.user_id, p.score::text,
        rank() OVER (ORDER BY p.standing DESC NULLS LAST) AS rank, p.final_rank,
        -- Synced since the end: some of their data arrived after the competition ended.
        (NOT $3 OR EXISTS (SELECT 1 FROM fitness_samples s WHERE s.user_id = p.user_id AND s.start_at >= $2::timestamptz - interval '1 day'
          AND s.received_at >= $2)) AS synced
      FROM participants p WHERE p.competition_id = $1 ORDER BY p.user_id`, [c.id, c.ends_at, opts.synced === true])
    return rows.map((r) => ({ userId: r.user_id, score: Number(r.score), rank: Number(r.rank), finalRank: r.final_rank, synced: r.synced }))
  }

  const base = (c: CompetitionRow): Params => ({ competitionName: c.name, metric: c.metric })
  const graceEnds = (c: CompetitionRow) => new Date(c.ends_at.getTime() + c.grace_period_seconds * 1000).toISOString()

  async function schedule (db: Db, reminder: Reminder, due: Date): Promise<void> {
    await jobs.send(db, REMINDERS_QUEUE, reminder, { startAfter: due, singletonKey: `${reminder.kind}:${reminder.competitionId}:${due.getTime()}` })
  }

  const lead = () => deps.reminderLeadMinutes * 60_000

  async function onCompetition (event: RelayedEvent): Promise<void> {
    const { competitionId } = event.data as { competitionId: string }
    const cause = `${event.type}:${event.id}`
    const c = await transact(async (tx) => await competition(tx, competitionId))
    if (c === undefined) return
    switch (event.type) {
      case 'competition.created':
        await transact(async (tx) => { await schedule(tx, { competitionId, kind: 'starting_soon' }, new Date(c.starts_at.getTime() - lead())) })
        return
      // A start moved earlier needs its reminder earlier (one moved later reschedules itself).
      case 'competition.updated':
        if (c.status !== 'scheduled') return
        await transact(async (tx) => { await schedule(tx, { competitionId, kind: 'starting_soon' }, new Date(c.starts_at.getTime() - lead())) })
        return
      case 'competition.started': {
        await transact(async (tx) => { await schedule(tx, { competitionId, kind: 'ending_soon' }, new Date(c.ends_at.getTime() - lead())) })
        const all = await transact(async (tx) => await participants(tx, c))
        await notify(cause, 'competition', 'started', c.id, all.map((p) => ({ userId: p.userId, params: base(c) })))
        return
      }
      case 'competition.ended': {
        // With no grace period the results follow at once, and say it all.
        if (c.grace_period_seconds === 0) return
        const all = await transact(async (tx) => await participants(tx, c, { synced: true }))
        const params = { ...base(c), graceEndsAt: graceEnds(c) }
        await notify(cause, 'competition', 'sync_reminder', c.id, all.filter((p) => !p.synced).map((p) => ({ userId: p.userId, params })))
        await notify(cause, 'competition', 'ended', c.id, all.filter((p) => p.synced).map((p) => ({ userId: p.userId, params })))
        return
      }
      case 'competition.final': {
        const all = await transact(async (tx) => await participants(tx, c))
        await notify(cause, 'results', 'final', c.id, all.map((p) => ({
          userId: p.userId,
          params: { ...base(c), rank: p.finalRank ?? p.rank, score: p.score, participants: all.length }
        })))
        return
      }
      case 'competition.cancelled': {
        const all = await transact(async (tx) => await participants(tx, c))
        await notify(cause, 'competition', 'cancelled', c.id, all.map((p) => ({ userId: p.userId, params: base(c) })))
      }
    }
  }

  // Rank messages of a competition: one run reads every score change since the last run.
  async function onScores (event: RelayedEvent): Promise<void> {
    const { competitionId } = event.data as { competitionId: string }
    const created = await transact(async (tx) => {
      const c = await competition(tx, competitionId)
      const { movers, upTo, more } = await readScoreChanges(tx, competitionId, event.id)
      if (more !== false) {
        await jobs.send(tx, RANK_QUEUE, event, { singletonKey: competitionId, ...(more === 'soon' && { startAfter: new Date(Date.now() + SETTLE_MS) }) })
      }
      if (upTo === null || c === undefined || (c.status !== 'active' && c.status !== 'grace')) return []
      const told = await rankRecipients(tx, { ...c, scoreOrder: c.score_order }, movers, deps.rank)
      const batch = { cause: `rank:${c.id}:${upTo}`, category: 'rank' as const, competitionId: c.id }
      return [
        ...await createNotifications(tx, jobs, { ...batch, template: 'overtaken', recipients: told.overtaken }, channels),
        ...await createNotifications(tx, jobs, { ...batch, template: 'entered_top', recipients: told.entered_top }, channels)
      ]
    })
    if (created.length > 0) deps.onCreated(created, 'rank')
  }

  async function onPersonal (event: RelayedEvent): Promise<void> {
    const cause = `${event.type}:${event.id}`
    const one = async (category: Category, template: TemplateName, userId: string, params: Params, competitionId: string | null = null) =>
      await notify(cause, category, template, competitionId, [{ userId, params }])
    switch (event.type) {
      case 'prize.paid': {
        const d = event.data as DomainEventPayload<'prize.paid'>
        const c = await transact(async (tx) => await competition(tx, d.competitionId))
        return await one('money', 'prize_paid', d.userId, { competitionName: c?.name ?? '', amount: d.amount, currency: d.currency, rank: d.rank }, d.competitionId)
      }
      case 'deposit.succeeded':
      case 'deposit.failed':
      case 'withdrawal.paid':
      case 'withdrawal.failed': {
        const d = event.data as { userId: string } & Params
        return await one('money', event.type.replace('.', '_') as TemplateName, d.userId, d)
      }
      case 'flag.raised': {
        const d = event.data as DomainEventPayload<'flag.raised'>
        return await one('security', 'flag_raised', d.userId, { reason: d.reason, competitions: d.competitionIds.length })
      }
      case 'flag.cleared': {
        const d = event.data as DomainEventPayload<'flag.cleared'>
        return await one('security', 'flag_cleared', d.userId, { competitions: d.competitionIds.length })
      }
    }
  }

  // A reminder job: sent if the competition is still where the reminder expects it; one whose
  // competition moved later is scheduled again for the new time.
  async function remind (reminder: Reminder): Promise<void> {
    const c = await transact(async (tx) => await competition(tx, reminder.competitionId))
    if (c === undefined) return
    const starting = reminder.kind === 'starting_soon'
    const at = starting ? c.starts_at : c.ends_at
    if (c.status !== (starting ? 'scheduled' : 'active') || at.getTime() <= Date.now()) return
    const due = at.getTime() - lead()
    if (due > Date.now() + 60_000) {
      await transact(async (tx) => { await schedule(tx, reminder, new Date(due)) })
      return
    }
    const all = await transact(async (tx) => await participants(tx, c))
    await notify(`${reminder.kind}:${c.id}:${at.toISOString()}`, 'competition', reminder.kind, c.id,
      all.map((p) => ({ userId: p.userId, params: { ...base(c), at: at.toISOString(), rank: p.rank, score: p.score } })))
  }

  const consumer: EventConsumer = {
    name: 'notifications',
    types: [...TRIGGER_TYPES],
    async handle (event) {
      if (event.type.startsWith('competition.')) await onCompetition(event)
      else await onPersonal(event)
    }
  }
  // Score changes coalesce per competition: while one run waits, later batches join it.
  const rankConsumer: EventConsumer = {
    name: RANK_CONSUMER,
    types: ['score.changed'],
    key: (event) => (event.data as { competitionId: string }).competitionId,
    handle: onScores
  }

  return { consumers: [consumer, rankConsumer], remind }
}
