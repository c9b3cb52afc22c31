import type pg from 'pg'
import { errors } from '../../lib/errors.ts'
import { setRecent } from '../../lib/recent-map.ts'
import { decodeRankCursor, rankPageCursors } from './ranking.ts'
import { stripStanding, type LeaderboardEntry, type LeaderboardStore } from './store.ts'
import type { LeaderboardProjection } from './projection.ts'
import type { Freshness } from '../shared/freshness.ts'
import type { CounterLike, LeaderboardRebuilder, Logger } from './rebuild.ts'
import { seenWithoutMembership, type Viewer } from '../shared/competition-access.ts'
import type { FeedSnapshot } from '../live/feed-state.ts'

// Reads: HTTP pages and WebSocket snapshots from the Redis projection, falling back to
// Postgres (marked degraded) when Redis fails or the projection is not ready.

export type { Viewer }

export interface LeaderboardQuery {
  cursor?: string
  limit: number
  around: boolean
  k: number
}

// What the live feed takes from a snapshot (services/live/feed-state.ts).
export type { FeedSnapshot }

export interface ReadsDeps {
  pool: Pick<pg.Pool, 'query'>
  // Degraded reads tolerate replication lag: a read replica when configured.
  readPool: Pick<pg.Pool, 'query'>
  store: LeaderboardStore
  projection: LeaderboardProjection
  rebuilder: LeaderboardRebuilder
  log: Logger
  reads: CounterLike
  // Lets reads of an unchanged projection be answered from memory; without it every read asks Redis.
  // Values are the stamp of what was read (see CachedViewer).
  freshness?: Freshness<string>
}

interface CachedPage { version: string, json: string, nextCursor: string | null, prevCursor: string | null }

// A page as JSON text, with the projection version it was read from (null when it came from
// Postgres while the projection is rebuilt): the version is the page's ETag.
export interface LeaderboardRead { json: string, version: string | null }

// What a read learnt about one viewer in one version of a competition's projection.
interface CachedViewer {
  // The projection version plus its visibility and creator (which change without a new version).
  stamp: string
  version: string
  visible: boolean
  total: number
  me: string
  around: string
}

const PAGE_CACHE_SIZE = 500
const VIEWER_CACHE_SIZE = 20_000

function canView (info: { visibility: string, createdBy: string | null }, viewer: Viewer, participant: boolean): boolean {
  return participant || seenWithoutMembership(info, viewer)
}

// The response with its parts already serialised (me and around as JSON text).
function body (parts: { competitionId: string, total: number, degraded: boolean, entries: string, nextCursor: string | null, prevCursor: string | null, me: string, around: string }): string {
  return `{"competitionId":${JSON.stringify(parts.competitionId)},"total":${parts.total},"degraded":${parts.degraded},` +
    `"entries":${parts.entries},"nextCursor":${JSON.stringify(parts.nextCursor)},"prevCursor":${JSON.stringify(parts.prevCursor)},` +
    `"me":${parts.me},"around":${parts.around}}`
}

function snapshotFrame (competitionId: string, snap: { seq: number, total: number, degraded: boolean, entries: string, me: LeaderboardEntry | null, around: LeaderboardEntry[] }): string {
  return `{"type":"snapshot","competitionId":${JSON.stringify(competitionId)},"seq":${snap.seq},"total":${snap.total},"degraded":${snap.degraded},` +
    `"entries":${snap.entries},"me":${JSON.stringify(snap.me)},"around":${JSON.stringify(snap.around)}}`
}

export function createLeaderboardReads (deps: ReadsDeps) {
  const { pool, readPool, store, projection, rebuilder, log, reads, freshness } = deps
  // Serialised pages and viewers' entries, reused while the projection version is unchanged.
  const pageCache = new Map<string, CachedPage>()
  const viewerCache = new Map<string, CachedViewer>()
  const snapshotCache = new Map<string, { seq: number, limit: number, json: string }>()

  // The whole answer from memory when this version is known current and was read before.
  function fromMemory (competitionId: string, pageKey: string, viewerKey: string): LeaderboardRead | null {
    const stamp = freshness?.current(competitionId)
    if (!stamp) return null
    const seen = viewerCache.get(viewerKey)
    if (seen?.stamp !== stamp) return null
    const page = pageCache.get(pageKey)
    if (page?.version !== seen.version) return null
    if (!seen.visible) throw errors.NotFound('Competition not found')
    reads.inc({ source: 'memory' })
    return { json: body({ competitionId, total: seen.total, degraded: false, entries: page.json, nextCursor: page.nextCursor, prevCursor: page.prevCursor, me: seen.me, around: seen.around }), version: seen.version }
  }

  // The leaderboard page as a JSON string (the page part is serialised once per version).
  async function getLeaderboard (id: string, viewer: Viewer, query: LeaderboardQuery): Promise<LeaderboardRead> {
    const competitionId = id.toLowerCase()
    const cursor = query.cursor ? decodeRankCursor(query.cursor) : null
    const pageKey = `${competitionId}|${query.cursor ?? ''}|${query.limit}`
    const viewerKey = `${competitionId}|${viewer.id}|${viewer.isAdmin ? 'a' : ''}|${query.around ? query.k : -1}`
    const remembered = fromMemory(competitionId, pageKey, viewerKey)
    if (remembered !== null) return remembered

    const cached = pageCache.get(pageKey)
    const ticket = freshness?.ticket(competitionId) ?? 0
    let read = null
    let redisFailed = false
    try {
      read = await projection.read(competitionId, { cachedVersion: cached?.version ?? '', limit: query.limit, cursor, userId: viewer.id, k: query.around ? query.k : 0 })
    } catch (err) {
      redisFailed = true
      log.warn({ err, competitionId }, 'leaderboard read from Redis failed; serving from Postgres')
    }
    if (read) {
      const visible = canView(read, viewer, read.participant)
      const seen: CachedViewer = {
        stamp: `${read.version}|${read.visibility}|${read.createdBy ?? ''}`,
        version: read.version,
        visible,
        total: read.total,
        me: JSON.stringify(read.me),
        around: query.around ? JSON.stringify(read.around) : 'null'
      }
      setRecent(viewerCache, viewerKey, seen, VIEWER_CACHE_SIZE)
      freshness?.confirm(competitionId, seen.stamp, ticket)
      if (!visible) throw errors.NotFound('Competition not found')
      let page = read.page === null ? cached! : null
      if (!page) {
        const { entries, hasNext } = read.page!
        page = { version: read.version, json: JSON.stringify(entries.map(stripStanding)), ...rankPageCursors(entries, hasNext) }
        setRecent(pageCache, pageKey, page, PAGE_CACHE_SIZE)
      }
      reads.inc({ source: 'redis' })
      return { json: body({ competitionId, total: read.total, degraded: false, entries: page.json, nextCursor: page.nextCursor, prevCursor: page.prevCursor, me: seen.me, around: seen.around }), version: read.version }
    }

    const info = await store.getCompetition(readPool, competitionId)
    if (!info) throw errors.NotFound('Competition not found')
    const participant = await store.isParticipant(readPool, competitionId, viewer.id)
    if (!canView(info, viewer, participant)) throw errors.NotFound('Competition not found')
    // Redis answered without a ready projection: build it. Redis failed: retry when it answers.
    if (redisFailed) rebuilder.markDirty(competitionId)
    else rebuilder.rebuild(competitionId).catch(() => {})
    const [page, total, mine] = await Promise.all([
      store.page(readPool, competitionId, cursor, query.limit),
      store.total(readPool, competitionId),
      participant ? store.around(readPool, competitionId, viewer.id, query.around ? query.k : 0) : null
    ])
    reads.inc({ source: 'postgres' })
    const json = body({
      competitionId,
      total,
      degraded: true,
      entries: JSON.stringify(page.entries.map(stripStanding)),
      nextCursor: page.nextCursor,
      prevCursor: page.prevCursor,
      me: JSON.stringify(mine?.me ?? null),
      around: query.around ? JSON.stringify(mine?.around ?? []) : 'null'
    })
    return { json, version: null }
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
        scoreOrder: snap.scoreOrder,
        me: snap.me ? { rank: snap.me.rank, score: snap.me.score } : null
      }
    }
    // Not projected yet: answer from Postgres; the rebuild ends with a reset frame, after
    // which every client gets a snapshot from Redis.
    rebuilder.rebuild(competitionId).catch(() => {})
    const [page, total, mine, seq, info] = await Promise.all([
      store.page(readPool, competitionId, null, limit),
      store.total(readPool, competitionId),
      store.around(readPool, competitionId, userId, k),
      projection.currentSeq(competitionId).catch(() => 0),
      store.getCompetition(readPool, competitionId)
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
      scoreOrder: info?.scoreOrder ?? 'highest_wins',
      me: mine ? { rank: mine.me.rank, score: mine.me.score } : null
    }
  }

  return { getLeaderboard, exists, access, snapshot }
}
