import type { EventBus } from '../shared/domain-events.ts'
import type { JobQueue } from '../shared/jobs.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import { scheduleNextStep } from './schedule.ts'
import { errors } from '../../lib/errors.ts'
import { START_SKEW_SECONDS } from '../../schemas/competitions.ts'
import type { ActivityService } from '../users/activity.ts'
import { createHash } from 'node:crypto'
import { seenWithoutMembership, type Viewer } from '../shared/competition-access.ts'
import { checkScoreOrder, COMPETITION_COLUMNS, competitionVersion, joinableSql, toCompetition, type Competition, type CompetitionStatus, type Metric, type PrizeSplit, type ScoreOrder } from './rows.ts'
import type { LedgerService } from '../money/ledger.ts'
import { createMemberships } from './memberships.ts'
import { createInvites } from './invites.ts'
import { createEditing } from './editing.ts'
import { type Page, pageOf, pageRequest } from '../shared/cursors.ts'
import { canonicalTimeZone } from '../users/profiles.ts'
import type { Db, Transact } from '../shared/transactions.ts'

export interface NewCompetition {
  name: string
  description?: string
  metric: Metric
  startsAt: string
  endsAt: string
  timeZone?: string
  gracePeriodSeconds?: number
  entryFee?: number
  currency?: string
  sponsorPrize?: number
  houseShareBps?: number
  maxParticipants?: number | null
  prizeSplit?: PrizeSplit
  allowManualEntries?: boolean
  visibility?: 'public' | 'private'
  scoreOrder?: ScoreOrder
}

export interface CompetitionFilters {
  status?: CompetitionStatus
  metric?: Metric
  visibility?: 'public' | 'private'
  joinable?: boolean
  cursor?: string
  limit: number
}

export type { Viewer }

export interface CompetitionsDeps {
  pool: Db
  transact: Transact
  ledger: LedgerService
  activity: Pick<ActivityService, 'record'>
  events: Pick<EventBus, 'emit'>
  jobs: JobQueue
  clock?: () => Date
  // Where an invite's link points: the app's page that joins with the code at its end.
  inviteLinkBase?: string
}

const START_SKEW_MS = START_SKEW_SECONDS * 1000

function validateNew (input: NewCompetition, now: Date): void {
  const startsAt = new Date(input.startsAt)
  const endsAt = new Date(input.endsAt)
  if (endsAt <= startsAt) throw errors.BadRequest('endsAt must be after startsAt')
  if (startsAt.getTime() < now.getTime() - START_SKEW_MS) throw errors.BadRequest('startsAt must not be in the past')
  const split = input.prizeSplit
  if (split?.type === 'percent' && split.places.reduce((a, b) => a + b, 0) !== 100) {
    throw errors.BadRequest('prizeSplit.places must sum to 100')
  }
  checkScoreOrder(input.metric, input.scoreOrder)
}

export function createCompetitionsService ({ pool, transact, ledger, activity, events, jobs, clock = () => new Date(), inviteLinkBase = '' }: CompetitionsDeps) {
  const invites = createInvites({ pool, clock, linkBase: inviteLinkBase })

  async function create (creatorId: string, input: NewCompetition): Promise<Competition> {
    const now = clock()
    validateNew(input, now)
    // The competition, its event and its first timed step commit together.
    const row = await transact(async (tx) => {
      const { rows } = await tx.query(`INSERT INTO competitions AS c (name, description, metric, starts_at, ends_at, time_zone,
          grace_period_seconds, entry_fee, currency, sponsor_prize, house_share_bps, max_participants, prize_split,
          allow_manual_entries, visibility, created_by, status_changed_at, score_order)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
        RETURNING ${COMPETITION_COLUMNS}`, [
        input.name, input.description ?? '', input.metric, input.startsAt, input.endsAt,
        canonicalTimeZone(input.timeZone ?? 'UTC'), input.gracePeriodSeconds ?? 0, input.entryFee ?? 0,
        input.currency ?? 'USD', input.sponsorPrize ?? 0, input.houseShareBps ?? 0, input.maxParticipants ?? null,
        JSON.stringify(input.prizeSplit ?? { type: 'percent', places: [100] }), input.allowManualEntries ?? false,
        input.visibility ?? 'public', creatorId, now, input.scoreOrder ?? 'highest_wins'
      ])
      const c = rows[0]!
      await recordEvents(tx, [domainEvent('competition.created', {
        competitionId: c.id, name: c.name, metric: c.metric, startsAt: c.starts_at.toISOString(), endsAt: c.ends_at.toISOString(), visibility: c.visibility, createdBy: c.created_by
      })])
      await scheduleNextStep(tx, jobs, c.id)
      return c
    })
    return toCompetition(row, now)
  }

  // Private competitions are unlisted: shown to their creator, participants and admins,
  // and reachable by id for anyone holding the link.
  // The page with its version: the versions of the competitions it shows and where it sits
  // (its cursors), so a page whose rows did not change keeps its ETag.
  async function list (viewer: Viewer, filters: CompetitionFilters): Promise<{ page: Page<Competition>, version: string }> {
    const now = clock()
    const request = pageRequest(filters.cursor, ['string', 'string'])
    const { rows } = await pool.query(`SELECT ${COMPETITION_COLUMNS} FROM competitions c
      WHERE ($1::text IS NULL OR c.status = $1)
        AND ($2::text IS NULL OR c.metric = $2)
        AND ($3::text IS NULL OR c.visibility = $3)
        AND ($4::boolean IS NULL OR ${joinableSql('$5')} = $4)
        AND ($6 OR c.visibility = 'public' OR c.created_by = $7
          OR EXISTS (SELECT 1 FROM participants p WHERE p.competition_id = c.id AND p.user_id = $7))
        AND ($8::timestamptz IS NULL OR (c.created_at, c.id) ${request.compare} ($8, $9::uuid))
      ORDER BY c.created_at ${request.order}, c.id ${request.order} LIMIT $10`, [
      filters.status ?? null, filters.metric ?? null, filters.visibility ?? null, filters.joinable ?? null, now,
      viewer.isAdmin, viewer.id, request.key?.[0] ?? null, request.key?.[1] ?? null, filters.limit + 1
    ])
    const { rows: shown, nextCursor, prevCursor } = pageOf(rows, filters.limit, request, (r) => [r.cursor_ts, r.id])
    const items = shown.map((r) => toCompetition(r, now))
    const versions = shown.map((r, i) => `${r.id}:${competitionVersion(r, items[i]!)}`)
    const version = createHash('sha256').update([...versions, nextCursor, prevCursor].join('|')).digest('base64url').slice(0, 22)
    return { page: { items, nextCursor, prevCursor }, version }
  }

  async function get (id: string, db: Db = pool): Promise<Competition> {
    return (await getVersioned(id, db)).competition
  }

  // With a viewer: a private competition is shown to its creator, participants and admins, and
  // to whoever holds a usable invite; to anyone else it does not exist (404).
  async function getVersioned (id: string, db: Db = pool, viewer?: Viewer & { inviteCode?: string }): Promise<{ competition: Competition, version: string }> {
    const { rows } = await db.query(`SELECT ${COMPETITION_COLUMNS} FROM competitions c WHERE c.id = $1`, [id])
    if (rows.length === 0) throw errors.NotFound('Competition not found')
    const row = rows[0]!
    if (viewer !== undefined && !seenWithoutMembership({ visibility: row.visibility, createdBy: row.created_by }, viewer) &&
      !(await isParticipant(id, viewer.id)) && !(viewer.inviteCode !== undefined && await invites.admits(id, viewer.inviteCode))) {
      throw errors.NotFound('Competition not found')
    }
    const competition = toCompetition(row, clock())
    return { competition, version: competitionVersion(row, competition) }
  }

  async function isParticipant (competitionId: string, userId: string): Promise<boolean> {
    const { rows } = await pool.query('SELECT 1 FROM participants WHERE competition_id = $1 AND user_id = $2', [competitionId, userId])
    return rows.length > 0
  }

  return { create, list, get, getVersioned, isParticipant, invites, ...createEditing({ transact, jobs, clock }), ...createMemberships({ transact, invites, ledger, activity, events, clock }) }
}

export type CompetitionsService = ReturnType<typeof createCompetitionsService>
