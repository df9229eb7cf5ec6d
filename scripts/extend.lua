-- extend: keep the lease of our lock alive; write it again if Redis lost it.
--
-- KEYS[1]  NAME, the lock record (a hash)
-- KEYS[2]  the fence counter of NAME
-- KEYS[3]  NAME's last-run record, which says whether CRONLOCK_RESET revoked us
-- ARGV[1]  owner token   ARGV[2] lease ms
-- ARGV[3..10], used only to write the record again: fence, host, pid, command line,
--          acquired_ms, grace_ms, deadline_ms, record version
-- ARGV[11] TTL of the fence counter, ms, when it is written again
--
-- Replies:
--   {"extended", ttl_ms, until_deadline_ms}
--   {"re-established", ttl_ms, until_deadline_ms}   NAME was missing; written again, same owner
--   {"lost", owner, host, pid, why}                 someone else holds NAME ("" when not golock),
--                                                   or held it since us, or a reset revoked us (the
--                                                   fence counter is past ours); why is "reset" when
--                                                   a reset did, else ""
--   {"expired"}                                     past the deadline, or already released;
--                                                   the key is left to expire
--
-- The TTL is min(deadline - now, max(lease, grace - now)), by Redis TIME.

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function int(n) return string.format('%.0f', n) end

local lease = tonumber(ARGV[2])
local status = 'extended'
local grace, deadline

local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then
  grace = tonumber(ARGV[8])
  deadline = tonumber(ARGV[9])
  if now_ms >= deadline then return {'expired'} end
  -- A fence counter past ours means another golock took NAME after us (and let it go):
  -- ours was lost, not wiped with the data, and must not come back.
  local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  if prev > tonumber(ARGV[3]) then
    local reset = tonumber(redis.call('HGET', KEYS[3], 'reset_fence') or '0') or 0
    if reset > tonumber(ARGV[3]) then return {'lost', '', '', '', 'reset'} end
    return {'lost', '', '', '', ''}
  end
  redis.call('HSET', KEYS[1],
    'owner', ARGV[1], 'fence', ARGV[3], 'host', ARGV[4], 'pid', ARGV[5], 'cmd', ARGV[6],
    'acquired_ms', ARGV[7], 'grace_ms', ARGV[8], 'deadline_ms', ARGV[9], 'version', ARGV[10],
    'reestablished_ms', int(now_ms))
  -- Keep the fence counter ahead of the fence this job holds.
  if prev < tonumber(ARGV[3]) then
    redis.call('SET', KEYS[2], ARGV[3], 'PX',
      int(math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[11]))))
  end
  status = 're-established'
elseif kind ~= 'hash' then
  return {'lost', '', '', ''}
else
  local r = redis.call('HMGET', KEYS[1], 'owner', 'host', 'pid', 'grace_ms', 'deadline_ms',
    'released_ms')
  if r[1] ~= ARGV[1] then return {'lost', r[1] or '', r[2] or '', r[3] or ''} end
  grace = tonumber(r[4])
  deadline = tonumber(r[5])
  -- Released (a late renewal): the grace hold must end when it was set to.
  if now_ms >= deadline or r[6] then return {'expired'} end
end

local ttl = math.min(deadline - now_ms, math.max(lease, grace - now_ms))
redis.call('PEXPIRE', KEYS[1], int(ttl))
return {status, ttl, deadline - now_ms}
