import { errors } from '../../lib/errors.ts'
import { START_SKEW_SECONDS } from '../../schemas/competitions.ts'
import type { JobQueue } from '../shared/jobs.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import type { Transact } from '../shared/transactions.ts'
import { canonicalTimeZone } from '../users/profiles.ts'
import { checkScoreOrder, COMPETITION_COLUMNS, toCompetition, type Competition } from './rows.ts'
import { scheduleNextStep } from './schedule.ts'
import type { NewCompetition } from './catalogue.ts'
import { managedBy, type Viewer } from '../shared/competition-access.ts'

// Changing a competition: what may change depends on how far it has come, so nobody who joined
// finds the deal changed under them.
export type CompetitionEdit = Partial<NewCompetition>
type Field = keyof CompetitionEdit

// Until the competition is over: what it is called and says about itself.
const ANY_TIME: Field[] = ['name', 'description']
// Until it starts: when it runs, its capacity (never below who joined), who sees it, manual entries.
const BEFORE_START: Field[] = ['startsAt', 'endsAt', 'timeZone', 'gracePeriodSeconds', 'maxParticipants', 'allowManualEntries', 'visibility']
// Until the first join: what it measures and what joining costs, so every participant paid alike.
const BEFORE_FIRST_JOIN: Field[] = ['metric', 'scoreOrder', 'entryFee', 'currency']
// Until the first paid entry: how the pool is made and shared (house share, sponsor prize, split).
const BEFORE_FIRST_PAID_ENTRY: Field[] = ['houseShareBps', 'sponsorPrize', 'prizeSplit']

// EDIT_RULES (schemas/competitions.ts) says these rules to clients.

const COLUMN: Record<Field, string> = {
  name: 'name',
  description: 'description',
  startsAt: 'starts_at',
  endsAt: 'ends_at',
  timeZone: 'time_zone',
  gracePeriodSeconds: 'grace_period_seconds',
  maxParticipants: 'max_participants',
  allowManualEntries: 'allow_manual_entries',
  visibility: 'visibility',
  metric: 'metric',
  entryFee: 'entry_fee',
  currency: 'currency',
  houseShareBps: 'house_share_bps',
  sponsorPrize: 'sponsor_prize',
  prizeSplit: 'prize_split',
  scoreOrder: 'score_order'
}

interface Stage { over: boolean, started: boolean, joined: number, paid: boolean }

function refusal (field: Field, stage: Stage): string | null {
  if (stage.over) return `${field} cannot change: the competition is over`
  if (ANY_TIME.includes(field)) return null
  if (stage.started) return `${field} can only change before the competition starts`
  if (BEFORE_START.includes(field)) return null
  if (BEFORE_FIRST_JOIN.includes(field) && stage.joined > 0) return `${field} can only change before the first participant joins`
  if (BEFORE_FIRST_PAID_ENTRY.includes(field) && stage.paid) return `${field} can only change before the first entry fee is paid`
  return null
}

export function createEditing ({ transact, jobs, clock }: { transact: Transact, jobs: JobQueue, clock: () => Date }) {
  async function edit (id: string, editor: Viewer, changes: CompetitionEdit): Promise<Competition> {
    const now = clock()
    const fields = (Object.keys(changes) as Field[]).filter((f) => changes[f] !== undefined)
    const row = await transact(async (tx) => {
      // Locked like a join locks it, so a capacity check and a join cannot cross.
      const { rows } = await tx.query(`SELECT c.*, EXISTS (SELECT 1 FROM participants p WHERE p.competition_id = c.id AND p.entry_fee_paid > 0) AS paid
        FROM competitions c WHERE c.id = $1 FOR UPDATE`, [id])
      const c = rows[0]
      if (c === undefined) throw errors.NotFound('Competition not found')
      if (!managedBy(c.created_by, editor)) throw errors.Forbidden('Only the competition\'s creator and admins may change it')
      const stage: Stage = {
        over: ['final', 'paid', 'cancelled'].includes(c.status),
        started: c.status !== 'scheduled' || c.starts_at <= now,
        joined: Number(c.participant_count),
        paid: c.paid === true
      }
      for (const field of fields) {
        const why = refusal(field, stage)
        if (why !== null) throw errors.Conflict(why)
      }
      const next = { startsAt: changes.startsAt === undefined ? c.starts_at as Date : new Date(changes.startsAt), endsAt: changes.endsAt === undefined ? c.ends_at as Date : new Date(changes.endsAt) }
      if (next.endsAt <= next.startsAt) throw errors.BadRequest('endsAt must be after startsAt')
      if (changes.startsAt !== undefined && next.startsAt.getTime() < now.getTime() - START_SKEW_SECONDS * 1000) throw errors.BadRequest('startsAt must not be in the past')
      if (changes.maxParticipants != null && changes.maxParticipants < stage.joined) {
        throw errors.Conflict(`maxParticipants cannot be below the ${stage.joined} participants who joined`)
      }
      checkScoreOrder(changes.metric ?? c.metric, changes.scoreOrder ?? c.score_order)
      const split = changes.prizeSplit
      if (split?.type === 'percent' && split.places.reduce((a, b) => a + b, 0) !== 100) throw errors.BadRequest('prizeSplit.places must sum to 100')

      const values = fields.map((f) => f === 'prizeSplit' ? JSON.stringify(changes.prizeSplit) : f === 'timeZone' ? canonicalTimeZone(changes.timeZone!) : changes[f])
      const sets = fields.map((f, i) => `${COLUMN[f]} = $${i + 2}`)
      const { rows: updated } = await tx.query(`UPDATE competitions c SET ${[...sets, 'updated_at = now()'].join(', ')} WHERE c.id = $1
        RETURNING ${COMPETITION_COLUMNS}`, [id, ...values])
      const u = updated[0]!
      await recordEvents(tx, [domainEvent('competition.updated', {
        competitionId: id, changed: fields, startsAt: u.starts_at.toISOString(), endsAt: u.ends_at.toISOString(), visibility: u.visibility
      })])
      // A moved start or end gets its step at the new instant (a step still waiting at the old
      // one finds nothing to do then).
      if (fields.includes('startsAt') || fields.includes('endsAt')) await scheduleNextStep(tx, jobs, id)
      return u
    })
    return toCompetition(row, now)
  }

  return { edit }
}
