import { COMMON, script } from './lua.ts'

// Rebuilds: begin, load Postgres in chunks, finish (with a reset frame when anything
// differed), and the expiry of a competition that no longer scores.

// KEYS meta scores members names pending framed seq frames ; ARGV seconds. A competition that no
// longer scores: its projection expires after ARGV[1] seconds and a later read rebuilds it from
// Postgres. One script sets one expiry time for every key (the clock stands still inside a
// script), so a read sees all of the projection or none of it.
export const retireScript = script((k) => [k.meta, k.scores, k.members, k.names, k.pending, k.framed, k.seq, k.frames], `
for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ARGV[1]) end
return 1
`)

// KEYS meta members ; ARGV visibility createdBy nowMs order. A rebuild starts: a missing projection is
// marked 'building' (reads stay on Postgres until it is ready); a ready one keeps serving meanwhile.
// Versions start from the clock, so a rebuilt projection never reuses an earlier version
// (instances cache serialised pages by version). Returns how many members (tombstones included)
// the projection holds: with none, no member can outlive its participation in Postgres.
export const beginScript = script((k) => [k.meta, k.members], `
redis.call('HSETNX', KEYS[1], 'state', 'building')
redis.call('HSETNX', KEYS[1], 'v', ARGV[3] .. '000')
redis.call('HSET', KEYS[1], 'visibility', ARGV[1], 'createdBy', ARGV[2], 'order', ARGV[4])
return redis.call('HLEN', KEYS[2])
`)

// KEYS meta scores members names framed pending ; ARGV per user: uid version points micros iso nameFields
// Rebuild load: applies Postgres rows with version >= the projected one, also over a
// tombstone, and refreshes names. A user not waiting for a frame is recorded as framed in
// the loaded state (when that differs from what clients saw, a reset frame follows); one
// waiting keeps what clients last saw, which their next frame corrects. Returns the number
// changed followed by the users put back over a tombstone: a tombstone carries no version, so
// one written after the row was read (the user left meanwhile) is overwritten, and the rebuild
// checks those users against Postgres before it finishes.
// Each command runs once for the whole chunk rather than once per user: the calls themselves
// were most of a rebuild's Redis time. A chunk is at most 1,000 users (rebuild.ts), well
// within unpack's limit of 8,000 values.
export const loadScript = script((k) => [k.meta, k.scores, k.members, k.names, k.framed, k.pending], COMMON + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if #ARGV == 0 then return 0 end
readOrder(KEYS[1])
local uids, names = {}, {}
for i = 1, #ARGV, 6 do
  uids[#uids + 1] = ARGV[i]
  names[#names + 1] = ARGV[i]
  names[#names + 1] = ARGV[i + 5]
end
redis.call('HSET', KEYS[4], unpack(names))
local current = redis.call('HMGET', KEYS[3], unpack(uids))
local anyPending = redis.call('SCARD', KEYS[6]) > 0
local zrem, zadd, records, framed, revived = {}, {}, {}, {}, {}
local changed = 0
for j, uid in ipairs(uids) do
  local i = (j - 1) * 6 + 1
  local ver, points, micros, iso = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  -- A missing field is false in Redis and a null value in the embedded stand-in.
  local cur = current[j]
  if type(cur) ~= 'string' then cur = nil end
  local old = parseRecord(cur)
  local shown = old and old.points
  if not old or tonumber(ver) >= tonumber(old.ver) then
    local rec = ver .. '|' .. points .. '|' .. micros .. '|' .. iso
    if rec ~= cur then
      if old then zrem[#zrem + 1] = old.micros .. uid
      elseif cur then revived[#revived + 1] = uid end
      if points ~= '' then
        zadd[#zadd + 1] = zs(points)
        zadd[#zadd + 1] = micros .. uid
      end
      records[#records + 1] = uid
      records[#records + 1] = rec
      changed = changed + 1
    end
    shown = points
  end
  if shown and shown ~= '' and not (anyPending and redis.call('SISMEMBER', KEYS[6], uid) == 1) then
    framed[#framed + 1] = uid
    framed[#framed + 1] = shown
  end
end
if #zrem > 0 then redis.call('ZREM', KEYS[2], unpack(zrem)) end
if #zadd > 0 then redis.call('ZADD', KEYS[2], unpack(zadd)) end
if #records > 0 then redis.call('HSET', KEYS[3], unpack(records)) end
if #framed > 0 then redis.call('HSET', KEYS[5], unpack(framed)) end
if changed > 0 then redis.call('HINCRBY', KEYS[1], 'v', 1) end
return {changed, unpack(revived)}
`)

// KEYS meta scores members framed seq frames ; ARGV changed maxFrames nowMs competitionId channel, stale uids...
// Ends a rebuild: drops users no longer participating, marks the projection ready and, when
// anything differed, publishes a reset frame so every client takes a fresh snapshot.
export const finishScript = script((k) => [k.meta, k.scores, k.members, k.framed, k.seq, k.frames], COMMON + `
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
