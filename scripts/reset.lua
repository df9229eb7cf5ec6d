-- reset: delete NAME whoever holds it (CRONLOCK_RESET). The fence counter stays.
--
-- KEYS[1]  NAME
-- ARGV[1]  channel to publish the hand-off on, for golocks waiting on NAME
--
-- Replies:
--   {"free"}                              nothing was there
--   {"reset", type, owner, host, pid}     what was deleted (owner, host, pid only for golock's hash)

local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'none' then return {'free'} end
local owner, host, pid = '', '', ''
if kind == 'hash' then
  local r = redis.call('HMGET', KEYS[1], 'owner', 'host', 'pid')
  owner, host, pid = r[1] or '', r[2] or '', r[3] or ''
end
redis.call('DEL', KEYS[1])
redis.call('PUBLISH', ARGV[1], 'released')
return {'reset', kind, owner, host, pid}
