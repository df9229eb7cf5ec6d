-- inspect: what holds NAME, and NAME's last run; changes nothing.
--
-- KEYS[1]  NAME, the lock
-- KEYS[2]  NAME's last-run record (a hash; see release)
--
-- Reply: {type, pttl_ms, now_ms, value, last}
--   type    Redis type of NAME ("none" when free)
--   value   NAME's fields and values (a flat list) for a hash, {string} for a string, else {}
--   last    the last-run record's fields and values (a flat list), {} when there is none

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

local kind = redis.call('TYPE', KEYS[1]).ok
local value = {}
if kind == 'hash' then
  value = redis.call('HGETALL', KEYS[1])
elseif kind == 'string' then
  value = {redis.call('GET', KEYS[1])}
end
local last = {}
if redis.call('TYPE', KEYS[2]).ok == 'hash' then
  last = redis.call('HGETALL', KEYS[2])
end
return {kind, redis.call('PTTL', KEYS[1]), now_ms, value, last}
