-- What a topic's stream holds, for an instance that starts following the
-- topic or catches up with it: its newest entries after ARGV[1] (`-` for
-- all, `(<id>` for those after an id), at most ARGV[2] of them, newest
-- first; the newest id known to be gone (`max-deleted-entry-id`, which
-- `publish.lua` sets when it recreates an expired stream, and this script
-- when a failover dropped events), `0-0` if none; the stream's last id,
-- which an ephemeral event may have taken without an entry; when there is
-- no stream, this master's time in milliseconds (else 0): every id the
-- topic gets from now on is later; and 1 if this call found events
-- dropped, else 0.
--
-- A catch-up also gives ARGV[3], the newest retained event the instance
-- holds, ARGV[4], the id just after the newest id it holds, and ARGV[5],
-- the history TTL in milliseconds. If the stream no longer holds that
-- event, and did not trim it, a failover dropped it (Redis replicates
-- asynchronously): the stream's last id and its deleted id move to
-- ARGV[4], so that no later event takes a dropped event's id and a resume
-- from before it resets on every instance, and the topic's channel says
-- so to the instances that follow it (`<id> 0 l`).
--
-- KEYS[1] the topic's stream.
local key = KEYS[1]

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

local function before(a, b)
  local a_ms, a_seq = parse(a)
  local b_ms, b_seq = parse(b)
  return a_ms < b_ms or (a_ms == b_ms and a_seq < b_seq)
end

local function info()
  local fields = redis.call('XINFO', 'STREAM', key)
  local deleted, last = '0-0', '0-0'
  for i = 1, #fields, 2 do
    if fields[i] == 'max-deleted-entry-id' then
      deleted = fields[i + 1]
    elseif fields[i] == 'last-generated-id' then
      last = fields[i + 1]
    end
  end
  return deleted, last
end

local dropped = 0
local held, mark, ttl = ARGV[3], ARGV[4], ARGV[5]
if held then
  if redis.call('EXISTS', key) == 0 then
    -- Every entry is gone: a stream that holds only the mark (its one
    -- entry trimmed at once, which records it as deleted).
    redis.call('XADD', key, 'MAXLEN', '0', mark, 'e', '')
    redis.call('PEXPIRE', key, ttl)
    dropped = 1
  else
    local deleted, last = info()
    local kept = #redis.call('XRANGE', key, held, held) > 0
    if not kept and before(deleted, held) and before(deleted, mark) then
      if before(last, mark) then
        last = mark
      end
      redis.call('XSETID', key, last, 'MAXDELETEDID', mark)
      dropped = 1
    end
  end
  if dropped == 1 then
    redis.call('PUBLISH', key, mark .. ' 0 l\n')
  end
end

if redis.call('EXISTS', key) == 0 then
  local time = redis.call('TIME')
  return {'0-0', {}, '0-0', tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), 0}
end
local deleted, last = info()
return {deleted, redis.call('XREVRANGE', key, '+', ARGV[1], 'COUNT', ARGV[2]), last, 0, dropped}
