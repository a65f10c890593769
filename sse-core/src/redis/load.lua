-- What a topic's stream holds, for an instance that starts following the
-- topic or catches up with it: its newest entries after ARGV[1] (`-` for
-- all, `(<id>` for those after an id), at most ARGV[2] of them, newest
-- first; the newest id known to be gone (`max-deleted-entry-id`, which
-- `publish.lua` sets when it recreates an expired stream), `0-0` if none;
-- the stream's last id, which an ephemeral event may have taken
-- without an entry; and, when there is no stream, this master's time in
-- milliseconds (else 0): every id the topic gets from now on is later.
--
-- KEYS[1] the topic's stream.
if redis.call('EXISTS', KEYS[1]) == 0 then
  local time = redis.call('TIME')
  return {'0-0', {}, '0-0', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)}
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local deleted, last = '0-0', '0-0'
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then
    deleted = info[i + 1]
  elseif info[i] == 'last-generated-id' then
    last = info[i + 1]
  end
end
return {deleted, redis.call('XREVRANGE', KEYS[1], '+', ARGV[1], 'COUNT', ARGV[2]), last, 0}
