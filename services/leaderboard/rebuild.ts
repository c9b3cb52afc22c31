import type pg from 'pg'
import type { Redis } from 'ioredis'
import type { LeaderboardProjection } from './projection.ts'
import type { LeaderboardStore, ProjectionRow } from './store.ts'
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

  // Loads Postgres in chunks with versions (newer changes made meanwhile win), drops users who
  // left, then marks the projection ready; a reset frame goes out when anything differed.
  // The next chunk is read from Postgres while Redis loads the current one: chunks are
  // independent (each member's newer version wins), so the two need not wait for each other.
  async function rebuildOnce (competitionId: string): Promise<void> {
    const info = await store.getCompetition(pool, competitionId)
    if (!info) return
    const begun = await projection.beginRebuild(competitionId, info)
    let changed = false
    // Chunks come in user id order: the ids loaded are remembered packed (uuid-set.ts).
    const seen = new AscendingUuidSet()
    // Loaded over a tombstone: maybe gone from Postgres since their chunk was read.
    const revived: string[] = []
    const nextChunk = async (rows: ProjectionRow[]): Promise<ProjectionRow[]> =>
      rows.length < CHUNK ? [] : await store.projectionChunk(pool, competitionId, rows.at(-1)!.userId, CHUNK)
    let rows = await store.projectionChunk(pool, competitionId, null, CHUNK)
    while (rows.length > 0) {
      const next = nextChunk(rows)
      // Left unread when the load fails or the projection vanished; its own failure is then moot.
      next.catch(() => {})
      const loaded = await projection.load(competitionId, rows)
      // The projection vanished meanwhile (Redis flushed): start again.
      if (loaded.projectionMissing) { rerun.add(competitionId); return }
      if (loaded.changed > 0) changed = true
      revived.push(...loaded.revived)
      for (const r of rows) seen.add(r.userId)
      rows = await next
    }
    // A projection that began empty holds only members written since: the load's, and the live
    // path's for participants (whose leaving removes them again). None can be stale, so the
    // walk over every member (a thousand HSCAN pages at a million participants) is skipped.
    const stale = begun.members === 0 ? [] : await staleUsers(competitionId, seen)
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
