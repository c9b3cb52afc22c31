import type pg from 'pg'
import type { Redis } from 'ioredis'
import type { LeaderboardProjection } from './projection.ts'
import type { LeaderboardStore, ProjectionRow } from './store.ts'
import type { LoadResult } from './replies.ts'
import { isScoring } from './score-batch.ts'
import { AscendingUuidSet } from './uuid-set.ts'
import type { ReconcileParticipant } from './reconcile.ts'

// Rebuilds make a competition's Redis projection equal Postgres: at start-up, when Redis
// comes back, on demand, and for competitions whose projection missed a change.

export interface Logger {
  info: (obj: object, msg?: string) => void
  warn: (obj: object, msg?: string) => void
  error: (obj: object, msg?: string) => void
}

export interface CounterLike { inc: (labels: Record<string, string>, value?: number) => void }

export interface RebuilderDeps {
  pool: Pick<pg.Pool, 'query'>
  store: LeaderboardStore
  projection: LeaderboardProjection
  log: Logger
  rebuilds: CounterLike
  // Walks the projection's members in HSCAN pages; without it (unit tests) they are read at once.
  redis?: Pick<Redis, 'hscan'>
  // Brings one participant's entry in line with Postgres (reconcile.ts).
  reconcileParticipant: ReconcileParticipant
}

const CHUNK = 1000
// Loads sent to Redis before the oldest has answered.
const LOADS_IN_FLIGHT = 2
const DIRTY_RETRY_MS = 2000

export function createLeaderboardRebuilder (deps: RebuilderDeps) {
  const { pool, store, projection, log, rebuilds, redis, reconcileParticipant } = deps
  const running = new Map<string, Promise<void>>()
  const rerun = new Set<string>()
  // Competitions whose projection missed a change (Redis failed): retried until Redis answers.
  const dirty = new Set<string>()
  let closed = false
  const isClosed = () => closed

  const dirtyTimer = setInterval(() => {
    for (const id of dirty) rebuild(id).catch(() => {})
  }, DIRTY_RETRY_MS)
  dirtyTimer.unref()

  function markDirty (competitionId: string, err?: unknown): void {
    dirty.add(competitionId)
    if (err !== undefined) log.warn({ err, competitionId }, 'leaderboard projection not updated; it will be rebuilt from Postgres')
  }

  // The user ids the projection holds as participants, a page at a time.
  async function * projectedUserPages (competitionId: string): AsyncGenerator<string[]> {
    if (!redis) {
      const all = await projection.projectedUsers(competitionId)
      for (let i = 0; i < all.length; i += CHUNK) yield all.slice(i, i + CHUNK)
      return
    }
    const { members } = projection.keys(competitionId)
    let cursor = '0'
    do {
      const [next, flat] = await redis.hscan(members, cursor, 'COUNT', CHUNK)
      cursor = next
      const users: string[] = []
      // Users who left are kept as the tombstone "x".
      for (let i = 0; i < flat.length; i += 2) if (flat[i + 1] !== 'x') users.push(flat[i]!)
      if (users.length > 0) yield users
    } while (cursor !== '0')
  }

  // Of these users, those Postgres no longer holds as participants.
  async function goneFromPostgres (competitionId: string, users: string[]): Promise<string[]> {
    if (users.length === 0) return []
    const still = await store.participantsIn(pool, competitionId, users)
    return users.filter((u) => !still.has(u))
  }

  // Projected users no longer participating in Postgres (they left while Redis missed it):
  // those the load did not see are checked against Postgres, page by page, so a large
  // competition is never held in memory whole.
  async function staleUsers (competitionId: string, seen: AscendingUuidSet): Promise<string[]> {
    const stale = new Set<string>()
    for await (const users of projectedUserPages(competitionId)) {
      for (const u of await goneFromPostgres(competitionId, users.filter((id) => !seen.has(id)))) stale.add(u)
    }
    return [...stale]
  }

  // Chunks of Postgres's participants in user id order, the next read while the current one
  // is being loaded.
  async function * chunks (competitionId: string): AsyncGenerator<ProjectionRow[]> {
    let rows = await store.projectionChunk(pool, competitionId, null, CHUNK)
    while (rows.length > 0) {
      const next = rows.length < CHUNK ? Promise.resolve([]) : store.projectionChunk(pool, competitionId, rows.at(-1)!.userId, CHUNK)
      // Left unread when a load fails or the projection vanished; its own failure is then moot.
      next.catch(() => {})
      yield rows
      rows = await next
    }
  }

  // Loads Postgres in chunks with versions (newer changes made meanwhile win), drops users who
  // left, then marks the projection ready; a reset frame goes out when anything differed.
  // Chunks are independent (each member's newer version wins), so while Redis runs one load
  // the next is already sent and the one after read from Postgres: Redis, Postgres and the
  // service each work on a chunk of their own instead of waiting for each other.
  async function rebuildOnce (competitionId: string): Promise<void> {
    const info = await store.getCompetition(pool, competitionId)
    if (!info) return
    const begun = await projection.beginRebuild(competitionId, info)
    let changed = false
    // A projection that began empty holds only members written since: the load's, and the live
    // path's for participants (whose leaving removes them again). None can be stale, so neither
    // the ids loaded are kept nor is every member walked afterwards (a thousand HSCAN pages at a
    // million participants). Otherwise the ids loaded, in user id order, are kept packed
    // (uuid-set.ts) for that walk.
    const seen = begun.members === 0 ? null : new AscendingUuidSet()
    // Loaded over a tombstone: maybe gone from Postgres since their chunk was read.
    const revived: string[] = []
    const inFlight: Array<{ rows: ProjectionRow[], loaded: Promise<LoadResult> }> = []
    // Takes the oldest load's answer; false when the projection vanished (Redis flushed).
    const settleOldest = async (): Promise<boolean> => {
      const { rows, loaded } = inFlight.shift()!
      const result = await loaded
      if (result.projectionMissing) return false
      if (result.changed > 0) changed = true
      revived.push(...result.revived)
      if (seen !== null) for (const r of rows) seen.add(r.userId)
      return true
    }
    for await (const rows of chunks(competitionId)) {
      const loaded = projection.load(competitionId, rows)
      // Awaited in turn below; a failure meanwhile must not go unhandled.
      loaded.catch(() => {})
      inFlight.push({ rows, loaded })
      if (inFlight.length >= LOADS_IN_FLIGHT && !await settleOldest()) { rerun.add(competitionId); return }
    }
    while (inFlight.length > 0) if (!await settleOldest()) { rerun.add(competitionId); return }
    const stale = seen === null ? [] : await staleUsers(competitionId, seen)
    // Users the load wrote over a tombstone who are gone: they left after their chunk was
    // read, and the load undid their leaving.
    stale.push(...await goneFromPostgres(competitionId, revived))
    const finished = await projection.finishRebuild(competitionId, changed, stale)
    if (finished.projectionMissing) { rerun.add(competitionId); return }
    // One found gone may have joined again since the check, and the finish then tombstoned
    // their new entry: those Postgres holds now are brought back as it says. A join after this
    // look is told to the projection after it commits, over the tombstone.
    if (stale.length > 0) {
      for (const userId of await store.participantsIn(pool, competitionId, stale)) await reconcileParticipant({ competitionId, userId })
    }
    if (!isScoring(info.status)) await projection.retire(competitionId)
    dirty.delete(competitionId)
    const reset = finished.resetSeq !== null
    rebuilds.inc({ outcome: reset ? 'changed' : 'unchanged' })
    log.info({ competitionId, changed: reset }, 'leaderboard projection rebuilt from Postgres')
  }

  // Concurrent requests for one competition share a run, and a request arriving during a run
  // causes one more run after it.
  function rebuild (id: string): Promise<void> {
    const competitionId = id.toLowerCase()
    const current = running.get(competitionId)
    if (current) { rerun.add(competitionId); return current }
    const run = (async () => {
      try {
        do {
          rerun.delete(competitionId)
          await rebuildOnce(competitionId)
        } while (rerun.has(competitionId) && !isClosed())
      } catch (err) {
        rebuilds.inc({ outcome: 'failed' })
        dirty.add(competitionId)
        throw err
      } finally {
        running.delete(competitionId)
      }
    })()
    running.set(competitionId, run)
    return run
  }

  // Every running competition, plus any whose projection missed a change.
  async function rebuildAll (): Promise<string[]> {
    const ids = [...new Set([...await store.scoringCompetitions(pool), ...dirty])]
    for (const id of ids) await rebuild(id)
    return ids
  }

  function close (): void {
    closed = true
    clearInterval(dirtyTimer)
  }

  return { rebuild, rebuildAll, markDirty, isDirty: () => dirty.size > 0, close }
}

export type LeaderboardRebuilder = ReturnType<typeof createLeaderboardRebuilder>
