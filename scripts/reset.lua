-- reset: clear NAME whoever holds it (CRONLOCK_RESET), with every slot of a CRONLOCK_LIMIT
-- above 1, and revoke its holders: the fence counter moves past their fences, so that a
-- holder's next renewal (extend) finds the lock lost and never writes it back. A slot whose
-- job still runs is not deleted but marked revoked, as CRONLOCK_REPLACE does: it stays taken,
-- so that no second run starts while the old job may still run, until its holder's release
-- deletes it (no grace hold) or its lease runs out. Anything else (a job that has ended and
-- is held for grace, a cronlock lock, a foreign value) is deleted. The fence counter is
-- never deleted.
--
-- KEYS[1]  NAME
-- KEYS[2]  the fence counter of NAME
-- KEYS[3]  NAME's last-run record (a hash): reset_ms and reset_fence say a reset came
-- KEYS[4]  NAME's limit key (see acquire); deleted with the slots
-- KEYS[5]  NAME's lock record when NAME is in cronlock's string form (CRONLOCK_MIXED_FLEET;
--          see acquire): a golock holder there is revoked or deleted as one in a hash (its
--          record is marked, or deleted with NAME); a record whose value is not NAME's is
--          deleted
-- KEYS[6..] slots 2..N; the reply "limit" asks for them when the limit key says more
-- ARGV[1]  channel to publish the hand-off on, for golocks waiting on NAME
-- ARGV[2]  how long to keep the last-run record, ms
-- ARGV[3]  TTL of the fence counter, ms, beyond the holder's deadline (kept when longer)
-- ARGV[4]  the resetting host      ARGV[5] its pid (told to the revoked holder)
--
-- Replies:
--   {"free"}                                        nothing was there
--   {"reset", type, owner, host, pid, fence, n, kept}  what was cleared: the first holder
--                                                   found (type "mixed" for golock's string
--                                                   form; owner, host, pid and fence only for
--                                                   golock's), how many there were, and
--                                                   how many of them stay taken until their
--                                                   jobs have ended
--   {"limit", n}                                    the lock has n slots: call again with them;
--                                                   nothing was touched

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(n) return string.format('%.0f', n) end

local limit = tonumber(redis.call('GET', KEYS[4]) or '1') or 1
if limit > #KEYS - 4 then return {'limit', limit} end

local slots = {KEYS[1]}
for i = 6, #KEYS do slots[#slots + 1] = KEYS[i] end

local first, found, kept, top, deadline = nil, 0, 0, 0, now_ms
for _, key in ipairs(slots) do
  local kind = redis.call('TYPE', key).ok
  local record = key -- where a golock holder's record is
  if key == KEYS[1] and redis.call('TYPE', KEYS[5]).ok ~= 'none' then
    if kind == 'string' and redis.call('PTTL', key) > 0
        and redis.call('TYPE', KEYS[5]).ok == 'hash'
        and redis.call('HGET', KEYS[5], 'value') == redis.call('GET', key) then
      kind, record = 'mixed', KEYS[5]
    else
      redis.call('DEL', KEYS[5]) -- a record of no lock
    end
  end
  if kind ~= 'none' then
    local owner, host, pid, fence, running = '', '', '', '', false
    if kind == 'hash' or kind == 'mixed' then
      local r = redis.call('HMGET', record, 'owner', 'host', 'pid', 'fence', 'deadline_ms', 'released_ms')
      owner, host, pid, fence = r[1] or '', r[2] or '', r[3] or '', r[4] or ''
      deadline = math.max(deadline, tonumber(r[5]) or now_ms)
      top = math.max(top, tonumber(fence) or 0)
      running = owner ~= '' and not r[6]
    end
    first = first or {'reset', kind, owner, host, pid, fence}
    found = found + 1
    if running then
      redis.call('HSET', record, 'revoked_host', ARGV[4], 'revoked_pid', ARGV[5], 'revoked_ms', int(now_ms),
        'revoked_why', 'reset')
      kept = kept + 1
    else
      redis.call('DEL', key)
      if record ~= key then redis.call('DEL', record) end
    end
  end
end

-- Past every fence handed out so far, the holders' included, even with NAME gone already
-- (a holder whose lease ran out while Redis was unreachable must not write it back).
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
local revoked = math.max(prev, top) + 1
-- It must outlive the holders, who may renew until their deadlines.
redis.call('SET', KEYS[2], int(revoked), 'PX',
  int(math.max(redis.call('PTTL', KEYS[2]), deadline - now_ms + tonumber(ARGV[3]))))
redis.call('HSET', KEYS[3], 'reset_ms', int(now_ms), 'reset_fence', int(revoked), 'reset_why', 'reset',
  'reset_host', ARGV[4], 'reset_pid', ARGV[5])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
if kept == 0 then redis.call('DEL', KEYS[4]) end

if not first then return {'free'} end
if kept < found then redis.call('PUBLISH', ARGV[1], 'released') end
first[7] = found
first[8] = kept
return first
