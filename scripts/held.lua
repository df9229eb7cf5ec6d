-- held: does the owner still hold the lock, and how much of its lease is left? For
-- `golock --held`, run by a job (CRONLOCK_LOCK, CRONLOCK_OWNER). Changes nothing.
--
-- KEYS[1]  NAME
-- KEYS[2]  NAME's limit key (see acquire)
-- KEYS[3]  NAME's lock record when NAME is in cronlock's string form (CRONLOCK_MIXED_FLEET;
--          see acquire): read only when NAME is a string
-- KEYS[4..] slots 2..N of a CRONLOCK_LIMIT above 1
-- ARGV[1]  owner token
--
-- Replies:
--   {"held", lease_ms}   the owner holds a slot, with lease_ms of its lease left (the key's
--                        TTL less its LOCK_DELAY)
--   {"not-held", why}    why: "" (not there: released, reset, expired or taken), "replace"
--                        (revoked by a CRONLOCK_REPLACE run) or "released" (job ended)
--   {"limit", n}         NAME has n slots: call again with them

local limit = tonumber(redis.call('GET', KEYS[2]) or '1') or 1
if limit > #KEYS - 2 then return {'limit', limit} end

local slots = {KEYS[1]}
for i = 4, #KEYS do slots[#slots + 1] = KEYS[i] end
for _, key in ipairs(slots) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'string' and key == KEYS[1] and redis.call('PTTL', key) > 0
      and redis.call('TYPE', KEYS[3]).ok == 'hash'
      and redis.call('HGET', KEYS[3], 'value') == redis.call('GET', key) then
    -- golock's string form: the record beside it says whose; the lease is NAME's TTL
    local r = redis.call('HMGET', KEYS[3], 'owner', 'revoked_host', 'released_ms', 'delay_ms')
    if r[1] == ARGV[1] then
      if r[2] then return {'not-held', 'replace'} end
      if r[3] then return {'not-held', 'released'} end
      return {'held', redis.call('PTTL', key) - (tonumber(r[4]) or 0)}
    end
  elseif kind == 'hash' then
    local r = redis.call('HMGET', key, 'owner', 'revoked_host', 'released_ms', 'delay_ms')
    if r[1] == ARGV[1] then
      if r[2] then return {'not-held', 'replace'} end
      if r[3] then return {'not-held', 'released'} end
      return {'held', redis.call('PTTL', key) - (tonumber(r[4]) or 0)}
    end
  end
end
return {'not-held', ''}
