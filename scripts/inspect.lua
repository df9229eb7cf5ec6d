-- inspect: what holds NAME (every slot of a CRONLOCK_LIMIT above 1), and NAME's last run;
-- changes nothing.
--
-- KEYS[1]  NAME, the lock
-- KEYS[2]  NAME's last-run record (a hash; see release)
-- KEYS[3]  NAME's limit key (see acquire)
-- KEYS[4]  NAME's lock record when NAME is in cronlock's string form (CRONLOCK_MIXED_FLEET;
--          see acquire)
-- KEYS[5..] slots 2..N
--
-- Reply: {type, pttl_ms, now_ms, value, last, slots}
--   type    Redis type of NAME ("none" when free), or "mixed" for golock's string form
--   value   NAME's fields and values (a flat list) for a hash, {string} for a string, the
--           record's fields and values for "mixed" (its "value" is NAME's), else {}
--   last    the last-run record's fields and values (a flat list), {} when there is none
--   slots   for each held slot 2..N: {pttl_ms, fields and values (a flat list)}
-- or {"limit", n} when the limit key says NAME has more slots than were passed: call again
-- with them.

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local limit = tonumber(redis.call('GET', KEYS[3]) or '1') or 1
if limit > #KEYS - 3 then return {'limit', limit} end

local kind = redis.call('TYPE', KEYS[1]).ok
local value = {}
if kind == 'hash' then
  value = redis.call('HGETALL', KEYS[1])
elseif kind == 'string' then
  local v = redis.call('GET', KEYS[1])
  value = {v}
  if redis.call('PTTL', KEYS[1]) > 0 and redis.call('TYPE', KEYS[4]).ok == 'hash'
      and redis.call('HGET', KEYS[4], 'value') == v then
    kind, value = 'mixed', redis.call('HGETALL', KEYS[4])
  end
end
local last = {}
if redis.call('TYPE', KEYS[2]).ok == 'hash' then
  last = redis.call('HGETALL', KEYS[2])
end
local slots = {}
for i = 5, #KEYS do
  if redis.call('TYPE', KEYS[i]).ok == 'hash' then
    slots[#slots + 1] = {redis.call('PTTL', KEYS[i]), redis.call('HGETALL', KEYS[i])}
  end
end
return {kind, redis.call('PTTL', KEYS[1]), now_ms, value, last, slots}
