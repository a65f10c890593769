-- The start of both publish scripts (prepended to each): where the next
-- id of the deployment is.

-- The first id a publish may issue, as milliseconds and sequence: Redis's
-- clock now, or just after the newest id issued (kept at `last_key`) or
-- the newest the publishing instance knows of (`newest`), whichever is
-- later. A clock that went back, many ids in one millisecond, or a Redis
-- that lost its data (and the newest id with it) still give ids after
-- every id issued.
local function next_id(last_key, newest)
  local time = redis.call('TIME')
  local ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local seq = 0
  local function after(last)
    if not last then
      return
    end
    local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
    last_ms = tonumber(last_ms)
    last_seq = tonumber(last_seq)
    if not last_ms or not last_seq then
      return
    end
    if last_ms > ms or (last_ms == ms and last_seq >= seq) then
      ms = last_ms
      seq = last_seq + 1
      if seq > 1048575 then
        ms = ms + 1
        seq = 0
      end
    end
  end
  after(redis.call('GET', last_key))
  after(newest)
  return ms, seq
end
