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
-- An ephemeral event (`history=false`) takes the stream's next id without
-- an entry (XSETID moves the stream's last id), so that nothing replays
-- it and no loss is recorded for it, and is announced flagged `e`.
--
-- KEYS[1] the stream of the first topic. ARGV[1] the streams' length
-- bound, ARGV[2] the history TTL in milliseconds; then, for each topic, its
-- stream (whose name is also its channel's), the number of its events, its
-- events' kinds (empty when all are retained, else one `r` or `e` per
-- event) and the events (encoded, without the id line).
-- Returns the ids, in argument order.
local bound, ttl = ARGV[1], ARGV[2]

-- Every topic first, before any event is written: that it is on this
-- node, and whether its stream exists. One command does both and keeps
-- the stream's TTL running from this batch: `PEXPIRE` answers 0 for a
-- missing key, and fails for a key of another node. It is the only
-- per-topic command besides the append and the announcement, which
-- matters: each command a script runs costs Redis about a microsecond
-- whatever it does (BENCHMARKS.md). A call that then fails has at most
-- pushed back the expiry of streams it did not write to.
local topics = {}
local a = 3
while a <= #ARGV do
  local key = ARGV[a]
  local count = tonumber(ARGV[a + 1])
  local kept = redis.pcall('PEXPIRE', key, ttl)
  if type(kept) == 'table' and kept.err then
    return redis.error_reply('NONLOCAL ' .. key .. ' is not on this node')
  end
  topics[#topics + 1] = {
    key = key, count = count, kinds = ARGV[a + 2], first = a + 3, created = kept == 0,
  }
  a = a + 3 + count
end

local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- The id after the stream's last one, by the rule of `XADD *`.
local function next_id(key)
  local info = redis.call('XINFO', 'STREAM', key)
  local last = '0-0'
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      last = info[i + 1]
    end
  end
  local ms, seq = string.match(last, '^(%d+)-(%d+)$')
  local now = now_ms()
  if now > tonumber(ms) then
    return string.format('%.0f-0', now)
  end
  return ms .. '-' .. string.format('%.0f', tonumber(seq) + 1)
end

local ids = {}
local horizon
for _, topic in ipairs(topics) do
  local key = topic.key
  local message = {}
  local id
  for n = topic.first, topic.first + topic.count - 1 do
    local body = ARGV[n]
    local kind = topic.kinds == '' and 'r'
      or string.sub(topic.kinds, n - topic.first + 1, n - topic.first + 1)
    if kind ~= 'e' then
      id = redis.call('XADD', key, 'MAXLEN', '~', bound, '*', 'e', body)
      message[#message + 1] = id .. ' ' .. #body .. '\n'
    elseif redis.call('EXISTS', key) == 0 then
      -- A stream to hold the last id: the entry goes at once (the
      -- creation below sets what counts as deleted).
      id = redis.call('XADD', key, 'MAXLEN', '0', '*', 'e', '')
      message[#message + 1] = id .. ' ' .. #body .. ' e\n'
    else
      id = next_id(key)
      redis.call('XSETID', key, id)
      message[#message + 1] = id .. ' ' .. #body .. ' e\n'
    end
    ids[#ids + 1] = id
    message[#message + 1] = body
  end
  if topic.created then
    -- A stream (re)created after it expired may have held events within
    -- the TTL before: loading it says those are gone.
    if not horizon then
      horizon = string.format('%.0f-0', math.max(0, now_ms() - tonumber(ttl)))
    end
    redis.pcall('XSETID', key, id, 'MAXDELETEDID', horizon)
    -- Events older than the TTL are never replayed: a quiet topic's
    -- stream goes. An existing stream's TTL was renewed above.
    redis.call('PEXPIRE', key, ttl)
  end
  redis.call('PUBLISH', key, table.concat(message))
end
return ids
