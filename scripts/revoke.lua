-- revoke: CRONLOCK_REPLACE's first step. Revoke the golock run that holds NAME, as a reset
-- does (its next renewal finds the lock lost and its job is ended), but leave NAME in place,
-- so that nobody starts while that job may still run: the holder's release deletes it at
-- once (no grace hold), or its lease runs out. The replacer then waits for NAME to be free.
--
-- KEYS[1]  NAME, the lock record (a hash)
-- KEYS[2]  the fence counter of NAME, moved past the holder's fence, so that the holder can
--          never write NAME back once it is gone
-- KEYS[3]  NAME's last-run record (a hash): reset_fence, reset_why "replace", reset_host and
--          reset_pid tell the holder who revoked it
-- KEYS[4]  NAME's lock record when NAME is in cronlock's string form (CRONLOCK_MIXED_FLEET;
--          see acquire): the holder there is revoked in it, and NAME stays as it is
-- ARGV[1]  the holder's owner token, as acquire reported it: another holder is never touched
-- ARGV[2]  the replacer's host     ARGV[3] the replacer's pid
-- ARGV[4]  how long to keep the last-run record, ms
-- ARGV[5]  TTL of the fence counter, ms, beyond the holder's deadline (kept when longer)
--
-- Replies:
--   {"revoked", ttl_ms}    done; NAME stays until the holder lets go, at most ttl_ms
--   {"keep"}               the holder runs with CRONLOCK_ON_LOST=keep: its job would run on,
--                          so it is not revoked
--   {"released", ttl_ms}   the holder's job has ended; only its grace hold keeps NAME
--   {"gone"}               NAME is not held by that owner any more: try to acquire again

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(n) return string.format('%.0f', n) end

local record = KEYS[1]
local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'string' and redis.call('PTTL', KEYS[1]) > 0 and redis.call('TYPE', KEYS[4]).ok == 'hash'
    and redis.call('HGET', KEYS[4], 'value') == redis.call('GET', KEYS[1]) then
  record = KEYS[4]
elseif kind ~= 'hash' then
  return {'gone'}
end
local r = redis.call('HMGET', record, 'owner', 'on_lost', 'fence', 'deadline_ms', 'released_ms')
if r[1] ~= ARGV[1] then return {'gone'} end
if r[2] == 'keep' then return {'keep'} end
if r[5] then return {'released', redis.call('PTTL', KEYS[1])} end

redis.call('HSET', record, 'revoked_host', ARGV[2], 'revoked_pid', ARGV[3], 'revoked_ms', int(now_ms),
  'revoked_why', 'replace')
local deadline = math.max(now_ms, tonumber(r[4]) or now_ms)
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local revoked = math.max(prev, tonumber(r[3]) or 0) + 1
redis.call('SET', KEYS[2], int(revoked), 'PX',
  int(math.max(redis.call('PTTL', KEYS[2]), deadline - now_ms + tonumber(ARGV[5]))))
redis.call('HSET', KEYS[3], 'reset_ms', int(now_ms), 'reset_fence', int(revoked),
  'reset_why', 'replace', 'reset_host', ARGV[2], 'reset_pid', ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[4])
return {'revoked', redis.call('PTTL', KEYS[1])}
