import { COMMON, RANGE_FN, script } from './lua.ts'
import { FLUSH_FN } from './tick.ts'

// Reads in one round trip each: the WebSocket snapshot and resume (both frame pending changes
// first) and the HTTP page with the caller's neighbourhood.

// KEYS as flush ; ARGV tickMs channel maxFrames nowMs competitionId userId limit k
// A snapshot consistent with the frame stream: pending changes are framed first, so the
// snapshot equals the state after frame `seq`. Returns false while the projection is not ready.
export const snapshotScript = script((k) => [k.meta, k.scores, k.members, k.names, k.pending, k.framed, k.seq, k.frames, k.tick], COMMON + FLUSH_FN + RANGE_FN + `
if redis.call('HGET', KEYS[1], 'state') ~= 'ready' then return false end
flush(KEYS, { '1', ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] })
local seq = currentSeq(KEYS[7], ARGV[4])
local top = range(KEYS, 0, tonumber(ARGV[7]) - 1)
local me = mine(KEYS, ARGV[6], tonumber(ARGV[8]))
readOrder(KEYS[1])
return { seq, redis.call('ZCARD', KEYS[2]), top[1], top[2], me[1], me[2], me[3], me[4] or 0, lowestWins and 'lowest_wins' or 'highest_wins' }
`)

// KEYS as flush ; ARGV tickMs channel maxFrames nowMs competitionId userId fromSeq
// Frames after fromSeq when the buffer still holds all of them (ok = 1), plus the user's rank
// and score as of the last of them.
export const resumeScript = script((k) => [k.meta, k.scores, k.members, k.names, k.pending, k.framed, k.seq, k.frames, k.tick], COMMON + FLUSH_FN + `
if redis.call('HGET', KEYS[1], 'state') ~= 'ready' then return false end
flush(KEYS, { '1', ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] })
local seq = currentSeq(KEYS[7], ARGV[4])
local from = tonumber(ARGV[7])
local ok = 0
local frames = {}
if from <= tonumber(seq) then
  frames = redis.call('ZRANGEBYSCORE', KEYS[8], '(' .. ARGV[7], '+inf')
  local first = redis.call('ZRANGE', KEYS[8], 0, 0, 'WITHSCORES')
  if from == tonumber(seq) or (first[2] and tonumber(first[2]) <= from + 1) then ok = 1 end
end
local rank, points = 0, ''
readOrder(KEYS[1])
local rec = parseRecord(redis.call('HGET', KEYS[3], ARGV[6]))
if rec and rec.points ~= '' then
  rank = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. zs(rec.points)) + 1
  points = rec.points
end
return { seq, ok, frames, rank, points }
`)

// KEYS meta scores members names ; ARGV cachedVersion limit cursorScore cursorMember userId k backward
// One round trip for an HTTP read: the page (unless the caller's cached copy of this version
// is current), the total, and the caller's entry with k neighbours on each side. A page runs
// from the entry after the cursor (limit + 1 entries, the last telling whether more follow), or
// backward: the `limit` entries before the cursor's entry.
export const readScript = script((k) => [k.meta, k.scores, k.members, k.names], COMMON + RANGE_FN + `
local meta = redis.call('HMGET', KEYS[1], 'state', 'v', 'visibility', 'createdBy')
if meta[1] ~= 'ready' then return false end
readOrder(KEYS[1])
local function byteLess(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
-- Entries strictly before the cursor's place (its own entry, when it is still there, excluded).
local function countBefore(zscore, member)
  local s = redis.call('ZSCORE', KEYS[2], member)
  if s and tonumber(s) == tonumber(zscore) then return redis.call('ZRANK', KEYS[2], member), true end
  local lo = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. zscore)
  local hi = lo + redis.call('ZCOUNT', KEYS[2], zscore, zscore)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', KEYS[2], mid, mid)[1]
    if byteLess(member, m) then hi = mid else lo = mid + 1 end
  end
  return lo, false
end
local page = false
local start = 0
if ARGV[1] ~= meta[2] then
  local limit = tonumber(ARGV[2])
  if ARGV[3] == '' then
    page = range(KEYS, 0, limit)
  elseif ARGV[7] == '1' then
    local stop = countBefore(zs(ARGV[3]), ARGV[4])
    start = math.max(0, stop - limit)
    page = range(KEYS, start, stop - 1)
  else
    local before, found = countBefore(zs(ARGV[3]), ARGV[4])
    if found then start = before + 1 else start = before end
    page = range(KEYS, start, start + limit)
  end
end
local me = { -1, 0, {}, 0 }
local participant = 0
if ARGV[5] ~= '' then
  if parseRecord(redis.call('HGET', KEYS[3], ARGV[5])) then participant = 1 end
  if tonumber(ARGV[6]) >= 0 then me = mine(KEYS, ARGV[5], tonumber(ARGV[6])) end
end
if page then
  return { meta[2], meta[3], meta[4], redis.call('ZCARD', KEYS[2]), participant, start, me[1], me[2], me[3], me[4] or 0, page[1], page[2] }
end
return { meta[2], meta[3], meta[4], redis.call('ZCARD', KEYS[2]), participant, start, me[1], me[2], me[3], me[4] or 0 }
`)
