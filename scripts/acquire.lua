-- acquire: take the lock NAME if it is free, a stale cronlock string, or already ours.
--
-- KEYS[1]  NAME, the lock record (a hash)
-- KEYS[2]  the fence counter of NAME (same cluster slot)
-- ARGV[1]  owner token      ARGV[2] host        ARGV[3] pid        ARGV[4] command line
-- ARGV[5]  grace ms         ARGV[6] release ms  ARGV[7] lease ms   ARGV[8] record version
-- ARGV[9]  TTL of the fence counter, ms (set, never shortened, by each acquire: the counter
--          outlives the lock and its last-run record, and a new one starts at Redis TIME)
--
-- Replies:
--   {"acquired", fence, acquired_ms, grace_ms, deadline_ms, ttl_ms}
--   {"held", owner, host, pid, age_ms, ttl_ms, fence, released_ms}   another golock holds it
--   {"held-legacy", expires_s, ttl_ms}                                a live cronlock string lock
--   {"held-foreign", type, ttl_ms}                                    anything else; never touched
--
-- Every time is Redis TIME, so clients with drifting clocks still agree.

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function int(n) return string.format('%.0f', n) end

local kind = redis.call('TYPE', KEYS[1]).ok
if kind == 'hash' then
  local r = redis.call('HMGET', KEYS[1], 'owner', 'host', 'pid', 'acquired_ms', 'fence',
    'grace_ms', 'deadline_ms')
  if not r[1] then
    return {'held-foreign', 'hash', redis.call('PTTL', KEYS[1])} -- a hash golock did not write
  end
  if r[1] == ARGV[1] then
    -- Our own earlier attempt went through but its reply was lost: it is ours. Set the TTL
    -- again, a write, so that a WAIT on this connection counts the replicas that have it.
    local ttl = redis.call('PTTL', KEYS[1])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
    return {'acquired', tonumber(r[5]), tonumber(r[4]), tonumber(r[6]), tonumber(r[7]), ttl}
  end
  local released = redis.call('HGET', KEYS[1], 'released_ms') or ''
  return {'held', r[1] or '', r[2] or '', r[3] or '', now_ms - (tonumber(r[4]) or now_ms),
    redis.call('PTTL', KEYS[1]), tonumber(r[5]) or 0, released}
elseif kind == 'string' then
  local v = redis.call('GET', KEYS[1])
  if not string.match(v, '^%d+$') then
    return {'held-foreign', 'string', redis.call('PTTL', KEYS[1])}
  end
  if tonumber(t[1]) <= tonumber(v) then
    return {'held-legacy', v, redis.call('PTTL', KEYS[1])}
  end
  -- cronlock's stale-lock rule: its second has passed by Redis's clock; take it over.
  redis.call('DEL', KEYS[1])
elseif kind ~= 'none' then
  return {'held-foreign', kind, redis.call('PTTL', KEYS[1])}
end

local fence = now_us
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if prev + 1 > fence then fence = prev + 1 end
redis.call('SET', KEYS[2], int(fence), 'PX',
  int(math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[9]))))

local grace = now_ms + tonumber(ARGV[5])
local deadline = now_ms + tonumber(ARGV[6])
redis.call('HSET', KEYS[1],
  'owner', ARGV[1], 'fence', int(fence), 'host', ARGV[2], 'pid', ARGV[3], 'cmd', ARGV[4],
  'acquired_ms', int(now_ms), 'grace_ms', int(grace), 'deadline_ms', int(deadline),
  'version', ARGV[8])

local ttl = math.min(deadline - now_ms, math.max(tonumber(ARGV[7]), grace - now_ms))
redis.call('PEXPIRE', KEYS[1], int(ttl))
return {'acquired', fence, now_ms, grace, deadline, ttl}
