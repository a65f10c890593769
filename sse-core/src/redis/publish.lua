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
local ms, seq = next_id(KEYS[3], ARGV[6])
local id = string.format('%.0f-%.0f', ms, seq)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[3], id, 'e', ARGV[2])
-- Events older than the TTL are never replayed: a quiet topic's stream
-- goes, and so does its entry in the index.
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[3], id)
redis.call('ZADD', KEYS[2], ms, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. string.format('%.0f', ms - tonumber(ARGV[4])))
redis.call('PUBLISH', ARGV[5], id .. ' 1\n' .. #ARGV[1] .. ' ' .. #ARGV[2] .. '\n' .. ARGV[1] .. ARGV[2])
return id
