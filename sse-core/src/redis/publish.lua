#!lua flags=allow-cross-slot-keys
-- Publishes a batch of events of one or more topics, each event from its
-- own publisher: for each topic, its events are appended to its stream
-- under ids Redis gives (`<ms>-<seq>`, after the stream's newest), in
-- batch order, and announced in one message on the topic's channel, all
-- in one atomic step. Each topic's stream is its own sequence: topics on
-- different masters need no common one.
--
-- In a cluster, one call carries the topics of one master, whatever
-- their slots (the flag above): KEYS[1], the first topic's stream, routes
-- the call to that master, and the others are named in ARGV. A topic that
-- is not on this master (the instance's map of the slots is stale) makes
-- the call fail with `NONLOCAL` before anything is written.
--
-- KEYS[1] the stream of the first topic. ARGV[1] the streams' length
-- bound, ARGV[2] the history TTL in milliseconds; then, for each topic, its
-- stream (whose name is also its channel's), the number of its events,
-- and the events (encoded, without the id line).
-- Returns the ids, in argument order.
local bound, ttl = ARGV[1], ARGV[2]

-- Every topic's stream first, before anything is written: whether it
-- exists, and that it is on this node.
local topics = {}
local a = 3
while a <= #ARGV do
  local key = ARGV[a]
  local count = tonumber(ARGV[a + 1])
  local exists = redis.pcall('EXISTS', key)
  if type(exists) == 'table' and exists.err then
    return redis.error_reply('NONLOCAL ' .. key .. ' is not on this node')
  end
  topics[#topics + 1] = { key = key, count = count, first = a + 2, created = exists == 0 }
  a = a + 2 + count
end

local ids = {}
local horizon
for _, topic in ipairs(topics) do
  local key = topic.key
  local message = {}
  local id
  for n = topic.first, topic.first + topic.count - 1 do
    local body = ARGV[n]
    id = redis.call('XADD', key, 'MAXLEN', '~', bound, '*', 'e', body)
    ids[#ids + 1] = id
    message[#message + 1] = id .. ' ' .. #body .. '\n'
    message[#message + 1] = body
  end
  if topic.created then
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
