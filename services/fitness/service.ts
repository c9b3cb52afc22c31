import type pg from 'pg'
import type { FlagStatus, ProviderName, SampleInput, DeletionInput, Source, SyncBody, SyncResult } from '../../schemas/fitness.ts'
import { overCeiling, raiseFlags, refreshParticipantFlags, refreshSampleFlags, type FlagToRaise, type PlausibilityLimits } from './anti-cheat.ts'
import { combinedDayTotals, recomputeDailyTotals, type SourceDayTotal } from './daily-totals.ts'
import { refreshCountedValues } from './device-priority.ts'
import { flagOwner, listFlags, resolveFlag } from './flags.ts'
import { ingestBatch, type WrittenSample } from './ingest.ts'
import { createUserLease } from './lease.ts'
import type { FitnessMetrics } from '../shared/metrics.ts'
import { daysToSamples, markPulled, planPull, type PullLimits } from './pull.ts'
import { competitionsToScore, competitionTargets, computeScore, scoreIdempotencyKey, type ComputedScore, type ScoreTarget } from './scoring.ts'
import { userStats, type StatsQuery } from './stats.ts'
import { invalidField, validateBatch } from './validation.ts'
import type { FitnessProvider } from '../providers/types.ts'
import { createTransactor, type Db, type Transact } from '../shared/transactions.ts'
import { domainEvent, recordEvents } from '../shared/outbox.ts'

// The leaderboard's write path: commits score_events and the participant's score, then
// updates Redis and publishes the live update. Fitness never writes participants.score.
export interface ScoreChange {
  competitionId: string
  userId: string
  operation: 'set' | 'increment' | 'best' | 'sync'
  value: number
  idempotencyKey: string
}
export interface ScoreSink {
  applyScores: (changes: ScoreChange[]) => Promise<Array<{ competitionId: string, userId: string, applied: boolean, score: number }>>
}

export interface Claimant { id: string, email: string | null, displayName: string | null }

export interface FitnessServiceDeps {
  pool: Pick<pg.Pool, 'connect' | 'query'>
  scores: ScoreSink
  providers: Partial<Record<ProviderName, FitnessProvider>>
  limits: PlausibilityLimits & { batchMax: number }
  pull: PullLimits
  lease: { waitMs: number, ttlMs: number }
  metrics: FitnessMetrics
  now?: () => Date
}

export function createFitnessService (deps: FitnessServiceDeps) {
  const { pool, metrics, limits } = deps
  const now = deps.now ?? (() => new Date())
  const withUserLease = createUserLease({ pool, ...deps.lease })

  const transact: Transact = createTransactor(pool)

  // A day over the ceiling is flagged on the largest record this batch wrote for it.
  function ceilingFlags (totals: SourceDayTotal[], written: WrittenSample[], source: Source): FlagToRaise[] {
    const flags: FlagToRaise[] = []
    for (const t of totals) {
      if (t.source !== source || !overCeiling(t.metric, t.value, limits)) continue
      const sample = written.filter((w) => w.metric === t.metric && w.localDay === t.day)
        .sort((a, b) => b.value - a.value || a.externalId.localeCompare(b.externalId))[0]
      if (sample === undefined) continue
      const dayStart = Date.parse(`${t.day}T00:00:00.000Z`) - sample.tzOffsetMinutes * 60_000
      flags.push({
        sampleId: sample.id,
        sampleVersion: sample.version,
        reason: 'daily_ceiling',
        details: { total: t.value, limit: limits.dailyCeilings[t.metric], source },
        metric: t.metric,
        localDay: t.day,
        windowStart: new Date(dayStart).toISOString(),
        windowEnd: new Date(dayStart + 86_400_000).toISOString(),
        manual: sample.manual
      })
    }
    return flags
  }

  async function scoreTargets (tx: Db, userId: string, targets: ScoreTarget[]): Promise<ComputedScore[]> {
    const computed: ComputedScore[] = []
    for (const target of targets) computed.push(await computeScore(tx, userId, target))
    return computed
  }

  // Called after the data is committed, still under the user's lease, so pushes of one user
  // happen in the order their data was written.
  async function pushScores (userId: string, computed: ComputedScore[]): Promise<SyncResult['competitions']> {
    const changed = computed.filter((c) => c.score !== c.target.currentScore)
    const applied = changed.length === 0
      ? []
      : await deps.scores.applyScores(changed.map((c) => ({
        competitionId: c.target.competitionId,
        userId,
        operation: 'sync' as const,
        value: c.score,
        idempotencyKey: scoreIdempotencyKey(userId, c)
      })))
    const byCompetition = new Map(applied.map((r) => [r.competitionId, r]))
    return computed.map((c) => {
      const r = byCompetition.get(c.target.competitionId)
      return { competitionId: c.target.competitionId, score: r?.score ?? c.score, applied: r?.applied ?? false }
    })
  }

  async function push (caller: Claimant, source: Source, samples: SampleInput[], deletions: DeletionInput[]): Promise<SyncResult> {
    validateBatch(samples, deletions, now())
    return await withUserLease(caller.id, async () => {
      const staged = await transact(async (tx) => {
        const outcome = await ingestBatch(tx, caller.id, source, samples, deletions, limits)
        const totals = await recomputeDailyTotals(tx, caller.id, outcome.days)
        const raised = await raiseFlags(tx, caller.id, [...outcome.flags, ...ceilingFlags(totals, outcome.written, source)])
        // Written samples start unflagged (the upsert resets the flag columns) and a new version
        // has no flags yet, so only the samples flagged just now need their columns refreshed.
        await refreshSampleFlags(tx, [...new Set(raised.map((f) => f.sampleId))])
        const days = combinedDayTotals(outcome.days, totals)
        const computed = await scoreTargets(tx, caller.id, await competitionsToScore(tx, caller.id, outcome.ranges))
        if (outcome.inserted + outcome.replaced + outcome.deleted > 0) {
          await recordEvents(tx, [domainEvent('sync.completed', {
            userId: caller.id, source, inserted: outcome.inserted, replaced: outcome.replaced, deleted: outcome.deleted
          })])
        }
        return { outcome, raised, days, computed }
      })
      const competitions = await pushScores(caller.id, staged.computed)
      const { outcome, raised } = staged
      metrics.samples.inc({ source, result: 'inserted' }, outcome.inserted)
      metrics.samples.inc({ source, result: 'replaced' }, outcome.replaced)
      metrics.samples.inc({ source, result: 'unchanged' }, outcome.unchanged)
      metrics.samples.inc({ source, result: 'deleted' }, outcome.deleted)
      for (const f of raised) metrics.flags.inc({ reason: f.reason })
      const externalIds = new Map(outcome.written.map((w) => [w.id, w.externalId]))
      return {
        source,
        received: samples.length + deletions.length,
        inserted: outcome.inserted,
        replaced: outcome.replaced,
        unchanged: outcome.unchanged,
        deleted: outcome.deleted,
        flagged: raised.map((f) => ({ externalId: externalIds.get(f.sampleId) ?? '', reason: f.reason })),
        days: staged.days,
        competitions
      }
    })
  }

  async function pull (caller: Claimant, name: ProviderName, body: SyncBody): Promise<SyncResult> {
    const provider = deps.providers[name]
    if (provider === undefined) throw invalidField(['provider'], 'is not configured on this server')
    const plan = await planPull(pool, caller.id, provider, body, deps.pull, now())
    // Fetched before taking the user's lease: a slow provider never blocks device pushes.
    const days = await provider.fetchDays(plan)
    const result = await push(caller, provider.source, daysToSamples(days, plan.timeZone, now().getTime()), [])
    await markPulled(pool, caller.id, provider, plan.to)
    return { ...result, provider: { name, from: plan.from, to: plan.to, days: days.length } }
  }

  function checkMode (body: SyncBody): { source: Source, samples: SampleInput[], deletions: DeletionInput[] } | { provider: ProviderName } {
    if (body.provider !== undefined) {
      if (body.source !== undefined || body.samples !== undefined || body.deletions !== undefined) {
        throw invalidField(['provider'], 'cannot be combined with source, samples or deletions')
      }
      return { provider: body.provider }
    }
    if (body.source === undefined) throw invalidField(['source'], 'is required (or provider, for a server-side pull)')
    for (const key of ['accessToken', 'from', 'to'] as const) {
      if (body[key] !== undefined) throw invalidField([key], 'is only used with provider')
    }
    const samples = body.samples ?? []
    const deletions = body.deletions ?? []
    if (samples.length + deletions.length === 0) throw invalidField(['samples'], 'must hold at least one record (or send deletions)')
    if (samples.length + deletions.length > limits.batchMax) {
      throw invalidField(['samples'], `and deletions together must hold at most ${limits.batchMax} records`)
    }
    return { source: body.source, samples, deletions }
  }

  // One entry point for device pushes and provider pulls, counted by source and outcome.
  async function sync (caller: Claimant, body: SyncBody): Promise<SyncResult> {
    const label = body.provider ?? body.source ?? 'unknown'
    try {
      const mode = checkMode(body)
      const result = 'provider' in mode
        ? await pull(caller, mode.provider, body)
        : await push(caller, mode.source, mode.samples, mode.deletions)
      metrics.syncs.inc({ source: label, outcome: 'ok' })
      return result
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode ?? 500
      const outcome = status === 503 ? 'unavailable' : status === 409 ? 'conflict' : status < 500 ? 'invalid' : 'error'
      metrics.syncs.inc({ source: label, outcome })
      throw err
    }
  }

  // Admin decision on a flag. Confirming rejects the flagged record, so the day and the
  // affected competitions are recomputed and the leaderboard moves; the participant stays
  // held out of those competitions' prizes. Clearing releases them once nothing else holds them.
  async function decideFlag (admin: Claimant, id: number, status: Exclude<FlagStatus, 'open'>, note?: string) {
    const owner = await flagOwner(pool, id)
    return await withUserLease(owner, async () => {
      const staged = await transact(async (tx) => {
        const decided = await resolveFlag(tx, id, status, admin.id, note)
        const sample = decided.flag.sample
        if (decided.changed && sample !== null) {
          await refreshSampleFlags(tx, [String(sample.id)])
          if (status === 'confirmed' && decided.localDay !== null) {
            // A rejected sample no longer covers other devices' samples: they count again.
            const recounted = await refreshCountedValues(tx, owner, { source: sample.source, metrics: [sample.metric], sampleIds: [String(sample.id)], vacated: [] })
            await recomputeDailyTotals(tx, owner, [{ metric: sample.metric, day: decided.localDay }, ...recounted.days])
          }
        }
        if (decided.changed) await refreshParticipantFlags(tx, owner, decided.flag.competitionIds)
        // Recomputed even when the decision was already recorded: a retry heals a failed push.
        const computed = status === 'confirmed'
          ? await scoreTargets(tx, owner, await competitionTargets(tx, owner, decided.flag.competitionIds))
          : []
        return { flag: decided.flag, computed }
      })
      await pushScores(owner, staged.computed)
      return staged.flag
    })
  }

  // Brings one participant's score up to date, e.g. when they join a running competition
  // after their data was synced.
  async function rescore (userId: string, competitionId: string): Promise<SyncResult['competitions']> {
    return await withUserLease(userId, async () => {
      const computed = await transact(async (tx) => await scoreTargets(tx, userId, await competitionTargets(tx, userId, [competitionId])))
      return await pushScores(userId, computed)
    })
  }

  // When a competition opens, data synced before the status changed (in the moments between
  // its start time and the sweep) is scored for every participant that has any in the window.
  async function rescoreCompetition (competitionId: string): Promise<number> {
    const { rows } = await pool.query<{ user_id: string }>(
      `SELECT DISTINCT p.user_id FROM participants p
         JOIN competitions c ON c.id = p.competition_id
         JOIN fitness_samples s ON s.user_id = p.user_id AND s.end_at >= c.starts_at AND s.start_at < c.ends_at
       WHERE p.competition_id = $1 AND c.metric <> 'custom'`, [competitionId])
    for (const { user_id: userId } of rows) await rescore(userId, competitionId)
    return rows.length
  }

  return {
    sync,
    // Records a cloud provider's job fetched for a user, ingested like a device push.
    ingest: async (userId: string, source: Source, samples: SampleInput[], deletions: DeletionInput[]) =>
      await push({ id: userId, email: null, displayName: null }, source, samples, deletions),
    rescore,
    rescoreCompetition,
    stats: async (userId: string, query: StatsQuery) => await userStats(pool, userId, query, now()),
    listFlags: async (query: Parameters<typeof listFlags>[1]) => await listFlags(pool, query),
    clearFlag: async (admin: Claimant, id: number, note?: string) => await decideFlag(admin, id, 'cleared', note),
    confirmFlag: async (admin: Claimant, id: number, note?: string) => await decideFlag(admin, id, 'confirmed', note)
  }
}

export type FitnessService = ReturnType<typeof createFitnessService>
