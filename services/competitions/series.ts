import { errors } from '../../lib/errors.ts'
import type { JobQueue } from '../shared/jobs.ts'
import type { Db, Transact, TransactionClient } from '../shared/transactions.ts'
import { CREATED_AT_MICROS, createdBeyond, createdKey, createdKeyOf, createdOrder, createdPageRequest, pageOf, type Page } from '../shared/cursors.ts'
import { managedBy, type Viewer } from '../shared/competition-access.ts'
import { canonicalTimeZone } from '../users/profiles.ts'
import { nextOccurrence, type Schedule } from './series-schedule.ts'
import type { NewCompetition } from './catalogue.ts'
import type { Competition } from './rows.ts'
import { enqueueOccurrence, instanceInput } from './series-runs.ts'
import { autoJoinsOf, type AutoJoin } from './auto-join.ts'

export type SeriesStatus = 'active' | 'paused' | 'stopped'
export type Template = Omit<NewCompetition, 'startsAt' | 'endsAt' | 'timeZone'>

export interface NewSeries extends Template {
  schedule: Schedule
  timeZone: string
  durationSeconds: number
  createAheadSeconds?: number
}

export interface Series {
  id: string
  template: Template
  schedule: Schedule
  timeZone: string
  durationSeconds: number
  createAheadSeconds: number
  status: SeriesStatus
  nextOccurrenceAt: string | null
  subscribed: boolean
  createdBy: string
  createdAt: string
}

export interface Subscription {
  seriesId: string
  userId: string
  subscribed: boolean
  subscribedAt: string | null
  outcomes: AutoJoin[]
}

export interface SeriesDeps {
  pool: Db
  transact: Transact
  jobs: Pick<JobQueue, 'send'>
  // Creates a competition in the caller's transaction, by the competition rules.
  createCompetition: (tx: TransactionClient, creatorId: string, input: NewCompetition) => Promise<Competition>
  clock?: () => Date
}

export const DEFAULT_CREATE_AHEAD_SECONDS = 86_400

const SERIES_COLUMNS = `s.id, s.template, s.schedule, s.time_zone, s.duration_seconds, s.create_ahead_seconds, s.visibility, s.status,
  s.next_occurrence_at, s.created_by, s.created_at`

function toSeries (r: Record<string, any>): Series {
  return {
    id: r.id,
    template: r.template,
    schedule: r.schedule,
    timeZone: r.time_zone,
    durationSeconds: r.duration_seconds,
    createAheadSeconds: r.create_ahead_seconds,
    status: r.status,
    nextOccurrenceAt: r.next_occurrence_at === null ? null : (r.next_occurrence_at as Date).toISOString(),
    subscribed: r.subscribed === true,
    createdBy: r.created_by,
    createdAt: (r.created_at as Date).toISOString()
  }
}

// Rolled back on purpose: the trial competition checked the template and is not kept.
class TrialDone extends Error {}

// Series of repeating competitions: made by those who may create competitions, seen like a
// competition (a private one by its creator and admins only), paused, resumed and stopped by
// its creator and admins, and subscribed to by anyone who sees it.
export function createSeriesService ({ pool, transact, jobs, createCompetition, clock = () => new Date() }: SeriesDeps) {
  async function create (creatorId: string, input: NewSeries): Promise<Series> {
    const { schedule, durationSeconds, createAheadSeconds = DEFAULT_CREATE_AHEAD_SECONDS, ...rest } = input
    const timeZone = canonicalTimeZone(input.timeZone)
    const { timeZone: _given, ...template } = rest
    const now = clock()
    const first = nextOccurrence(schedule, timeZone, now)
    // The competition rules judge the template now (400 here rather than a failing job later):
    // its first competition is created and rolled back.
    await transact(async (tx) => {
      await createCompetition(tx, creatorId, instanceInput(template, timeZone, durationSeconds, first))
      throw new TrialDone()
    }).catch((err: unknown) => { if (!(err instanceof TrialDone)) throw err })
    const row = await transact(async (tx) => {
      const { rows } = await tx.query(`INSERT INTO competition_series AS s (name, template, schedule, time_zone, duration_seconds,
          create_ahead_seconds, visibility, next_occurrence_at, created_by, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING ${SERIES_COLUMNS}`, [
        template.name, JSON.stringify(template), JSON.stringify(schedule), timeZone, durationSeconds, createAheadSeconds,
        template.visibility ?? 'public', first, creatorId, now
      ])
      await enqueueOccurrence(tx, jobs, { id: rows[0]!.id, occursAt: first, createAheadSeconds })
      return rows[0]!
    })
    return toSeries(row)
  }

  async function find (db: Db, id: string, viewer: Viewer, lock = ''): Promise<Record<string, any>> {
    const { rows } = await db.query(`SELECT ${SERIES_COLUMNS},
        EXISTS (SELECT 1 FROM competition_series_subscriptions u WHERE u.series_id = s.id AND u.user_id = $2) AS subscribed
      FROM competition_series s WHERE s.id = $1 ${lock}`, [id, viewer.id])
    const row = rows[0]
    // A private series is its creator's and admins' only; to anyone else it does not exist.
    if (row === undefined || (row.visibility === 'private' && !managedBy(row.created_by, viewer))) throw errors.NotFound('Series not found')
    return row
  }

  async function get (id: string, viewer: Viewer): Promise<Series> {
    return toSeries(await find(pool, id, viewer))
  }

  // Newest first: public series, the caller's own, and every series for admins.
  async function list (viewer: Viewer, filters: { subscribed?: boolean, status?: SeriesStatus, cursor?: string, limit: number }): Promise<Page<Series>> {
    const request = createdPageRequest(filters.cursor)
    const [micros, id] = createdKey(request)
    const { rows } = await pool.query(`SELECT * FROM (SELECT ${SERIES_COLUMNS}, ${CREATED_AT_MICROS},
          EXISTS (SELECT 1 FROM competition_series_subscriptions u WHERE u.series_id = s.id AND u.user_id = $1) AS subscribed
        FROM competition_series s
        WHERE ($2 OR s.visibility = 'public' OR s.created_by = $1) AND ($3::text IS NULL OR s.status = $3)) s
      WHERE ($4::boolean IS NULL OR subscribed = $4) AND ${createdBeyond(request, 5)}
      ORDER BY ${createdOrder(request)} LIMIT $7`, [viewer.id, viewer.isAdmin, filters.status ?? null, filters.subscribed ?? null, micros, id, filters.limit + 1])
    const page = pageOf(rows, filters.limit, request, createdKeyOf)
    return { items: page.rows.map(toSeries), nextCursor: page.nextCursor, prevCursor: page.prevCursor }
  }

  // Pausing drops the waiting occurrence (its job finds the series paused and does nothing);
  // resuming schedules the next occurrence from now; stopping is for good.
  async function setStatus (id: string, viewer: Viewer, status: SeriesStatus): Promise<Series> {
    const row = await transact(async (tx) => {
      const current = await find(tx, id, viewer, 'FOR UPDATE')
      if (!managedBy(current.created_by, viewer)) throw errors.Forbidden('Only the series\' creator and admins may change it')
      if (current.status === status) return current
      if (current.status === 'stopped') throw errors.Conflict('The series is stopped')
      const next = status === 'active' ? nextOccurrence(current.schedule, current.time_zone, clock()) : null
      const { rows } = await tx.query(`UPDATE competition_series s SET status = $2, next_occurrence_at = $3, updated_at = now()
        WHERE id = $1 RETURNING ${SERIES_COLUMNS}`, [id, status, next])
      if (next !== null) await enqueueOccurrence(tx, jobs, { id, occursAt: next, createAheadSeconds: current.create_ahead_seconds })
      return { ...rows[0], subscribed: current.subscribed }
    })
    return toSeries(row)
  }

  async function subscription (db: Db, seriesId: string, userId: string): Promise<Subscription> {
    const { rows } = await db.query('SELECT created_at FROM competition_series_subscriptions WHERE series_id = $1 AND user_id = $2', [seriesId, userId])
    const at = rows[0]?.created_at as Date | undefined
    return { seriesId, userId, subscribed: at !== undefined, subscribedAt: at?.toISOString() ?? null, outcomes: await autoJoinsOf(db, seriesId, userId) }
  }

  async function getSubscription (seriesId: string, viewer: Viewer): Promise<Subscription> {
    await find(pool, seriesId, viewer)
    return await subscription(pool, seriesId, viewer.id)
  }

  // Subscribing twice changes nothing. Competitions created from then on are joined.
  async function subscribe (seriesId: string, viewer: Viewer): Promise<Subscription> {
    return await transact(async (tx) => {
      const series = await find(tx, seriesId, viewer, 'FOR SHARE')
      if (series.status === 'stopped') throw errors.Conflict('The series is stopped')
      // Others join a private competition by invite, one at a time.
      if (series.visibility === 'private' && series.created_by !== viewer.id) throw errors.Forbidden('Only its creator subscribes to a private series')
      await tx.query(`INSERT INTO competition_series_subscriptions (series_id, user_id) VALUES ($1, $2)
        ON CONFLICT DO NOTHING`, [seriesId, viewer.id])
      return await subscription(tx, seriesId, viewer.id)
    })
  }

  async function unsubscribe (seriesId: string, viewer: Viewer): Promise<Subscription> {
    await find(pool, seriesId, viewer)
    await pool.query('DELETE FROM competition_series_subscriptions WHERE series_id = $1 AND user_id = $2', [seriesId, viewer.id])
    return await subscription(pool, seriesId, viewer.id)
  }

  return { create, get, list, setStatus, getSubscription, subscribe, unsubscribe }
}

export type SeriesService = ReturnType<typeof createSeriesService>
