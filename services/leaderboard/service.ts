import type pg from 'pg'
import { errors } from '../../lib/errors.ts'
import { createLeaderboardStore } from './store.ts'
import { isScoring, type ProjectedScore, type ScoreChange, type ScoreResult } from './score-batch.ts'
import type { LeaderboardProjection } from './projection.ts'
import { createLeaderboardReads } from './reads.ts'
import { createLeaderboardRebuilder, type CounterLike, type Logger, type RebuilderDeps } from './rebuild.ts'
import type { Freshness } from '../shared/freshness.ts'
import { createWriteBatcher } from './write-batcher.ts'
import { createParticipantReconciler } from './reconcile.ts'
import { withTransaction } from '../shared/transactions.ts'

// Leaderboards: Postgres is the source of truth, Redis a projection rebuilt from it.
// Writes commit to Postgres first, then update the projection and queue the change for the
// next frame; reads use the projection and fall back to Postgres (reads.ts);
// rebuilds keep the projection equal to Postgres (rebuild.ts).
// Ranking rule: see ranking.ts.

export type { Logger } from './rebuild.ts'
export type { FeedSnapshot, LeaderboardQuery, Viewer } from './reads.ts'

export interface LeaderboardMetrics {
  scoreUpdates: CounterLike
  reads: CounterLike
  rebuilds: CounterLike
}

export interface LeaderboardServiceDeps {
  pool: Pick<pg.Pool, 'connect' | 'query'>
  // Degraded reads tolerate replication lag: a read replica when configured.
  readPool?: Pick<pg.Pool, 'query'>
  projection: LeaderboardProjection
  log: Logger
  metrics: LeaderboardMetrics
  // Frames changes for the live feed, coalesced per tick (services/live/ticker.ts).
  ticker: { changed: (competitionId: string) => void }
  freshness?: Freshness<string>
  // For rebuilds, which walk a projection in pages (see rebuild.ts).
  redis?: RebuilderDeps['redis']
}

const RETRYABLE = new Set(['40001', '40P01'])
// Direct score updates arriving together share a transaction (see write-batcher.ts). One batch
// at a time per instance: while it commits, the next one gathers every update that arrives,
// so batches grow with the load (fewer commits, less CPU per update) and the rest of the pool
// stays free for reads and syncs.
const UPDATE_BATCH_MAX = 200
const UPDATE_BATCHES_IN_FLIGHT = 1

export function createLeaderboardService (deps: LeaderboardServiceDeps) {
  const { pool, projection, log, metrics, ticker } = deps
  const store = createLeaderboardStore()
  // Joins and leaves, and a rebuild's second look at participants it dropped (see rebuild.ts).
  const reconcileParticipant = createParticipantReconciler({ pool, store, projection, projected, markDirty: (id, err) => { markDirty(id, err) } })
  const rebuilder = createLeaderboardRebuilder({ pool, store, projection, log, rebuilds: metrics.rebuilds, redis: deps.redis, reconcileParticipant })
  const { rebuild, markDirty } = rebuilder
  const reads = createLeaderboardReads({ pool, readPool: deps.readPool ?? pool, store, projection, rebuilder, log, reads: metrics.reads, freshness: deps.freshness })
  let closed = false

  // Runs a batch of score changes as one transaction in the helper's folded mode (BEGIN and
  // COMMIT ride in store.applyChanges' own two round trips), retrying a batch that failed on a
  // serialisation failure or deadlock once it is rolled back.
  async function applyInTransaction (changes: ScoreChange[], opts: { onlyMetric?: string }): ReturnType<typeof store.applyChanges> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(pool, async (tx, folded) => await store.applyChanges(tx, folded, changes, opts), { folded: true })
      } catch (err) {
        // Deadlocks can only come from unusual key reuse across users; the batch is safe to retry.
        if (attempt < 3 && RETRYABLE.has((err as { code?: string }).code ?? '')) continue
        throw err
      }
    }
  }

  // A change the projection took goes out in the next frame; a missing projection is rebuilt.
  function projected (competitionId: string, result: { projectionMissing: boolean }): void {
    if (result.projectionMissing) rebuild(competitionId).catch(() => {})
    else if (!closed) ticker.changed(competitionId)
  }

  async function project (changes: ProjectedScore[]): Promise<void> {
    const byCompetition = new Map<string, ProjectedScore[]>()
    for (const c of changes) {
      const rows = byCompetition.get(c.competitionId)
      if (rows) rows.push(c)
      else byCompetition.set(c.competitionId, [c])
    }
    await Promise.all([...byCompetition].map(async ([competitionId, rows]) => {
      try {
        projected(competitionId, await projection.apply(competitionId, rows))
      } catch (err) {
        markDirty(competitionId, err)
      }
    }))
  }

  // The write path shared by the HTTP route and fitness sync: one Postgres transaction for the
  // batch (exactly once per (competition, idempotency key)), then the Redis projection. Resolves
  // once committed, with the projection under way: the projection is versioned, so the next
  // batch's transaction may overlap it and its scripts may even run first.
  async function commitScores (changes: ScoreChange[], opts: { onlyMetric?: string } = {}): Promise<{ results: ScoreResult[], projection: Promise<void> }> {
    if (changes.length === 0) return { results: [], projection: Promise.resolve() }
    // Ids name Redis keys too, where case matters.
    const normalised = changes.map((c) => ({ ...c, competitionId: String(c.competitionId).toLowerCase(), userId: String(c.userId).toLowerCase() }))
    const { results, projected } = await applyInTransaction(normalised, opts)
    for (const r of results) metrics.scoreUpdates.inc({ result: r.applied ? 'applied' : r.reason ?? 'skipped' })
    return { results, projection: project(projected) }
  }

  async function applyScores (changes: ScoreChange[], opts: { onlyMetric?: string } = {}): Promise<ScoreResult[]> {
    const { results, projection } = await commitScores(changes, opts)
    await projection
    return results
  }

  // Group commit for the HTTP route. The next batch starts as soon as this one has committed,
  // while this one's projection is still being applied; each caller is answered after both.
  const directUpdates = createWriteBatcher(async (changes: ScoreChange[]) => {
    const { results, projection } = await commitScores(changes, { onlyMetric: 'custom' })
    return results.map((result) => ({ result, projection }))
  }, { maxBatch: UPDATE_BATCH_MAX, maxInFlight: UPDATE_BATCHES_IN_FLIGHT })

  // One change with errors for the HTTP route; duplicates and no-ops are answered, not errors.
  // Direct updates are for competitions with a custom metric; the others score from fitness sync.
  async function updateScore (change: ScoreChange): Promise<ScoreResult> {
    const { result, projection } = await directUpdates.submit(change)
    await projection
    switch (result.reason) {
      case 'wrong_metric': throw errors.Conflict('This competition scores from fitness sync; only custom-metric competitions accept direct score updates')
      case 'unknown_competition': throw errors.NotFound('Competition not found')
      case 'not_participant': throw errors.NotFound('The user is not a participant of this competition')
      case 'inactive': throw errors.Conflict('Scores can change only while the competition is active or in grace')
      case 'key_reused': throw errors.Conflict('This Idempotency-Key was already used for a different score update')
      case 'invalid': throw errors.Unprocessable('The resulting score must be a safe integer between 0 and 2^53 - 1')
      default: return result
    }
  }

  // A new name or avatar reaches every board the user is on (pages and later frames).
  async function profileChanged (event: { userId: string }): Promise<void> {
    const { rows } = await pool.query<{ competition_id: string }>('SELECT competition_id FROM participants WHERE user_id = $1', [event.userId])
    for (const { competition_id: competitionId } of rows) {
      const row = await store.projectionRow(pool, competitionId, event.userId)
      if (!row) continue
      try {
        await projection.setProfile(competitionId, event.userId, row)
      } catch (err) {
        markDirty(competitionId, err)
      }
    }
  }

  // A competition scoring in Postgres gets its projection (and frame stream) ready; one that
  // stopped keeps its projection for a while (see projection.retire). The status is read, not
  // taken from the event, for the same reason as above.
  async function competitionStatus (event: { competitionId: string }): Promise<void> {
    const competition = await store.getCompetition(pool, event.competitionId)
    if (competition === null) return
    if (isScoring(competition.status)) await rebuild(event.competitionId)
    else await projection.retire(event.competitionId)
  }

  function close (): void {
    closed = true
    rebuilder.close()
  }

  // What the WebSocket broadcaster reads (frames come from the ticker, never from here).
  const feed = {
    channel: projection.channel,
    snapshot: reads.snapshot,
    resume: projection.resume,
    framesSince: projection.framesSince
  }

  return {
    applyScores,
    updateScore,
    getLeaderboard: reads.getLeaderboard,
    exists: reads.exists,
    access: reads.access,
    rebuild,
    rebuildAll: rebuilder.rebuildAll,
    reconcileParticipant,
    profileChanged,
    competitionStatus,
    isDirty: rebuilder.isDirty,
    // A projection that missed a change (the ticker reports failed frames here).
    markDirty,
    // The pub/sub channel carrying a competition's frames.
    channel: projection.channel,
    // Redis keys of a competition's projection (operators and tests).
    keys: projection.keys,
    feed,
    close
  }
}

export type LeaderboardService = ReturnType<typeof createLeaderboardService>
export type LeaderboardFeed = LeaderboardService['feed']
