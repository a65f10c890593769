-- Publishes a batch of events of one or more topics (of one slot, in a
-- cluster), each from its own publisher: for each topic, its events are
-- appended to its stream under ids Redis gives (`<ms>-<seq>`, after the
-- stream's newest), in batch order, and announced in one message on the
-- topic's channel, all in one atomic step. Each topic's stream is its own
-- sequence: topics on different masters need no common one.
--
-- KEYS[j] the stream of the batch's j-th topic, whose name is also its
-- channel's. ARGV[1] the streams' length bound, ARGV[2] the history TTL in
-- milliseconds; then, for each topic in KEYS order, the number of its
-- events and the events (encoded, without the id line).
-- Returns the ids, in argument order.
local bound, ttl = ARGV[1], ARGV[2]
local ids = {}
local a = 3
local horizon
for j = 1, #KEYS do
  local key = KEYS[j]
  local count = tonumber(ARGV[a])
  a = a + 1
  local created = redis.call('EXISTS', key) == 0
  local message = {}
  local id
  for _ = 1, count do
    local body = ARGV[a]
    a = a + 1
    id = redis.call('XADD', key, 'MAXLEN', '~', bound, '*', 'e', body)
    ids[#ids + 1] = id
    message[#message + 1] = id .. ' ' .. #body .. '\n'
    message[#message + 1] = body
  end
  if created then
    -- A stream (re)created after it expired may have held events within
    -- the TTL before: loading it says those are gone.
    if not horizon then
      local time = redis.call('TIME')
      local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
      horizon = string.format('%.0f-0', math.max(0, now - tonumber(ttl)))
    end
    redis.pcall('XSETID', key, id, 'MAXDELETEDID', horizon)
  end
  -- Events older than the TTL are never replayed: a quiet topic's stream
  -- goes.
  redis.call('PEXPIRE', key, ttl)
  redis.call('PUBLISH', key, table.concat(message))
end
return ids
