-- Publishes a batch of events, each of its own publisher, as publish.lua
-- does one: consecutive ids of the whole deployment in batch order, one
-- stream entry per event, and one message on the events channel for the
-- whole batch, all in one atomic step.
--
-- KEYS[1] the index of topics by newest millisecond, KEYS[2] the newest
-- id issued, KEYS[2 + i] the stream of event i's topic.
-- ARGV[1] the streams' length bound, ARGV[2] the history TTL in
-- milliseconds, ARGV[3] the events channel, ARGV[4] the newest id the
-- publishing instance knows of, ARGV[5] the batch's records as the
-- channel carries them (built by the instance, so that the script does
-- not copy every event twice); then ARGV[4 + 2i] event i's topic and
-- ARGV[5 + 2i] its encoded event without the id line.
-- Returns the first id: the others follow it, one apart (a sequence past
-- 2^20 - 1 moves on to the next millisecond, as in the broker's ids).
local ms, seq = next_id(KEYS[2], ARGV[4])
local count = #KEYS - 2
if count == 0 then
  return false
end
-- Each topic's stream expiry and index entry are set once per batch,
-- however many of its events the batch holds.
local streams = {}
local index = {}
local first = string.format('%.0f-%.0f', ms, seq)
-- Numbers become text through C's printf: the milliseconds once per
-- batch, and the sequence as an integer ('%d'), since Lua's own
-- conversion goes through the floating-point path, which was half of the
-- script's time for small events.
local ms_text = string.format('%.0f-', ms)
local id
for i = 1, count do
  if i > 1 then
    seq = seq + 1
    if seq > 1048575 then
      ms = ms + 1
      seq = 0
      ms_text = string.format('%.0f-', ms)
    end
  end
  id = ms_text .. string.format('%d', seq)
  local stream = KEYS[2 + i]
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[1], id, 'e', ARGV[5 + 2 * i])
  if not streams[stream] then
    streams[stream] = true
    index[#index + 1] = ARGV[4 + 2 * i]
  end
end
for stream in pairs(streams) do
  redis.call('PEXPIRE', stream, ARGV[2])
end
-- One ZADD for many topics, in chunks that stay within Lua's stack. The
-- score is the newest millisecond rounded up to the next second: an
-- unchanged score leaves the sorted set as it is, where a new one moves
-- the topic, and for a busy topic that is most of the index's cost. A
-- later score only widens the tail's catch-up reads (topics scored at or
-- after a millisecond), so none is missed.
local score = string.format('%d', ms - ms % 1000 + 1000)
local members = {}
for n = 1, #index do
  members[#members + 1] = score
  members[#members + 1] = index[n]
  if #members >= 1000 or n == #index then
    redis.call('ZADD', KEYS[1], unpack(members))
    members = {}
  end
end
redis.call('SET', KEYS[2], id)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', ms - tonumber(ARGV[2])))
redis.call('PUBLISH', ARGV[3], first .. ' ' .. count .. '\n' .. ARGV[5])
return first
