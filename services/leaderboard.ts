import type pg from 'pg'
import { errors } from '../lib/errors.ts'
import { decodeRankCursor, encodeRankCursor, type Standing } from './leaderboard-ranking.ts'
import { createLeaderboardStore, stripStanding, type LeaderboardEntry, type ProjectedScore, type ScoreChange, type ScoreResult } from './leaderboard-store.ts'
import type { LeaderboardProjection } from './leaderboard-projection.ts'

// Leaderboards: Postgres is the source of truth, Redis a projection rebuilt from it.
// Writes commit to Postgres first, then update the projection and queue the change for the
// next frame; reads use the projection and fall back to Postgres (marked degraded).
// Ranking rule: see leaderboard-ranking.ts.

export interface Logger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

interface CounterLike { inc: (labels: Record<string, string>, value?: number) => void }

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
  tickMs: number
}

export interface Viewer {
  id: string
  isAdmin: boolean
}

export interface LeaderboardQuery {
  cursor?: string
  limit: number
  around: boolean
  k: number
}

export interface FeedSnapshot {
  frame: string
  seq: number
  me: { rank: number, score: number } | null
}

const RETRYABLE = new Set(['40001', '40P01'])
const REBUILD_CHUNK = 1000
const DIRTY_RETRY_MS = 2000
const PAGE_CACHE_SIZE = 500

type Db = Pick<pg.ClientBase, 'query'>

export function createLeaderboardService (deps: LeaderboardServiceDeps) {
  const { pool, projection, log, metrics, tickMs } = deps
  const readPool = deps.readPool ?? pool
  const store = createLeaderboardStore()
  const flushTimers = new Map<string, NodeJS.Timeout>()
  const rebuilding = new Map<string, Promise<void>>()
  const rerun = new Set<string>()
  // Competitions whose projection missed a change (Redis failed): rebuilt when Redis answers.
  const dirty = new Set<string>()
  // Serialised top-N pages, reused while the competition's projection version is unchanged.
  const pageCache = new Map<string, { version: string, json: string, nextCursor: string | null }>()
  const snapshotCache = new Map<string, { seq: number, limit: number, json: string }>()
  const chains = new Map<string, Promise<void>>()
  let closed = false
  const isClosed = () => closed

  const dirtyTimer = setInterval(() => {
    for (const id of dirty) rebuild(id).catch(() => {})
  }, DIRTY_RETRY_MS)
  dirtyTimer.unref()

  async function transaction<T> (work: (tx: Db) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect()
      let broken = false
      try {
        await client.query('BEGIN')
        const result = await work(client)
        await client.query('COMMIT')
        return result
      } catch (err) {
        await client.query('ROLLBACK').catch(() => { broken = true })
        // Deadlocks can only come from unusual key reuse across users; the batch is safe to retry.
        if (attempt < 3 && RETRYABLE.has((err as { code?: string }).code ?? '')) continue
        throw err
      } finally {
        client.release(broken)
      }
    }
  }

  // Runs tasks for one key one after another (join and leave of the same user, for instance).
  function serial (key: string, task: () => Promise<void>): Promise<void> {
    const next = (chains.get(key) ?? Promise.resolve()).then(task, task)
    const settled = next.catch(() => {}).finally(() => { if (chains.get(key) === settled) chains.delete(key) })
    chains.set(key, settled)
    return next
  }

  function markDirty (competitionId: string, err: unknown): void {
    dirty.add(competitionId)
    log.warn({ err, competitionId }, 'leaderboard projection not updated; it will be rebuilt from Postgres')
  }

  function scheduleFlush (competitionId: string, delay = tickMs): void {
    if (closed || flushTimers.has(competitionId)) return
    const timer = setTimeout(() => {
      flushTimers.delete(competitionId)
      flushNow(competitionId)
    }, Math.max(1, delay))
    flushTimers.set(competitionId, timer)
  }

  // Frames what changed since the last frame. Another instance may have framed less than a tick
  // ago: then try again when its tick ends, so a burst costs at most one frame per tick.
  async function flushNow (competitionId: string): Promise<void> {
    try {
      const result = await projection.flush(competitionId)
      if (result < 0) scheduleFlush(competitionId, -result)
    } catch (err) {
      markDirty(competitionId, err)
    }
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
        const applied = await projection.apply(competitionId, rows)
        if (applied === -1) rebuild(competitionId).catch(() => {})
        else scheduleFlush(competitionId)
      } catch (err) {
        markDirty(competitionId, err)
      }
    }))
  }

  // The write path shared by the HTTP route and fitness sync: one Postgres transaction for the
  // batch (exactly once per (competition, idempotency key)), then the Redis projection.
  async function applyScores (changes: ScoreChange[], opts: { onlyMetric?: string } = {}): Promise<ScoreResult[]> {
    if (changes.length === 0) return []
    // Ids name Redis keys too, where case matters.
    const normalised = changes.map((c) => ({ ...c, competitionId: String(c.competitionId).toLowerCase(), userId: String(c.userId).toLowerCase() }))
    const { results, projected } = await transaction(async (tx) => await store.applyChanges(tx, normalised, opts))
    for (const r of results) metrics.scoreUpdates.inc({ result: r.applied ? 'applied' : r.reason ?? 'skipped' })
    await project(projected)
    return results
  }

  // One change with errors for the HTTP route; duplicates and no-ops are answered, not errors.
  // Direct updates are for competitions with a custom metric; the others score from fitness sync.
  async function updateScore (change: ScoreChange): Promise<ScoreResult> {
    const [result] = await applyScores([change], { onlyMetric: 'custom' })
    switch (result!.reason) {
      case 'wrong_metric': throw errors.Conflict('This competition scores from fitness sync; only custom-metric competitions accept direct score updates')
      case 'unknown_competition': throw errors.NotFound('Competition not found')
      case 'not_participant': throw errors.NotFound('The user is not a participant of this competition')
      case 'inactive': throw errors.Conflict('Scores can change only while the competition is active or in grace')
      case 'key_reused': throw errors.Conflict('This Idempotency-Key was already used for a different score update')
      case 'invalid': throw errors.Unprocessable('The resulting score must be a safe integer between 0 and 2^53 - 1')
      default: return result!
    }
  }

  async function rebuildOnce (competitionId: string): Promise<void> {
    const info = await store.getCompetition(pool, competitionId)
    if (!info) return
    await projection.beginRebuild(competitionId, info)
    let changed = false
    let after: string | null = null
    const seen = new Set<string>()
    for (;;) {
      const rows = await store.projectionChunk(pool, competitionId, after, REBUILD_CHUNK)
      if (rows.length === 0) break
      const loaded = await projection.load(competitionId, rows)
      if (loaded === -1) { rerun.add(competitionId); return }
      if (loaded > 0) changed = true
      for (const r of rows) seen.add(r.userId)
      after = rows.at(-1)!.userId
      if (rows.length < REBUILD_CHUNK) break
    }
    const candidates = (await projection.projectedUsers(competitionId)).filter((u) => !seen.has(u))
    const still = candidates.length > 0 ? await store.participantsIn(pool, competitionId, candidates) : new Set<string>()
    const finished = await projection.finishRebuild(competitionId, changed, candidates.filter((u) => !still.has(u)))
    if (finished === -1) { rerun.add(competitionId); return }
    dirty.delete(competitionId)
    metrics.rebuilds.inc({ outcome: finished > 0 ? 'changed' : 'unchanged' })
    log.info({ competitionId, changed: finished > 0 }, 'leaderboard projection rebuilt from Postgres')
  }

  // Makes the projection equal Postgres. Concurrent requests for one competition share a run,
  // and a request arriving during a run causes one more run after it.
  function rebuild (id: string): Promise<void> {
    const competitionId = id.toLowerCase()
    const running = rebuilding.get(competitionId)
    if (running) { rerun.add(competitionId); return running }
    const run = (async () => {
      try {
        do {
          rerun.delete(competitionId)
          await rebuildOnce(competitionId)
        } while (rerun.has(competitionId) && !isClosed())
      } catch (err) {
        metrics.rebuilds.inc({ outcome: 'failed' })
        dirty.add(competitionId)
        throw err
      } finally {
        rebuilding.delete(competitionId)
      }
    })()
    rebuilding.set(competitionId, run)
    return run
  }

  // Start-up, Redis reconnect and the admin route: every running competition, plus any whose
  // projection missed a change.
  async function rebuildAll (): Promise<string[]> {
    const ids = [...new Set([...await store.scoringCompetitions(pool), ...dirty])]
    for (const id of ids) await rebuild(id)
    return ids
  }

  function canView (info: { visibility: string, createdBy: string | null }, viewer: Viewer, participant: boolean): boolean {
    return info.visibility === 'public' || participant || viewer.isAdmin || info.createdBy === viewer.id
  }

  function cachePage (key: string, value: { version: string, json: string, nextCursor: string | null }): void {
    pageCache.delete(key)
    pageCache.set(key, value)
    if (pageCache.size > PAGE_CACHE_SIZE) pageCache.delete(pageCache.keys().next().value!)
  }

  function body (parts: { competitionId: string, total: number, degraded: boolean, entries: string, nextCursor: string | null, me: LeaderboardEntry | null, around: LeaderboardEntry[] | null }): string {
    return `{"competitionId":${JSON.stringify(parts.competitionId)},"total":${parts.total},"degraded":${parts.degraded},` +
      `"entries":${parts.entries},"nextCursor":${JSON.stringify(parts.nextCursor)},"me":${JSON.stringify(parts.me)},"around":${JSON.stringify(parts.around)}}`
  }

  // The leaderboard page as a JSON string (the page part is serialised once per version).
  async function getLeaderboard (id: string, viewer: Viewer, query: LeaderboardQuery): Promise<string> {
    const competitionId = id.toLowerCase()
    const after: Standing | null = query.cursor ? decodeRankCursor(query.cursor) : null
    const pageKey = `${competitionId}|${query.cursor ?? ''}|${query.limit}`
    const cached = pageCache.get(pageKey)
    let read = null
    let redisFailed = false
    try {
      read = await projection.read(competitionId, { cachedVersion: cached?.version ?? '', limit: query.limit, after, userId: viewer.id, k: query.around ? query.k : 0 })
    } catch (err) {
      redisFailed = true
      log.warn({ err, competitionId }, 'leaderboard read from Redis failed; serving from Postgres')
    }
    if (read) {
      if (!canView(read, viewer, read.participant)) throw errors.NotFound('Competition not found')
      let page = read.page === null ? cached! : null
      if (!page) {
        const entries = read.page!.entries
        const last = entries.at(-1)
        page = { version: read.version, json: JSON.stringify(entries.map(stripStanding)), nextCursor: read.page!.hasMore && last ? encodeRankCursor(last) : null }
        cachePage(pageKey, page)
      }
      metrics.reads.inc({ source: 'redis' })
      return body({ competitionId, total: read.total, degraded: false, entries: page.json, nextCursor: page.nextCursor, me: read.me, around: query.around ? read.around : null })
    }

    const info = await store.getCompetition(readPool, competitionId)
    if (!info) throw errors.NotFound('Competition not found')
    const participant = await store.isParticipant(readPool, competitionId, viewer.id)
    if (!canView(info, viewer, participant)) throw errors.NotFound('Competition not found')
    if (redisFailed) dirty.add(competitionId)
    else rebuild(competitionId).catch(() => {})
    const [page, total, mine] = await Promise.all([
      store.page(readPool, competitionId, after, query.limit),
      store.total(readPool, competitionId),
      participant ? store.around(readPool, competitionId, viewer.id, query.around ? query.k : 0) : null
    ])
    metrics.reads.inc({ source: 'postgres' })
    return body({
      competitionId,
      total,
      degraded: true,
      entries: JSON.stringify(page.entries.map(stripStanding)),
      nextCursor: page.nextCursor,
      me: mine?.me ?? null,
      around: query.around ? mine?.around ?? [] : null
    })
  }

  async function exists (competitionId: string): Promise<boolean> {
    return await store.getCompetition(pool, competitionId) !== null
  }

  // Whether a viewer may watch a competition (WebSocket admission): 'ok' or 'not_found'.
  async function access (competitionId: string, viewer: Viewer): Promise<'ok' | 'not_found'> {
    const info = await store.getCompetition(pool, competitionId)
    if (!info) return 'not_found'
    const participant = info.visibility === 'public' ? false : await store.isParticipant(pool, competitionId, viewer.id)
    return canView(info, viewer, participant) ? 'ok' : 'not_found'
  }

  function snapshotFrame (competitionId: string, snap: { seq: number, total: number, degraded: boolean, entries: string, me: LeaderboardEntry | null, around: LeaderboardEntry[] }): string {
    return `{"type":"snapshot","competitionId":${JSON.stringify(competitionId)},"seq":${snap.seq},"total":${snap.total},"degraded":${snap.degraded},` +
      `"entries":${snap.entries},"me":${JSON.stringify(snap.me)},"around":${JSON.stringify(snap.around)}}`
  }

  // A snapshot consistent with the frame stream (for the WebSocket feed).
  async function snapshot (competitionId: string, userId: string, limit: number, k: number): Promise<FeedSnapshot> {
    const snap = await projection.snapshot(competitionId, userId, limit, k)
    if (snap) {
      const cached = snapshotCache.get(competitionId)
      let entries = cached && cached.seq === snap.seq && cached.limit === limit ? cached.json : null
      if (entries === null) {
        entries = JSON.stringify(snap.entries)
        snapshotCache.set(competitionId, { seq: snap.seq, limit, json: entries })
      }
      return {
        frame: snapshotFrame(competitionId, { ...snap, degraded: false, entries }),
        seq: snap.seq,
        me: snap.me ? { rank: snap.me.rank, score: snap.me.score } : null
      }
    }
    // Not projected yet: answer from Postgres; the rebuild ends with a reset frame, after
    // which every client gets a snapshot from Redis.
    rebuild(competitionId).catch(() => {})
    const [page, total, mine, seq] = await Promise.all([
      store.page(readPool, competitionId, null, limit),
      store.total(readPool, competitionId),
      store.around(readPool, competitionId, userId, k),
      projection.currentSeq(competitionId).catch(() => 0)
    ])
    return {
      frame: snapshotFrame(competitionId, {
        seq,
        total,
        degraded: true,
        entries: JSON.stringify(page.entries.map(stripStanding)),
        me: mine?.me ?? null,
        around: mine?.around ?? []
      }),
      seq,
      me: mine ? { rank: mine.me.rank, score: mine.me.score } : null
    }
  }

  async function participantJoined (event: { competitionId: string, userId: string }): Promise<void> {
    const { competitionId, userId } = event
    await serial(`${competitionId}|${userId}`, async () => {
      const row = await store.projectionRow(pool, competitionId, userId)
      if (!row) return
      try {
        await projection.setProfile(competitionId, userId, row)
        const applied = await projection.apply(competitionId, [{ ...row }], true)
        if (applied === -1) rebuild(competitionId).catch(() => {})
        else scheduleFlush(competitionId)
      } catch (err) {
        markDirty(competitionId, err)
      }
    })
  }

  async function participantLeft (event: { competitionId: string, userId: string }): Promise<void> {
    const { competitionId, userId } = event
    await serial(`${competitionId}|${userId}`, async () => {
      try {
        const removed = await projection.remove(competitionId, userId)
        if (removed === -1) rebuild(competitionId).catch(() => {})
        else scheduleFlush(competitionId)
      } catch (err) {
        markDirty(competitionId, err)
      }
    })
  }

  async function competitionStatus (event: { competitionId: string, to: string }): Promise<void> {
    // A competition starting to score gets its projection (and frame stream) ready.
    if (event.to === 'active' || event.to === 'grace') await rebuild(event.competitionId)
  }

  function close (): void {
    closed = true
    clearInterval(dirtyTimer)
    for (const timer of flushTimers.values()) clearTimeout(timer)
    flushTimers.clear()
  }

  // What the WebSocket broadcaster reads.
  const feed = {
    channel: projection.channel,
    snapshot,
    resume: projection.resume,
    framesSince: projection.framesSince,
    flush: flushNow
  }

  return {
    applyScores,
    updateScore,
    getLeaderboard,
    exists,
    access,
    rebuild,
    rebuildAll,
    participantJoined,
    participantLeft,
    competitionStatus,
    isDirty: () => dirty.size > 0,
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
