import type { JobQueue } from '../shared/jobs.ts'
import type { Db, Transact, TransactionClient } from '../shared/transactions.ts'
import { START_SKEW_SECONDS } from '../../schemas/competitions.ts'
import type { NewCompetition } from './catalogue.ts'
import type { Competition } from './rows.ts'
import { nextOccurrence } from './series-schedule.ts'
import type { Template } from './series.ts'

// Each occurrence of a series is a job due its lead time (create_ahead_seconds) before the
// occurrence starts. The run creates the occurrence's competition and enqueues the next
// occurrence in one transaction, then joins the subscribers.
export const SERIES_QUEUE = 'competitions.series'

export interface OccurrenceJob { seriesId: string, occursAt: string }

export async function enqueueOccurrence (db: Db, jobs: Pick<JobQueue, 'send'>, occurrence: { id: string, occursAt: Date, createAheadSeconds: number }): Promise<void> {
  const { id, occursAt, createAheadSeconds } = occurrence
  await jobs.send(db, SERIES_QUEUE, { seriesId: id, occursAt: occursAt.toISOString() } satisfies OccurrenceJob, {
    startAfter: new Date(occursAt.getTime() - createAheadSeconds * 1000),
    singletonKey: `${id}:${occursAt.getTime()}`
  })
}

// The competition of one occurrence: the template, its times, and the local start day in its
// name so the competitions of a series are told apart.
export function instanceInput (template: Template, timeZone: string, durationSeconds: number, occursAt: Date): NewCompetition {
  const day = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(occursAt)
  const suffix = ` (${day})`
  return {
    ...template,
    name: `${template.name.slice(0, 120 - suffix.length)}${suffix}`,
    timeZone,
    startsAt: occursAt.toISOString(),
    endsAt: new Date(occursAt.getTime() + durationSeconds * 1000).toISOString()
  }
}

export interface SeriesRunsDeps {
  transact: Transact
  jobs: Pick<JobQueue, 'send'>
  createCompetition: (tx: TransactionClient, creatorId: string, input: NewCompetition) => Promise<Competition>
  autoJoin: (instance: { seriesId: string, competitionId: string }) => Promise<void>
  log: { warn: (obj: object, msg: string) => void }
  clock?: () => Date
}

export function createSeriesRuns ({ transact, jobs, createCompetition, autoJoin, log, clock = () => new Date() }: SeriesRunsDeps) {
  // Idempotent: the series row is locked, a job for any occurrence but the waiting one is stale,
  // and (series, occurrence) is unique. A retry after the commit only finishes the auto-joins.
  async function run ({ seriesId, occursAt }: OccurrenceJob): Promise<void> {
    const occurrence = new Date(occursAt)
    const instance = await transact(async (tx) => {
      const { rows } = await tx.query(`SELECT s.template, s.schedule, s.time_zone, s.duration_seconds, s.create_ahead_seconds, s.status,
          s.next_occurrence_at, s.created_by, u.deleted_at IS NOT NULL AS creator_left
        FROM competition_series s JOIN users u ON u.id = s.created_by WHERE s.id = $1 FOR UPDATE OF s`, [seriesId])
      const s = rows[0]
      const due = s?.status === 'active' && s.next_occurrence_at?.getTime() === occurrence.getTime()
      // A series whose creator deleted their account ends with it.
      if (due && s.creator_left === true) {
        await tx.query('UPDATE competition_series SET status = \'stopped\', next_occurrence_at = NULL, updated_at = now() WHERE id = $1', [seriesId])
      } else if (due) {
        const now = clock()
        // An occurrence whose start has passed (no instance ran jobs then) is skipped: a
        // competition must not start in the past. The next one is counted from now.
        if (occurrence.getTime() >= now.getTime() - START_SKEW_SECONDS * 1000) {
          const competition = await createCompetition(tx, s.created_by, instanceInput(s.template, s.time_zone, s.duration_seconds, occurrence))
          await tx.query(`INSERT INTO competition_series_instances (series_id, occurs_at, competition_id)
            VALUES ($1, $2, $3)`, [seriesId, occurrence, competition.id])
        } else {
          log.warn({ seriesId, occursAt }, 'series occurrence missed: its start passed before its job ran')
        }
        const next = nextOccurrence(s.schedule, s.time_zone, new Date(Math.max(occurrence.getTime(), now.getTime())))
        await tx.query('UPDATE competition_series SET next_occurrence_at = $2, updated_at = now() WHERE id = $1', [seriesId, next])
        await enqueueOccurrence(tx, jobs, { id: seriesId, occursAt: next, createAheadSeconds: s.create_ahead_seconds })
      }
      const { rows: made } = await tx.query('SELECT competition_id FROM competition_series_instances WHERE series_id = $1 AND occurs_at = $2', [seriesId, occurrence])
      return made[0]?.competition_id as string | undefined
    })
    if (instance !== undefined) await autoJoin({ seriesId, competitionId: instance })
  }

  return { run }
}
