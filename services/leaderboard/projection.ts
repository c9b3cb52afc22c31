import type { Redis } from 'ioredis'
import { leaderboardChangesChannel, leaderboardChannel, leaderboardKeys, type LeaderboardKeys } from '../../lib/redis-keys.ts'
import { assignRanks, memberOf, microsToIso, padMicros, parseMember, scoreOfZset, type RankCursor, type ScoreOrder, type Standing } from './ranking.ts'
import type { LeaderboardEntry, ProjectionRow, Profile } from './store.ts'
import type { ProjectedScore } from './score-batch.ts'
import type { Script } from './scripts/lua.ts'
import { applyScript, profileScript, removeScript } from './scripts/writes.ts'
import { beginScript, finishScript, loadScript, retireScript } from './scripts/rebuild.ts'
import { readScript, resumeScript, snapshotScript } from './scripts/reads.ts'
import { flushScript } from './scripts/tick.ts'
import {
  decodeFinish, decodeFlush, decodeLoad, decodeProfile, decodeRead, decodeResume, decodeSnapshot, decodeWrite,
  type AroundReply, type FinishResult, type FlushResult, type LoadResult, type RangeReply, type Reply, type ResumeReply, type WriteResult
} from './replies.ts'

// The Redis projection of the leaderboards: sorted sets and caches mirrored from Postgres,
// the frame stream (sequence numbers, replay buffer, pub/sub) built from it. See
// scripts/lua.ts for the keys and their invariants, replies.ts for what the scripts answer.

type RedisLike = Pick<Redis, 'evalsha' | 'eval' | 'zrangebyscore' | 'hgetall' | 'hset' | 'get' | 'publish'>

export interface ProjectionOptions {
  redis: RedisLike
  prefix: string
  tickMs: number
  replayFrames: number
  now?: () => number
  // Told at once when this instance changes a projection (before other instances hear of it).
  onChange?: (competitionId: string) => void
  // How long the projection of a competition that no longer scores is kept (0: for ever).
  finishedTtlSeconds?: number
}

export interface ProjectionRead {
  version: string
  visibility: string
  createdBy: string | null
  total: number
  participant: boolean
  // Null when the caller's cached page for `version` is still current.
  // hasNext: entries come after its last (whether any come before, its first's position says).
  page: { entries: Array<LeaderboardEntry & Standing>, hasNext: boolean } | null
  me: LeaderboardEntry | null
  around: LeaderboardEntry[]
}

export interface ProjectionSnapshot {
  seq: number
  scoreOrder: ScoreOrder
  total: number
  entries: LeaderboardEntry[]
  me: LeaderboardEntry | null
  around: LeaderboardEntry[]
}

export type ProjectionResume = ResumeReply

type ProjectedRecord = Pick<ProjectedScore, 'userId' | 'version' | 'reachedMicros'> & { score: number | null }

export function profileFields (profile: Profile): string {
  return JSON.stringify({ displayName: profile.displayName, avatarUrl: profile.avatarUrl }).slice(1, -1)
}

function parseProfile (fields: string): Profile {
  try {
    const parsed = JSON.parse(`{${fields}}`) as Profile
    return { displayName: parsed.displayName ?? null, avatarUrl: parsed.avatarUrl ?? null }
  } catch {
    return { displayName: null, avatarUrl: null }
  }
}

// A range from a script into ranked entries.
function toEntries ({ flat, firstRank }: RangeReply, firstPosition: number): Array<LeaderboardEntry & Standing> {
  const rows: Array<Omit<LeaderboardEntry, 'rank' | 'position'> & Standing> = []
  for (let i = 0; i < flat.length; i += 3) {
    const { reachedMicros, userId } = parseMember(String(flat[i]))
    rows.push({
      userId,
      ...parseProfile(String(flat[i + 2])),
      score: scoreOfZset(String(flat[i + 1])),
      reachedAt: microsToIso(reachedMicros),
      reachedMicros
    })
  }
  return assignRanks(rows, firstPosition, firstRank)
}

// A user's neighbourhood as entries, and the user's own entry among them.
function aroundEntries (reply: AroundReply | null): { me: LeaderboardEntry | null, around: LeaderboardEntry[] } {
  if (!reply) return { me: null, around: [] }
  const around = toEntries(reply.range, reply.start + 1)
  const me = around.find((e) => e.position === reply.position + 1)
  return { me: me ? publicEntry(me) : null, around: around.map(publicEntry) }
}

function publicEntry (entry: LeaderboardEntry & Partial<Standing>): LeaderboardEntry {
  const { rank, position, userId, displayName, avatarUrl, score, reachedAt } = entry
  return { rank, position, userId, displayName, avatarUrl, score, reachedAt }
}

export function createLeaderboardProjection (opts: ProjectionOptions) {
  const { redis, prefix, tickMs, replayFrames } = opts
  const now = opts.now ?? Date.now

  function keys (competitionId: string): LeaderboardKeys {
    return leaderboardKeys(prefix, competitionId)
  }

  function channel (competitionId: string): string {
    return leaderboardChannel(prefix, competitionId)
  }

  // One channel for all competitions: a message (the competition id) says its projection
  // changed, so instances drop what they remember of it (freshness.ts).
  const changesChannel = leaderboardChangesChannel(prefix)
  function announce (competitionId: string, changed: boolean): void {
    if (!changed) return
    opts.onChange?.(competitionId)
    redis.publish(changesChannel, competitionId).catch(() => {})
  }

  async function run (script: Script, competitionId: string, args: Array<string | number>): Promise<Reply> {
    const keyList = script.keys(keys(competitionId))
    try {
      return await redis.evalsha(script.sha, keyList.length, ...keyList, ...args) as Reply
    } catch (err) {
      if (!(err as Error).message?.startsWith('NOSCRIPT')) throw err
      return await redis.eval(script.lua, keyList.length, ...keyList, ...args) as Reply
    }
  }

  // A write that found no projection is announced too: readers must not keep serving it.
  function announceWrite<T extends WriteResult> (competitionId: string, result: T): T {
    announce(competitionId, result.projectionMissing || result.changed !== 0)
    return result
  }

  function flushArgs (competitionId: string): Array<string | number> {
    return [tickMs, channel(competitionId), replayFrames, now(), competitionId]
  }

  // A score of null (no score yet where the lowest wins) keeps the participant off the board.
  // Pushed onto the script's arguments in place: a rebuild adds six per participant, and
  // an array per row was much of its garbage.
  function pushRecord (args: string[], row: ProjectedRecord): void {
    args.push(row.userId, row.version, row.score === null ? '' : String(row.score), padMicros(row.reachedMicros), microsToIso(row.reachedMicros))
  }

  // Mirrors committed changes (projectionMissing: a rebuild is needed). `force` also
  // overrides a left participant (a re-join) and equal versions.
  async function apply (competitionId: string, rows: ProjectedRecord[], force = false): Promise<WriteResult> {
    const args = [force ? '1' : '0']
    for (const row of rows) pushRecord(args, row)
    return announceWrite(competitionId, decodeWrite(await run(applyScript, competitionId, args)))
  }

  async function remove (competitionId: string, userId: string): Promise<WriteResult> {
    return announceWrite(competitionId, decodeWrite(await run(removeScript, competitionId, [userId])))
  }

  async function setProfile (competitionId: string, userId: string, profile: Profile): Promise<void> {
    announce(competitionId, decodeProfile(await run(profileScript, competitionId, [userId, profileFields(profile)])).updated)
  }

  // The number of members (tombstones included) the projection held as the rebuild began.
  async function beginRebuild (competitionId: string, info: { visibility: string, createdBy: string | null, scoreOrder: ScoreOrder }): Promise<{ members: number }> {
    const members = Number(await run(beginScript, competitionId, [info.visibility, info.createdBy ?? '', now(), info.scoreOrder]))
    // Visibility and creator may have changed without a version change.
    announce(competitionId, true)
    return { members }
  }

  async function load (competitionId: string, rows: ProjectionRow[]): Promise<LoadResult> {
    const args: string[] = []
    for (const row of rows) {
      pushRecord(args, row)
      args.push(profileFields(row))
    }
    return announceWrite(competitionId, decodeLoad(await run(loadScript, competitionId, args)))
  }

  // User ids the projection holds as participants (for removing those who left meanwhile).
  async function projectedUsers (competitionId: string): Promise<string[]> {
    const all = await redis.hgetall(keys(competitionId).members)
    return Object.entries(all).filter(([, rec]) => rec !== 'x').map(([userId]) => userId)
  }

  async function finishRebuild (competitionId: string, changed: boolean, stale: string[]): Promise<FinishResult> {
    const result = decodeFinish(await run(finishScript, competitionId,
      [changed ? '1' : '0', replayFrames, now(), competitionId, channel(competitionId), ...stale]))
    announce(competitionId, result.projectionMissing || result.resetSeq !== null)
    return result
  }

  // A competition that no longer scores (final, paid, cancelled): its projection keeps serving
  // reads for finishedTtlSeconds, then expires. The tick key keeps its own short life.
  async function retire (competitionId: string): Promise<void> {
    const ttl = opts.finishedTtlSeconds ?? 0
    if (ttl <= 0) return
    await run(retireScript, competitionId, [ttl])
  }

  // The tick's Redis half (scripts/tick.ts); the feed ticker (services/live/ticker.ts) decides when.
  async function flush (competitionId: string, force = false): Promise<FlushResult> {
    return decodeFlush(await run(flushScript, competitionId, [force ? '1' : '0', ...flushArgs(competitionId)]))
  }

  async function read (competitionId: string, params: { cachedVersion: string, limit: number, cursor: RankCursor | null, userId: string, k: number }): Promise<ProjectionRead | null> {
    const at = params.cursor?.standing
    const backward = params.cursor?.direction === 'prev'
    const reply = decodeRead(await run(readScript, competitionId, [
      params.cachedVersion, params.limit,
      at ? String(at.score) : '', at ? memberOf(at.reachedMicros, at.userId) : '',
      params.userId, params.k, backward ? '1' : '0'
    ]))
    if (!reply) return null
    let page: ProjectionRead['page'] = null
    if (reply.page) {
      const entries = toEntries(reply.page, reply.page.start + 1)
      const shown = entries.slice(0, params.limit)
      const hasNext = backward ? reply.page.start + shown.length < reply.total : entries.length > params.limit
      page = { entries: shown, hasNext }
    }
    const { version, visibility, createdBy, total, participant } = reply
    return { version, visibility, createdBy, total, participant, page, ...aroundEntries(reply.me) }
  }

  async function snapshot (competitionId: string, userId: string, limit: number, k: number): Promise<ProjectionSnapshot | null> {
    const reply = decodeSnapshot(await run(snapshotScript, competitionId, [...flushArgs(competitionId), userId, limit, k]))
    if (!reply) return null
    return { seq: reply.seq, scoreOrder: reply.scoreOrder, total: reply.total, entries: toEntries(reply.top, 1).map(publicEntry), ...aroundEntries(reply.me) }
  }

  async function resume (competitionId: string, userId: string, fromSeq: number): Promise<ProjectionResume | null> {
    return decodeResume(await run(resumeScript, competitionId, [...flushArgs(competitionId), userId, fromSeq]))
  }

  // Buffered frames after `seq`, in order; null when some of them are no longer held.
  async function framesSince (competitionId: string, seq: number): Promise<string[] | null> {
    const rows = await redis.zrangebyscore(keys(competitionId).frames, `(${seq}`, '+inf', 'WITHSCORES')
    const frames: string[] = []
    for (let i = 0; i < rows.length; i += 2) {
      if (Number(rows[i + 1]) !== seq + 1 + frames.length) return null
      frames.push(rows[i]!)
    }
    return frames
  }

  async function currentSeq (competitionId: string): Promise<number> {
    return Number(await redis.get(keys(competitionId).seq) ?? 0)
  }

  // Test and operator helper: the projection's scores by user.
  async function scores (competitionId: string): Promise<Map<string, number>> {
    const all = await redis.hgetall(keys(competitionId).members)
    const out = new Map<string, number>()
    for (const [userId, rec] of Object.entries(all)) {
      if (rec !== 'x') out.set(userId, Number(rec.split('|')[1]))
    }
    return out
  }

  return { keys, channel, changesChannel, apply, remove, setProfile, beginRebuild, load, projectedUsers, finishRebuild, retire, flush, read, snapshot, resume, framesSince, currentSeq, scores }
}

export type LeaderboardProjection = ReturnType<typeof createLeaderboardProjection>
