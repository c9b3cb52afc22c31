import { COMMON, script } from './lua.ts'

// Score writes: scores, leaves and profile changes mirrored from Postgres after they commit.
// Each marks the users it changed as pending for the next frame (scripts/tick.ts).

// KEYS meta scores members pending ; ARGV force, then per user: uid version points micros iso
export const applyScript = script((k) => [k.meta, k.scores, k.members, k.pending], COMMON + `
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
readOrder(KEYS[1])
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
    place(KEYS[2], points, micros .. uid)
    redis.call('HSET', KEYS[3], uid, rec)
    redis.call('SADD', KEYS[4], uid)
    changed = changed + 1
  end
end
if changed > 0 then redis.call('HINCRBY', KEYS[1], 'v', 1) end
return changed
`)

// KEYS meta scores members pending ; ARGV uid
export const removeScript = script((k) => [k.meta, k.scores, k.members, k.pending], COMMON + `
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
export const profileScript = script((k) => [k.meta, k.names], `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HINCRBY', KEYS[1], 'v', 1)
return 1
`)
