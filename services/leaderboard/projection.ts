import type { Redis } from 'ioredis'
import { competitionKey } from '../../lib/redis-keys.ts'
import { assignRanks, memberOf, microsToIso, padMicros, parseMember, zsetScore, type Standing } from './ranking.ts'
import type { LeaderboardEntry, ProjectedScore, ProjectionRow, Profile } from './store.ts'
import * as scripts from './scripts.ts'

// The Redis projection of the leaderboards: sorted sets and caches mirrored from Postgres,
// the frame stream (sequence numbers, replay buffer, pub/sub) built from it. See
// leaderboard-scripts.ts for the keys and their invariants.

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
  page: { entries: Array<LeaderboardEntry & Standing>, hasMore: boolean } | null
  me: LeaderboardEntry | null
  around: LeaderboardEntry[]
}

export interface ProjectionSnapshot {
  seq: number
  total: number
  entries: LeaderboardEntry[]
  me: LeaderboardEntry | null
  around: LeaderboardEntry[]
}

export interface ProjectionResume {
  seq: number
  // The frames after the requested seq, or null when the buffer no longer holds all of them.
  frames: string[] | null
  me: { rank: number, score: number } | null
}

type Reply = string | number | null | Reply[]

const SUFFIXES = ['meta', 'scores', 'members', 'names', 'pending', 'framed', 'seq', 'frames', 'tick'] as const

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

// Flat [member, zscore, nameFields, ...] from a script into ranked entries.
function toEntries (flat: Reply[], firstPosition: number, firstRank: number): Array<LeaderboardEntry & Standing> {
  const rows: Array<Omit<LeaderboardEntry, 'rank' | 'position'> & Standing> = []
  for (let i = 0; i < flat.length; i += 3) {
    const { reachedMicros, userId } = parseMember(String(flat[i]))
    rows.push({
      userId,
      ...parseProfile(String(flat[i + 2])),
      score: -Number(flat[i + 1]) || 0,
      reachedAt: microsToIso(reachedMicros),
      reachedMicros
    })
  }
  return assignRanks(rows, firstPosition, firstRank)
}

function publicEntry (entry: LeaderboardEntry & Partial<Standing>): LeaderboardEntry {
  const { rank, position, userId, displayName, avatarUrl, score, reachedAt } = entry
  return { rank, position, userId, displayName, avatarUrl, score, reachedAt }
}

export function createLeaderboardProjection (opts: ProjectionOptions) {
  const { redis, prefix, tickMs, replayFrames } = opts
  const now = opts.now ?? Date.now

  function keys (competitionId: string): string[] {
    return SUFFIXES.map((s) => competitionKey(prefix, competitionId, `lb:${s}`))
  }

  function channel (competitionId: string): string {
    return competitionKey(prefix, competitionId, 'lb:feed')
  }

  // One channel for all competitions: a message (the competition id) says its projection
  // changed, so instances drop what they remember of it (freshness.ts).
  const changesChannel = `${prefix}lb:changes`
  function announce (competitionId: string, result: number): number {
    if (result !== 0) {
      opts.onChange?.(competitionId)
      redis.publish(changesChannel, competitionId).catch(() => {})
    }
    return result
  }

  async function run (script: scripts.Script, keyList: string[], args: Array<string | number>): Promise<Reply> {
    try {
      return await redis.evalsha(script.sha, keyList.length, ...keyList, ...args) as Reply
    } catch (err) {
      if (!(err as Error).message?.startsWith('NOSCRIPT')) throw err
      return await redis.eval(script.lua, keyList.length, ...keyList, ...args) as Reply
    }
  }

  function flushArgs (competitionId: string): Array<string | number> {
    return [tickMs, channel(competitionId), replayFrames, now(), competitionId]
  }

  function recordArgs (row: Pick<ProjectedScore, 'userId' | 'version' | 'score' | 'reachedMicros'>): string[] {
    return [row.userId, row.version, String(row.score), padMicros(row.reachedMicros), microsToIso(row.reachedMicros)]
  }

  // Mirrors committed changes; -1 when the projection does not exist (a rebuild is needed).
  // `force` also overrides a left participant (a re-join) and equal versions.
  async function apply (competitionId: string, rows: Array<Pick<ProjectedScore, 'userId' | 'version' | 'score' | 'reachedMicros'>>, force = false): Promise<number> {
    const k = keys(competitionId)
    return announce(competitionId, Number(await run(scripts.applyScript, [k[0]!, k[1]!, k[2]!, k[4]!], [force ? '1' : '0', ...rows.flatMap(recordArgs)])))
  }

  async function remove (competitionId: string, userId: string): Promise<number> {
    const k = keys(competitionId)
    return announce(competitionId, Number(await run(scripts.removeScript, [k[0]!, k[1]!, k[2]!, k[4]!], [userId])))
  }

  async function setProfile (competitionId: string, userId: string, profile: Profile): Promise<void> {
    const k = keys(competitionId)
    announce(competitionId, Number(await run(scripts.profileScript, [k[0]!, k[3]!], [userId, profileFields(profile)])))
  }

  async function beginRebuild (competitionId: string, info: { visibility: string, createdBy: string | null }): Promise<string> {
    const state = String(await run(scripts.beginScript, [keys(competitionId)[0]!], [info.visibility, info.createdBy ?? '', now()]))
    // Visibility and creator may have changed without a version change.
    announce(competitionId, 1)
    return state
  }

  async function load (competitionId: string, rows: ProjectionRow[]): Promise<number> {
    const k = keys(competitionId)
    const args = rows.flatMap((row) => [...recordArgs(row), profileFields(row)])
    return announce(competitionId, Number(await run(scripts.loadScript, [k[0]!, k[1]!, k[2]!, k[3]!, k[5]!, k[4]!], args)))
  }

  // User ids the projection holds as participants (for removing those who left meanwhile).
  async function projectedUsers (competitionId: string): Promise<string[]> {
    const all = await redis.hgetall(keys(competitionId)[2]!)
    return Object.entries(all).filter(([, rec]) => rec !== 'x').map(([userId]) => userId)
  }

  async function finishRebuild (competitionId: string, changed: boolean, stale: string[]): Promise<number> {
    const k = keys(competitionId)
    return announce(competitionId, Number(await run(scripts.finishScript, [k[0]!, k[1]!, k[2]!, k[5]!, k[6]!, k[7]!],
      [changed ? '1' : '0', replayFrames, now(), competitionId, channel(competitionId), ...stale])))
  }

  // A competition that no longer scores (final, paid, cancelled): its projection keeps serving
  // reads for finishedTtlSeconds, then expires. The tick key keeps its own short life.
  async function retire (competitionId: string): Promise<void> {
    const ttl = opts.finishedTtlSeconds ?? 0
    if (ttl <= 0) return
    await run(scripts.retireScript, keys(competitionId).filter((_, i) => SUFFIXES[i] !== 'tick'), [ttl])
  }

  async function flush (competitionId: string, force = false): Promise<number> {
    return Number(await run(scripts.flushScript, keys(competitionId), [force ? '1' : '0', ...flushArgs(competitionId)]))
  }

  async function read (competitionId: string, params: { cachedVersion: string, limit: number, after: Standing | null, userId: string, k: number }): Promise<ProjectionRead | null> {
    const { after } = params
    const reply = await run(scripts.readScript, keys(competitionId).slice(0, 4), [
      params.cachedVersion, params.limit,
      after ? zsetScore(after.score) : '', after ? memberOf(after.reachedMicros, after.userId) : '',
      params.userId, params.k
    ])
    if (!Array.isArray(reply)) return null
    const [version, visibility, createdBy, total, participant, start, mePos, aroundRank, aroundFlat, aroundStart, pageRank, pageFlat] = reply
    const around = Number(mePos) >= 0 ? toEntries(aroundFlat as Reply[], Number(aroundStart) + 1, Number(aroundRank)) : []
    let page: ProjectionRead['page'] = null
    if (Array.isArray(pageFlat)) {
      const entries = toEntries(pageFlat, Number(start) + 1, Number(pageRank))
      page = { entries: entries.slice(0, params.limit), hasMore: entries.length > params.limit }
    }
    const me = around.find((e) => e.position === Number(mePos) + 1)
    return {
      version: String(version),
      visibility: String(visibility),
      createdBy: createdBy === '' ? null : String(createdBy),
      total: Number(total),
      participant: Number(participant) === 1,
      page,
      me: me ? publicEntry(me) : null,
      around: around.map(publicEntry)
    }
  }

  async function snapshot (competitionId: string, userId: string, limit: number, k: number): Promise<ProjectionSnapshot | null> {
    const reply = await run(scripts.snapshotScript, keys(competitionId), [...flushArgs(competitionId), userId, limit, k])
    if (!Array.isArray(reply)) return null
    const [seq, total, topRank, topFlat, mePos, aroundRank, aroundFlat, aroundStart] = reply
    const around = Number(mePos) >= 0 ? toEntries(aroundFlat as Reply[], Number(aroundStart) + 1, Number(aroundRank)) : []
    const me = around.find((e) => e.position === Number(mePos) + 1)
    return {
      seq: Number(seq),
      total: Number(total),
      entries: toEntries(topFlat as Reply[], 1, Number(topRank)).map(publicEntry),
      me: me ? publicEntry(me) : null,
      around: around.map(publicEntry)
    }
  }

  async function resume (competitionId: string, userId: string, fromSeq: number): Promise<ProjectionResume | null> {
    const reply = await run(scripts.resumeScript, keys(competitionId), [...flushArgs(competitionId), userId, fromSeq])
    if (!Array.isArray(reply)) return null
    const [seq, ok, frames, rank, points] = reply
    return {
      seq: Number(seq),
      frames: Number(ok) === 1 ? (frames as string[]) : null,
      me: points === '' ? null : { rank: Number(rank), score: Number(points) }
    }
  }

  // Buffered frames after `seq`, in order; null when some of them are no longer held.
  async function framesSince (competitionId: string, seq: number): Promise<string[] | null> {
    const rows = await redis.zrangebyscore(keys(competitionId)[7]!, `(${seq}`, '+inf', 'WITHSCORES')
    const frames: string[] = []
    for (let i = 0; i < rows.length; i += 2) {
      if (Number(rows[i + 1]) !== seq + 1 + frames.length) return null
      frames.push(rows[i]!)
    }
    return frames
  }

  async function currentSeq (competitionId: string): Promise<number> {
    return Number(await redis.get(keys(competitionId)[6]!) ?? 0)
  }

  // Test and operator helper: the projection's scores by user.
  async function scores (competitionId: string): Promise<Map<string, number>> {
    const all = await redis.hgetall(keys(competitionId)[2]!)
    const out = new Map<string, number>()
    for (const [userId, rec] of Object.entries(all)) {
      if (rec !== 'x') out.set(userId, Number(rec.split('|')[1]))
    }
    return out
  }

  return { keys, channel, changesChannel, apply, remove, setProfile, beginRebuild, load, projectedUsers, finishRebuild, retire, flush, read, snapshot, resume, framesSince, currentSeq, scores }
}

export type LeaderboardProjection = ReturnType<typeof createLeaderboardProjection>
