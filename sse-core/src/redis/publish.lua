-- Publishes one event: gives it the next id of the whole deployment,
-- appends it to its topic's stream and announces it on the events channel,
-- all in one atomic step. Redis runs scripts one at a time, so ids are
-- issued, stored and announced in one order across every topic.
--
-- KEYS[1] the topic's stream, KEYS[2] the index of topics by newest
-- millisecond, KEYS[3] the newest id issued.
-- ARGV[1] the topic, ARGV[2] the encoded event without its id line,
-- ARGV[3] the stream's length bound, ARGV[4] the history TTL in
-- milliseconds, ARGV[5] the events channel.
local time = redis.call('TIME')
local ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local seq = 0
local last = redis.call('GET', KEYS[3])
if last then
  local last_ms, last_seq = string.match(last, '^(%d+)-(%d+)$')
  last_ms = tonumber(last_ms)
  -- A clock that went back (or many ids in one millisecond) continues
  -- after the newest id instead.
  if last_ms and last_ms >= ms then
    ms = last_ms
    seq = tonumber(last_seq) + 1
    if seq > 1048575 then
      ms = ms + 1
      seq = 0
    end
  end
end
local id = string.format('%.0f-%.0f', ms, seq)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], id, 'e', ARGV[2])
-- Events older than the TTL are never replayed: a quiet topic's stream
-- goes, and so does its entry in the index.
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[3], id)
redis.call('ZADD', KEYS[2], ms, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', ms - tonumber(ARGV[4])))
redis.call('PUBLISH', ARGV[5], id .. ' ' .. #ARGV[1] .. '\n' .. ARGV[1] .. ARGV[2])
return id
