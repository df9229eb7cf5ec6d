-- extend: keep the lease of our lock alive; write it again if Redis lost it.
--
-- KEYS[1]  NAME, the lock record (a hash)
-- KEYS[2]  the fence counter of NAME
-- KEYS[3]  NAME's last-run record, which says whether CRONLOCK_RESET revoked us
-- ARGV[1]  owner token   ARGV[2] lease ms
-- ARGV[3..10], used only to write the record again: fence, host, pid, command line,
--          acquired_ms, grace_ms, deadline_ms, record version
-- ARGV[11] TTL of the fence counter, ms, when it is written again
-- ARGV[12] LOCK_DELAY ms: the key is kept this much beyond the lease (0: none)
-- ARGV[13] LIMIT   ARGV[14] CRONLOCK_ON_LOST (for the record, when written again)
-- KEYS[1] is the holder's slot under a LIMIT above 1; then KEYS[4] is NAME's limit key,
-- kept alive at least as long as the slot
-- ARGV[15] "1" under CRONLOCK_MIXED_FLEET (LIMIT 1): NAME is cronlock's string form and
--          KEYS[4] the lock record (see acquire); NAME gets the new second with the new TTL
--
-- Replies:
--   {"extended", ttl_ms, until_deadline_ms}
--   {"re-established", ttl_ms, until_deadline_ms}   NAME was missing; written again, same owner
--   {"lost", owner, host, pid, why}                 someone else holds NAME ("" when not golock),
--                                                   or held it since us, or a reset revoked us (the
--                                                   fence counter is past ours); why is "reset" when
--                                                   a reset did, "replace" when a CRONLOCK_REPLACE
--                                                   run did (host and pid are then theirs),
--                                                   "cronlock" when cronlock's string is there
--                                                   (mixed only)
--   {"expired"}                                     past the deadline, or already released;
--                                                   the key is left to expire
--
-- The TTL is min(deadline - now, max(lease, grace - now)), by Redis TIME; the key itself
-- expires LOCK_DELAY later (never past the deadline), and the reply says the lease.

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local function int(n) return string.format('%.0f', n) end

local lease = tonumber(ARGV[2])
local status = 'extended'
local grace, deadline

local mixed = ARGV[15] == '1'
local key = KEYS[1] -- the record: NAME itself, or beside it in mixed mode
local kind = redis.call('TYPE', KEYS[1]).ok
if mixed then
  key = KEYS[4]
  if kind == 'string' then
    local v = redis.call('GET', KEYS[1])
    if redis.call('HGET', key, 'value') ~= v or redis.call('PTTL', KEYS[1]) <= 0 then
      -- cronlock's (it took the key over) or a foreign value: not golock's string
      if string.match(v, '^%d+$') then return {'lost', '', '', '', 'cronlock'} end
      return {'lost', '', '', ''}
    end
    kind = 'hash' -- golock's string: the record beside it says whose
  elseif kind == 'hash' then -- a golock that does not write the string form holds NAME
    local r = redis.call('HMGET', KEYS[1], 'owner', 'host', 'pid')
    return {'lost', r[1] or '', r[2] or '', r[3] or ''}
  elseif kind == 'none' then
    redis.call('DEL', key) -- a record left without its string describes no lock
  end
end
if kind == 'none' then
  grace = tonumber(ARGV[8])
  deadline = tonumber(ARGV[9])
  if now_ms >= deadline then return {'expired'} end
  -- A fence counter past ours means another golock took NAME after us (and let it go):
  -- ours was lost, not wiped with the data, and must not come back.
  local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  if prev > tonumber(ARGV[3]) then
    local r = redis.call('HMGET', KEYS[3], 'reset_fence', 'reset_why', 'reset_host', 'reset_pid')
    if (tonumber(r[1] or '0') or 0) > tonumber(ARGV[3]) then
      return {'lost', '', r[3] or '', r[4] or '', r[2] or 'reset'}
    end
    return {'lost', '', '', '', ''}
  end
  redis.call('HSET', key,
    'owner', ARGV[1], 'fence', ARGV[3], 'host', ARGV[4], 'pid', ARGV[5], 'cmd', ARGV[6],
    'acquired_ms', ARGV[7], 'grace_ms', ARGV[8], 'deadline_ms', ARGV[9], 'version', ARGV[10],
    'reestablished_ms', int(now_ms))
  if tonumber(ARGV[13]) > 1 then redis.call('HSET', key, 'limit', ARGV[13]) end
  if ARGV[14] == 'keep' then redis.call('HSET', key, 'on_lost', 'keep') end
  if tonumber(ARGV[12]) > 0 then redis.call('HSET', key, 'delay_ms', ARGV[12]) end
  -- Keep the fence counter ahead of the fence this job holds.
  if prev < tonumber(ARGV[3]) then
    redis.call('SET', KEYS[2], ARGV[3], 'PX',
      int(math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[11]))))
  end
  status = 're-established'
elseif kind ~= 'hash' then
  return {'lost', '', '', ''}
else
  local r = redis.call('HMGET', key, 'owner', 'host', 'pid', 'grace_ms', 'deadline_ms',
    'released_ms', 'revoked_host', 'revoked_pid', 'revoked_why')
  if r[1] ~= ARGV[1] then return {'lost', r[1] or '', r[2] or '', r[3] or ''} end
  -- A reset or a CRONLOCK_REPLACE run revoked us: the job must end; the key stays (so that
  -- nobody else starts) until our release deletes it or its lease runs out.
  if r[7] then return {'lost', '', r[7], r[8] or '', r[9] or 'replace'} end
  grace = tonumber(r[4])
  deadline = tonumber(r[5])
  -- Released (a late renewal): the grace hold must end when it was set to.
  if now_ms >= deadline or r[6] then return {'expired'} end
end

local ttl = math.min(deadline - now_ms, math.max(lease, grace - now_ms))
local keep = math.min(deadline - now_ms, math.max(lease, grace - now_ms) + tonumber(ARGV[12]))
redis.call('PEXPIRE', key, int(keep))
if mixed then
  local v = int(math.ceil((now_ms + keep) / 1000))
  redis.call('SET', KEYS[1], v, 'PX', int(keep))
  redis.call('HSET', key, 'value', v)
elseif KEYS[4] then
  redis.call('SET', KEYS[4], ARGV[13], 'PX', int(math.max(redis.call('PTTL', KEYS[4]), keep)))
end
return {status, ttl, deadline - now_ms}
