import { createHash } from 'node:crypto'

// Lua scripts of the Redis leaderboard projection. Each runs atomically on the shard holding
// the competition's keys (they share one hash tag). Scores never pass through Lua numbers
// (doubles printed with 14 digits): they travel as the decimal strings Node gives, so every
// safe integer stays exact. Members are compared byte by byte, never with the locale.
//
// Keys of a competition (see leaderboard-projection.ts):
//   meta     hash  state (building|ready), v (bumped on every change), visibility, createdBy
//   scores   zset  score = -points, member = 16-digit reached_at micros + user id
//   members  hash  user id -> "version|points|micros|iso" (or "x" once the user left)
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
}

function script (lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

const COMMON = `
local function zs(points) if points == '0' then return '0' end return '-' .. points end
local function fmt(n) return string.format('%.0f', n) end
local function parseRecord(rec)
  if not rec or string.sub(rec, 1, 1) == 'x' then return nil end
  local ver, points, micros, iso = string.match(rec, '^(%d+)|(%d+)|(%d+)|(.+)$')
  return { ver = ver, points = points, micros = micros, iso = iso }
end
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

// KEYS meta scores members names pending framed seq frames tick
// ARGV force tickMs channel maxFrames nowMs competitionId
const FLUSH_FN = `
local function flush(K, A)
  if redis.call('EXISTS', K[1]) == 0 then return 0 end
  if A[1] ~= '1' then
    local ttl = redis.call('PTTL', K[9])
    if ttl > 0 then return -ttl end
  end
  local users = redis.call('SMEMBERS', K[5])
  if #users == 0 then return 0 end
  redis.call('DEL', K[5])
  local items, removed, removedScores = {}, {}, {}
  for _, uid in ipairs(users) do
    local rec = parseRecord(redis.call('HGET', K[3], uid))
    local prev = redis.call('HGET', K[6], uid)
    if rec then
      local higher = redis.call('ZCOUNT', K[2], '-inf', '(' .. zs(rec.points))
      local pos = redis.call('ZRANK', K[2], rec.micros .. uid)
      if pos then
        items[#items + 1] = { pos, '{"rank":' .. (higher + 1) .. ',"position":' .. (pos + 1) .. ',"userId":"' .. uid .. '",' ..
          nameOf(K[4], uid) .. ',"score":' .. rec.points .. ',"previousScore":' .. (prev or 'null') .. ',"reachedAt":"' .. rec.iso .. '"}' }
        redis.call('HSET', K[6], uid, rec.points)
      end
    elseif prev then
      removed[#removed + 1] = uid
      removedScores[#removedScores + 1] = prev
      redis.call('HDEL', K[6], uid)
    end
  end
  if #items + #removed == 0 then return 0 end
  table.sort(items, function (a, b) return a[1] < b[1] end)
  local entries = {}
  for i, item in ipairs(items) do entries[i] = item[2] end
  -- fill: unchanged participants that entered the top 100 since the last frame (its members
  -- are kept in framed['#top']; all of the top when that is missing), so instances can keep
  -- an exact copy of the top from the frames alone.
  local lastTop, inFrame, topIds, fill = {}, {}, {}, {}
  local stored = redis.call('HGET', K[6], '#top')
  if stored then for uid in string.gmatch(stored, '[^,]+') do lastTop[uid] = true end end
  for _, uid in ipairs(users) do inFrame[uid] = true end
  for i, member in ipairs(redis.call('ZRANGE', K[2], 0, 99)) do
    local uid = string.sub(member, 17)
    topIds[i] = uid
    if not inFrame[uid] and not lastTop[uid] then
      local rec = parseRecord(redis.call('HGET', K[3], uid))
      fill[#fill + 1] = '{"rank":' .. (redis.call('ZCOUNT', K[2], '-inf', '(' .. zs(rec.points)) + 1) .. ',"position":' .. i .. ',"userId":"' .. uid .. '",' ..
        nameOf(K[4], uid) .. ',"score":' .. rec.points .. ',"previousScore":' .. rec.points .. ',"reachedAt":"' .. rec.iso .. '"}'
    end
  end
  redis.call('HSET', K[6], '#top', table.concat(topIds, ','))
  redis.call('SET', K[9], '1', 'PX', A[2])
  local seq = nextSeq(K[7], A[5])
  local frame = '{"type":"update","competitionId":"' .. A[6] .. '","seq":' .. seq .. ',"total":' .. redis.call('ZCARD', K[2]) ..
    ',"entries":[' .. table.concat(entries, ',') .. '],"fill":[' .. table.concat(fill, ',') .. '],"removed":[' .. (#removed > 0 and ('"' .. table.concat(removed, '","') .. '"') or '') ..
    '],"removedScores":[' .. table.concat(removedScores, ',') .. ']}'
  pushFrame(K[8], seq, frame, A[4], A[3])
  return tonumber(seq)
end
`

// Entries of a range as flat {member, zscore, nameFields, ...} plus the rank of the first one.
const RANGE_FN = `
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

// KEYS meta scores members pending ; ARGV force, then per user: uid version points micros iso
export const applyScript = script(COMMON + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local force = ARGV[1] == '1'
local changed = 0
for i = 2, #ARGV, 5 do
  local uid, ver, points, micros, iso = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local cur = redis.call('HGET', KEYS[3], uid)
  local old = parseRecord(cur)
  local apply = true
  if cur and not old then apply = force
  elseif old then
    if force then apply = tonumber(ver) >= tonumber(old.ver) else apply = tonumber(ver) > tonumber(old.ver) end
  end
  local rec = ver .. '|' .. points .. '|' .. micros .. '|' .. iso
  if apply and rec ~= cur then
    if old then redis.call('ZREM', KEYS[2], old.micros .. uid) end
    redis.call('ZADD', KEYS[2], zs(points), micros .. uid)
    redis.call('HSET', KEYS[3], uid, rec)
    redis.call('SADD', KEYS[4], uid)
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[1], 'v', 1) end
return changed
`)

// KEYS meta scores members pending ; ARGV uid
export const removeScript = script(COMMON + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local old = parseRecord(redis.call('HGET', KEYS[3], ARGV[1]))
redis.call('HSET', KEYS[3], ARGV[1], 'x')
if not old then return 0 end
redis.call('ZREM', KEYS[2], old.micros .. ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
`)

// KEYS meta names ; ARGV uid nameFields. A changed name or avatar: the version moves so cached
// pages are rebuilt. A missing projection is left alone (the next rebuild reads Postgres).
export const profileScript = script(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
`)

// KEYS meta scores members names pending framed seq frames ; ARGV seconds. A competition that no
// longer scores: its projection expires after ARGV[1] seconds and a later read rebuilds it from
// Postgres. One script sets one expiry time for every key (the clock stands still inside a
// script), so a read sees all of the projection or none of it.
export const retireScript = script(`
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[1]) end
return 1
`)

// KEYS meta ; ARGV visibility createdBy nowMs. A rebuild starts: a missing projection is marked
// 'building' (reads stay on Postgres until it is ready); a ready one keeps serving meanwhile.
// Versions start from the clock, so a rebuilt projection never reuses an earlier version
// (instances cache serialised pages by version).
export const beginScript = script(`
redis.call('HSETNX', KEYS[1], 'state', 'building')
redis.call('HSETNX', KEYS[1], 'v', ARGV[3] .. '000')
redis.call('HSET', KEYS[1], 'visibility', ARGV[1], 'createdBy', ARGV[2])
return redis.call('HGET', KEYS[1], 'state')
`)

// KEYS meta scores members names framed pending ; ARGV per user: uid version points micros iso nameFields
// Rebuild load: applies Postgres rows with version >= the projected one, also over a
// tombstone, and refreshes names. A user not waiting for a frame is recorded as framed in
// the loaded state (when that differs from what clients saw, a reset frame follows); one
// waiting keeps what clients last saw, which their next frame corrects.
export const loadScript = script(COMMON + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local changed = 0
for i = 1, #ARGV, 6 do
  local uid, ver, points, micros, iso = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  redis.call('HSET', KEYS[4], uid, ARGV[i + 5])
  local cur = redis.call('HGET', KEYS[3], uid)
  local old = parseRecord(cur)
  if not old or tonumber(ver) >= tonumber(old.ver) then
    local rec = ver .. '|' .. points .. '|' .. micros .. '|' .. iso
    if rec ~= cur then
      if old then redis.call('ZREM', KEYS[2], old.micros .. uid) end
      redis.call('ZADD', KEYS[2], zs(points), micros .. uid)
      redis.call('HSET', KEYS[3], uid, rec)
      changed = changed + 1
    end
  end
  local now = parseRecord(redis.call('HGET', KEYS[3], uid))
  if now and redis.call('SISMEMBER', KEYS[6], uid) == 0 then redis.call('HSET', KEYS[5], uid, now.points) end
end
if changed > 0 then redis.call('HINCRBY', KEYS[1], 'v', 1) end
return changed
`)

// KEYS meta scores members framed seq frames ; ARGV changed maxFrames nowMs competitionId channel, stale uids...
// Ends a rebuild: drops users no longer participating, marks the projection ready and, when
// anything differed, publishes a reset frame so every client takes a fresh snapshot.
export const finishScript = script(COMMON + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local changed = ARGV[1] == '1'
for i = 6, #ARGV do
  local old = parseRecord(redis.call('HGET', KEYS[3], ARGV[i]))
  if old then
    redis.call('ZREM', KEYS[2], old.micros .. ARGV[i])
    redis.call('HSET', KEYS[3], ARGV[i], 'x')
    changed = true
  end
  redis.call('HDEL', KEYS[4], ARGV[i])
end
if not changed and redis.call('HGET', KEYS[1], 'state') == 'ready' then return 0 end
-- The top may have changed without frames: the next frame fills in the whole top.
redis.call('HDEL', KEYS[4], '#top')
redis.call('HSET', KEYS[1], 'state', 'ready')
redis.call('HINCRBY', KEYS[1], 'v', 1)
local seq = nextSeq(KEYS[5], ARGV[3])
pushFrame(KEYS[6], seq, '{"type":"reset","competitionId":"' .. ARGV[4] .. '","seq":' .. seq .. '}', ARGV[2], ARGV[5])
return tonumber(seq)
`)

// KEYS meta scores members names pending framed seq frames tick ; ARGV force tickMs channel maxFrames nowMs competitionId
// Returns the new frame's seq, 0 when there was nothing to send, or -ttl when a frame was
// sent less than a tick ago (try again after ttl ms).
export const flushScript = script(COMMON + FLUSH_FN + `
return flush(KEYS, ARGV)
`)

// KEYS as flush ; ARGV tickMs channel maxFrames nowMs competitionId userId limit k
// A snapshot consistent with the frame stream: pending changes are framed first, so the
// snapshot equals the state after frame `seq`. Returns false while the projection is not ready.
export const snapshotScript = script(COMMON + FLUSH_FN + RANGE_FN + `
if redis.call('HGET', KEYS[1], 'state') ~= 'ready' then return false end
flush(KEYS, { '1', ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5] })
local seq = currentSeq(KEYS[7], ARGV[4])
local top = range(KEYS, 0, tonumber(ARGV[7]) - 1)
local me = mine(KEYS, ARGV[6], tonumber(ARGV[8]))
return { seq, redis.call('ZCARD', KEYS[2]), top[1], top[2], me[1], me[2], me[3], me[4] or 0 }
`)

// KEYS as flush ; ARGV tickMs channel maxFrames nowMs competitionId userId fromSeq
// Frames after fromSeq when the buffer still holds all of them (ok = 1), plus the user's rank
// and score as of the last of them.
export const resumeScript = script(COMMON + FLUSH_FN + `
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
local rec = parseRecord(redis.call('HGET', KEYS[3], ARGV[6]))
if rec then
  rank = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. zs(rec.points)) + 1
  points = rec.points
end
return { seq, ok, frames, rank, points }
`)

// KEYS meta scores members names ; ARGV cachedVersion limit cursorZscore cursorMember userId k
// One round trip for an HTTP read: the page (unless the caller's cached copy of this version
// is current), the total, and the caller's entry with k neighbours on each side.
export const readScript = script(COMMON + RANGE_FN + `
local meta = redis.call('HMGET', KEYS[1], 'state', 'v', 'visibility', 'createdBy')
if meta[1] ~= 'ready' then return false end
local function byteLess(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local function startAfter(zscore, member)
  local s = redis.call('ZSCORE', KEYS[2], member)
  if s and tonumber(s) == tonumber(zscore) then return redis.call('ZRANK', KEYS[2], member) + 1 end
  local lo = redis.call('ZCOUNT', KEYS[2], '-inf', '(' .. zscore)
  local hi = lo + redis.call('ZCOUNT', KEYS[2], zscore, zscore)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local m = redis.call('ZRANGE', KEYS[2], mid, mid)[1]
    if byteLess(member, m) then hi = mid else lo = mid + 1 end
  end
  return lo
end
local page = false
local start = 0
if ARGV[1] ~= meta[2] then
  if ARGV[3] ~= '' then start = startAfter(ARGV[3], ARGV[4]) end
  page = range(KEYS, start, start + tonumber(ARGV[2]))
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
