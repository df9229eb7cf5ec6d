-- reset: delete NAME whoever holds it (CRONLOCK_RESET), and revoke its holder: the fence
-- counter moves past the holder's fence, so that a live holder's next renewal (extend)
-- finds the lock lost and never writes it back. The fence counter is never deleted.
--
-- KEYS[1]  NAME
-- KEYS[2]  the fence counter of NAME
-- KEYS[3]  NAME's last-run record (a hash): reset_ms and reset_fence say a reset came
-- ARGV[1]  channel to publish the hand-off on, for golocks waiting on NAME
-- ARGV[2]  how long to keep the last-run record, ms
-- ARGV[3]  TTL of the fence counter, ms, beyond the holder's deadline (kept when longer)
--
-- Replies:
--   {"free"}                                     nothing was there
--   {"reset", type, owner, host, pid, fence}     what was deleted (owner, host, pid and
--                                                fence only for golock's hash)

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(n) return string.format('%.0f', n) end

local kind = redis.call('TYPE', KEYS[1]).ok
local owner, host, pid, fence, deadline = '', '', '', '', now_ms
if kind == 'hash' then
  local r = redis.call('HMGET', KEYS[1], 'owner', 'host', 'pid', 'fence', 'deadline_ms')
  owner, host, pid, fence = r[1] or '', r[2] or '', r[3] or '', r[4] or ''
  deadline = math.max(now_ms, tonumber(r[5]) or now_ms)
end

-- Past every fence handed out so far, the holder's included, even with NAME gone already
-- (a holder whose lease ran out while Redis was unreachable must not write it back).
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local revoked = math.max(prev, tonumber(fence) or 0) + 1
-- It must outlive the holder, who may renew until its deadline.
redis.call('SET', KEYS[2], int(revoked), 'PX',
  int(math.max(redis.call('PTTL', KEYS[2]), deadline - now_ms + tonumber(ARGV[3]))))
redis.call('HSET', KEYS[3], 'reset_ms', int(now_ms), 'reset_fence', int(revoked))
redis.call('PEXPIRE', KEYS[3], ARGV[2])

if kind == 'none' then return {'free'} end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'released')
return {'reset', kind, owner, host, pid, fence}
