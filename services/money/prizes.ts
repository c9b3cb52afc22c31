import type pg from 'pg'
import { errors } from '../../lib/errors.ts'
import type { ActivityService } from '../users/activity.ts'
import type { LedgerService } from './ledger.ts'
import { computePrizes, type PrizeSplit, type PrizeStanding } from './prize-split.ts'
import type { Db, Transact } from '../shared/transactions.ts'
import { isUuid } from '../../lib/uuid.ts'
import type { ScoreOrder } from '../leaderboard/ranking.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'
import { seenWithoutMembership } from '../shared/competition-access.ts'

// Prize calculation (a preview, any time) and distribution (once, when final): the maths is
// in prize-split.ts; this moves the money through the ledger in one transaction.

export interface PrizeTable {
  competitionId: string
  status: string
  currency: string
  escrow: number
  houseShareBps: number
  houseShare: number
  sponsorPrize: number
  pool: number
  split: PrizeSplit
  places: Array<{ place: number, amount: number }>
  winners: Array<{ userId: string, displayName: string | null, rank: number, position: number, score: number, amount: number }>
  heldOut: Array<{ userId: string, displayName: string | null, score: number, reason: 'flagged' }>
  unallocated: number
  distributed: boolean
  distributedAt: string | null
  transactionId: number | null
}

interface CounterLike { inc: (labels: Record<string, string>, value?: number) => void }

export interface PrizesDeps {
  pool: Pick<pg.Pool, 'query'>
  transact: Transact
  ledger: Pick<LedgerService, 'ensureAccount' | 'transfer' | 'balance'>
  activity: Pick<ActivityService, 'recordMany'>
  events: { emit: (event: 'competition.status', change: { competitionId: string, from: string, to: string, at: Date }) => unknown }
  metrics: { payouts: CounterLike, paidAmount: CounterLike }
}

interface CompetitionRow {
  id: string
  status: string
  currency: string
  sponsor_prize: string
  house_share_bps: number
  prize_split: PrizeSplit
  score_order: ScoreOrder
  visibility: string
  created_by: string | null
}

export function createPrizesService (deps: PrizesDeps) {
  const { pool, transact, ledger, activity, events, metrics } = deps

  async function competition (db: Db, competitionId: string, lock = false): Promise<CompetitionRow | null> {
    if (!isUuid(competitionId)) return null
    const { rows } = await db.query<CompetitionRow>(`SELECT id, status, currency, sponsor_prize::text, house_share_bps, prize_split, score_order, visibility, created_by
      FROM competitions WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [competitionId])
    return rows[0] ?? null
  }

  async function standings (db: Db, competitionId: string): Promise<Array<PrizeStanding & { displayName: string | null }>> {
    const { rows } = await db.query(`SELECT p.user_id, p.score::text, (extract(epoch FROM p.reached_at) * 1000000)::bigint::text AS micros, p.flagged,
        NULLIF(coalesce(NULLIF(u.display_name, ''), u.username), '') AS display_name
      FROM participants p JOIN users u ON u.id = p.user_id WHERE p.competition_id = $1 AND p.standing IS NOT NULL`, [competitionId])
    return rows.map((r) => ({ userId: r.user_id, score: Number(r.score), reachedMicros: r.micros, flagged: r.flagged, displayName: r.display_name }))
  }

  async function stored (db: Db, competitionId: string): Promise<PrizeTable | null> {
    const { rows } = await db.query<{ result: PrizeTable }>('SELECT result FROM prize_distributions WHERE competition_id = $1', [competitionId])
    return rows[0]?.result ?? null
  }

  function table (c: CompetitionRow, escrow: number, people: Array<PrizeStanding & { displayName: string | null }>): PrizeTable {
    const names = new Map(people.map((p) => [p.userId, p.displayName]))
    const t = computePrizes({ escrow, houseShareBps: c.house_share_bps, sponsorPrize: Number(c.sponsor_prize), split: c.prize_split, order: c.score_order, standings: people })
    return {
      competitionId: c.id,
      status: c.status,
      currency: c.currency,
      escrow,
      houseShareBps: c.house_share_bps,
      houseShare: t.houseShare,
      sponsorPrize: t.sponsorPrize,
      pool: t.pool,
      split: c.prize_split,
      places: t.places,
      winners: t.winners.map((w) => ({ userId: w.userId, displayName: names.get(w.userId) ?? null, rank: w.rank, position: w.position, score: w.score, amount: w.amount })),
      heldOut: t.heldOut.map((h) => ({ userId: h.userId, displayName: names.get(h.userId) ?? null, score: h.score, reason: h.reason })),
      unallocated: t.unallocated,
      distributed: false,
      distributedAt: null,
      transactionId: null
    }
  }

  async function visible (db: Db, c: CompetitionRow, viewer: { id: string, isAdmin: boolean }): Promise<boolean> {
    if (seenWithoutMembership({ visibility: c.visibility, createdBy: c.created_by }, viewer)) return true
    const { rowCount } = await db.query('SELECT 1 FROM participants WHERE competition_id = $1 AND user_id = $2', [c.id, viewer.id])
    return rowCount === 1
  }

  // The prize table as things stand (or as paid, once distributed).
  async function calculate (id: string, viewer: { id: string, isAdmin: boolean }): Promise<PrizeTable> {
    const competitionId = id.toLowerCase()
    const c = await competition(pool, competitionId)
    if (!c || !await visible(pool, c, viewer)) throw errors.NotFound('Competition not found')
    if (c.status === 'paid') {
      const paid = await stored(pool, competitionId)
      if (paid) return paid
    }
    const { rows } = await pool.query<{ balance: string }>('SELECT balance::text FROM accounts WHERE kind = \'escrow\' AND competition_id = $1 AND currency = $2',
      [competitionId, c.currency])
    return table(c, Number(rows[0]?.balance ?? 0), await standings(pool, competitionId))
  }

  // Pays once: the competition row is locked, so a concurrent call waits and then finds it
  // paid, and answers with the stored result. The ledger keys are a second guard.
  async function distribute (id: string, actorId: string): Promise<{ table: PrizeTable, created: boolean }> {
    // Lower case: the id is part of the ledger's idempotency keys.
    const competitionId = id.toLowerCase()
    const outcome = await transact(async (tx) => {
      const c = await competition(tx, competitionId, true)
      if (!c) throw errors.NotFound('Competition not found')
      if (c.status === 'paid') {
        const paid = await stored(tx, competitionId)
        if (paid) return { table: paid, created: false }
      }
      if (c.status !== 'final') throw errors.Conflict(`Prizes are distributed once the competition is final; it is ${c.status}`)

      const escrowAccount = await ledger.ensureAccount(tx, { kind: 'escrow', competitionId, currency: c.currency })
      const escrow = await ledger.balance(tx, escrowAccount)
      const result = table(c, escrow, await standings(tx, competitionId))
      const house = await ledger.ensureAccount(tx, { kind: 'house', currency: c.currency })
      if (result.houseShare > 0) {
        await ledger.transfer(tx, {
          idempotencyKey: `prizes:${competitionId}:house-fee`,
          kind: 'house_fee',
          competitionId,
          createdBy: actorId,
          memo: 'House share of the entry fees',
          legs: [{ accountId: escrowAccount, amount: -result.houseShare }, { accountId: house, amount: result.houseShare }]
        })
      }
      const legs = [{ accountId: escrowAccount, amount: -(escrow - result.houseShare) }, { accountId: house, amount: result.unallocated }]
      // The sponsor's money comes from outside the platform.
      if (result.sponsorPrize > 0) legs.push({ accountId: await ledger.ensureAccount(tx, { kind: 'external', currency: c.currency }), amount: -result.sponsorPrize })
      for (const w of result.winners) legs.push({ accountId: await ledger.ensureAccount(tx, { kind: 'wallet', pocket: 'winnings', userId: w.userId, currency: c.currency }), amount: w.amount })
      const { transactionId } = await ledger.transfer(tx, {
        idempotencyKey: `prizes:${competitionId}`, kind: 'prize', competitionId, createdBy: actorId, memo: 'Prizes', legs
      })

      await tx.query(`INSERT INTO prize_payouts (competition_id, user_id, place, amount, transaction_id)
        SELECT $1, user_id, place, amount, $5 FROM unnest($2::uuid[], $3::int[], $4::bigint[]) AS w (user_id, place, amount)`,
      [competitionId, result.winners.map((w) => w.userId), result.winners.map((w) => w.rank), result.winners.map((w) => w.amount), transactionId])
      await recordEvents(tx, result.winners.map((w) => domainEvent('prize.paid', {
        competitionId, userId: w.userId, amount: w.amount, currency: c.currency, rank: w.rank
      })))
      await activity.recordMany(tx, result.winners.map((w) => ({
        userId: w.userId, kind: 'prize', competitionId, data: { amount: w.amount, currency: c.currency, rank: w.rank }
      })))
      const at = new Date()
      await tx.query('UPDATE competitions SET status = \'paid\', status_changed_at = $2, updated_at = now() WHERE id = $1', [competitionId, at])
      const paid: PrizeTable = { ...result, status: 'paid', distributed: true, distributedAt: at.toISOString(), transactionId }
      await tx.query('INSERT INTO prize_distributions (competition_id, transaction_id, result, distributed_by) VALUES ($1, $2, $3, $4)',
        [competitionId, transactionId, JSON.stringify(paid), actorId])
      return { table: paid, created: true }
    })
    if (outcome.created) {
      const { table: paid } = outcome
      events.emit('competition.status', { competitionId, from: 'final', to: 'paid', at: new Date(paid.distributedAt!) })
      metrics.payouts.inc({ currency: paid.currency }, paid.winners.length)
      metrics.paidAmount.inc({ currency: paid.currency }, paid.winners.reduce((sum, w) => sum + w.amount, 0))
    }
    return outcome
  }

  return { calculate, distribute }
}

export type PrizesService = ReturnType<typeof createPrizesService>
