import { createHash } from 'node:crypto'
import type { LeaderboardKeys } from '../../../lib/redis-keys.ts'

// Lua scripts of the Redis leaderboard projection. Each runs atomically on the shard holding
// the competition's keys (they share one hash tag). Scores never pass through Lua numbers
// (doubles printed with 14 digits): they travel as the decimal strings Node gives, so every
// safe integer stays exact. Members are compared byte by byte, never with the locale.
//
// Keys of a competition (named in lib/redis-keys.ts):
//   meta     hash  state (building|ready), v (bumped on every change), visibility, createdBy,
//                  order (lowest_wins; missing: highest_wins)
//   scores   zset  score = -points (points where the lowest wins), member = 16-digit reached_at
//                  micros + user id; only participants with a score where the lowest wins
//   members  hash  user id -> "version|points|micros|iso" (or "x" once the user left); points
//                  are empty for a participant without a score where the lowest wins
//   names    hash  user id -> JSON fields "displayName":..,"avatarUrl":..
//   pending  set   users changed since the last frame
//   framed   hash  user id -> points as of the last frame (what clients were last told);
//                  field '#top': the user ids of the top 100 as of the last frame
//   seq      int   last frame sequence number
//   frames   zset  score = seq, member = frame JSON (the replay buffer)
//   tick     str   exists for one tick after a frame: at most one frame per tick

export interface Script {
  lua: string
  sha: string
  // The script's KEYS, in the order its Lua reads them.
  keys: (k: LeaderboardKeys) => string[]
}

export function script (keys: Script['keys'], lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex'), keys }
}

export const COMMON = `
-- The competition's order, read once per script (readOrder) before zs is used.
local lowestWins = false
local function readOrder(metaKey) lowestWins = redis.call('HGET', metaKey, 'order') == 'lowest_wins' end
local function zs(points) if lowestWins or points == '0' then return points end return '-' .. points end
local function fmt(n) return string.format('%.0f', n) end
local function parseRecord(rec)
  if not rec or string.sub(rec, 1, 1) == 'x' then return nil end
  local ver, points, micros, iso = string.match(rec, '^(%d+)|(%d*)|(%d+)|(.+)$')
  return { ver = ver, points = points, micros = micros, iso = iso }
end
-- Puts a record's entry in the sorted set, or keeps it out while it has no score.
local function place(scoresKey, points, member) if points ~= '' then redis.call('ZADD', scoresKey, zs(points), member) end end
-- Sequence numbers start from the clock (ms * 1000) when the counter is missing, so they keep
-- increasing even after Redis lost the counter: a client sees a jump and gets a snapshot.
local function currentSeq(key, nowMs)
  local seq = redis.call('GET', key)
  if not seq then redis.call('SET', key, nowMs .. '000') return nowMs .. '000' end
  return seq
end
local function nextSeq(key, nowMs)
  currentSeq(key, nowMs)
  return fmt(redis.call('INCR', key))
end
local function pushFrame(framesKey, seq, frame, maxFrames, channel)
  redis.call('ZADD', framesKey, seq, frame)
  redis.call('ZREMRANGEBYRANK', framesKey, 0, -(tonumber(maxFrames) + 1))
  redis.call('PUBLISH', channel, frame)
end
local NO_NAME = '"displayName":null,"avatarUrl":null'
-- A list rebuilt by the table constructor: the embedded Redis stand-in only returns tables
-- made that way (bounded lists only: unpack has a stack limit).
local function list(t) return { unpack(t) } end
local function nameOf(namesKey, uid) return redis.call('HGET', namesKey, uid) or NO_NAME end
`

// Entries of a range as flat {member, zscore, nameFields, ...} plus the rank of the first one.
export const RANGE_FN = `
local function range(K, start, stop)
  if stop < start then return { 0, {} } end
  local rows = redis.call('ZRANGE', K[2], start, stop, 'WITHSCORES')
  local out = {}
  for i = 1, #rows, 2 do
    local uid = string.sub(rows[i], 17)
    out[#out + 1] = rows[i]
    out[#out + 1] = rows[i + 1]
    out[#out + 1] = nameOf(K[4], uid)
  end
  local firstRank = 0
  if #rows > 0 then firstRank = redis.call('ZCOUNT', K[2], '-inf', '(' .. rows[2]) + 1 end
  return { firstRank, list(out) }
end
local function mine(K, uid, k)
  local rec = parseRecord(redis.call('HGET', K[3], uid))
  if not rec then return { -1, 0, {} } end
  local pos = redis.call('ZRANK', K[2], rec.micros .. uid)
  if not pos then return { -1, 0, {} } end
  local start = pos - k
  if start < 0 then start = 0 end
  local r = range(K, start, pos + k)
  return { pos, r[1], r[2], start }
end
`
