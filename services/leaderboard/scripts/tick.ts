import { COMMON, script } from './lua.ts'

// The tick's Lua: what changed since the last frame becomes one numbered frame, kept in the
// replay buffer and published on the competition's channel. Snapshots and resumes run the
// same function first (scripts/reads.ts), so what they return matches the frame stream.

// KEYS meta scores members names pending framed seq frames tick
// ARGV force tickMs channel maxFrames nowMs competitionId
export const FLUSH_FN = `
local function flush(K, A)
  if redis.call('EXISTS', K[1]) == 0 then return 0 end
  readOrder(K[1])
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
      local pos = redis.call('ZRANK', K[2], rec.micros .. uid)
      if pos then
        local higher = redis.call('ZCOUNT', K[2], '-inf', '(' .. zs(rec.points))
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

// KEYS meta scores members names pending framed seq frames tick ; ARGV force tickMs channel maxFrames nowMs competitionId
// Returns the new frame's seq, 0 when there was nothing to send, or -ttl when a frame was
// sent less than a tick ago (try again after ttl ms): decoded by decodeFlush (replies.ts).
export const flushScript = script((k) => [k.meta, k.scores, k.members, k.names, k.pending, k.framed, k.seq, k.frames, k.tick], COMMON + FLUSH_FN + `
return flush(KEYS, ARGV)
`)
