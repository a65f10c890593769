-- Publishes one event: gives it the next id of the whole deployment,
-- appends it to its topic's stream and announces it on the events channel,
-- all in one atomic step. Redis runs scripts one at a time, so ids are
-- issued, stored and announced in one order across every topic.
--
-- KEYS[1] the topic's stream, KEYS[2] the index of topics by newest
-- millisecond, KEYS[3] the newest id issued.
-- ARGV[1] the topic, ARGV[2] the encoded event without its id line,
-- ARGV[3] the stream's length bound, ARGV[4] the history TTL in
-- milliseconds, ARGV[5] the events channel, ARGV[6] the newest id the
-- publishing instance knows of, which a Redis that lost its data (and
-- the newest id with it) must still issue ids after.
local time = redis.call('TIME')
local ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local seq = 0
-- A clock that went back (or many ids in one millisecond) continues
-- after the newest id instead.
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
after(redis.call('GET', KEYS[3]))
after(ARGV[6])
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
