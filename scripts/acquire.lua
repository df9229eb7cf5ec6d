-- acquire: take the lock NAME (or, under CRONLOCK_LIMIT above 1, one of its slots) if it is
-- free, a stale cronlock string, or already ours.
--
-- KEYS[1]  NAME, the lock record (a hash); slot 1 of a LIMIT above 1
-- KEYS[2]  the fence counter of NAME (same cluster slot), shared by every slot
-- KEYS[3]  NAME's last-run record (a hash), read only under CRONLOCK_INTERVAL
-- KEYS[4]  NAME's limit key: the LIMIT its holders run with, set only when it is above 1;
--          read by every run, so that runs disagreeing on LIMIT never overlap silently
-- KEYS[5..] slots 2..LIMIT (none when LIMIT is 1), every one in NAME's cluster slot; under
--          CRONLOCK_MIXED_FLEET (ARGV[15], LIMIT 1) KEYS[5] is NAME's lock record instead
-- ARGV[1]  owner token      ARGV[2] host        ARGV[3] pid        ARGV[4] command line
-- ARGV[5]  grace ms         ARGV[6] release ms  ARGV[7] lease ms   ARGV[8] record version
-- ARGV[9]  TTL of the fence counter, ms (set, never shortened, by each acquire: the counter
--          outlives the lock and its last-run record, and a new one starts at Redis TIME)
-- ARGV[10] LIMIT            ARGV[11] INTERVAL ms, 0 for none
-- ARGV[12] LOCK_DELAY ms, 0 for none: the key outlives the lease by as much, unless released
-- ARGV[13] the run's CRONLOCK_ON_LOST; "keep" is recorded, so that CRONLOCK_REPLACE spares it
-- ARGV[14] how long to keep the last-run record, ms (under INTERVAL, the run's start is
--          written there at once: run_started_ms and run_owner, until its release says how
--          it ended)
--
-- ARGV[15] "1" under CRONLOCK_MIXED_FLEET: NAME is written in cronlock's form, a string
--          holding the unix second in which the key's TTL ends (rounded up), with the TTL of
--          the lease; the record (the fields below, plus "value", what NAME was set to) goes
--          to KEYS[5] with the same TTL. NAME's string is golock's while the record's value
--          is NAME's and NAME has a TTL (cronlock's SETNX and GETSET leave none); any other
--          numeric string is cronlock's.
--
-- Fields beyond today's record are written only when their policy is on: limit (LIMIT above
-- 1), on_lost (keep), delay_ms (LOCK_DELAY).
--
-- Replies:
--   {"acquired", fence, acquired_ms, grace_ms, deadline_ms, ttl_ms, slot, now_ms}   ttl is
--                                     the lease, now_ms Redis's clock as it answered (later
--                                     than acquired_ms when an earlier try of ours took it)
--   {"held", owner, host, pid, age_ms, ttl_ms, fence, released_ms, holders}  every slot is
--                                     held; the holder named is the one whose slot frees first
--   {"held-legacy", expires_s, ttl_ms}                                a live cronlock string lock
--   {"held-foreign", type, ttl_ms}                                    anything else; never touched
--   {"limit-conflict", limit, owner, host, pid}  a holder runs with another LIMIT (owner, host
--                                     and pid are "" when only the limit key says so)
--   {"too-soon", ok_started_ms, wait_ms}   a run that exited 0 started less than INTERVAL ago,
--                                     or a run whose end Redis never heard (its release was
--                                     lost, or its host died): it counts as a success, since
--                                     running twice in an interval is worse than once too few
--
-- Every time is Redis TIME, so clients with drifting clocks still agree.

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])

local function int(n) return string.format('%.0f', n) end

local limit = tonumber(ARGV[10]) or 1
local recorded = redis.call('GET', KEYS[4])
if recorded and tonumber(recorded) ~= limit then
  return {'limit-conflict', recorded, '', '', ''}
end

local mixed = ARGV[15] == '1'
local rec = mixed and KEYS[5] or nil
local slots = {KEYS[1]}
if not mixed then
  for i = 5, #KEYS do slots[#slots + 1] = KEYS[i] end
end

-- The record of NAME's string when a golock in mixed mode wrote it; nil otherwise.
local function golock_string(v)
  if not rec or redis.call('TYPE', rec).ok ~= 'hash' then return nil end
  local r = redis.call('HMGET', rec, 'owner', 'host', 'pid', 'acquired_ms', 'fence',
    'grace_ms', 'deadline_ms', 'limit', 'released_ms', 'value')
  if r[1] and r[10] == v and redis.call('PTTL', KEYS[1]) > 0 then return r end
  return nil
end

local free, held, holders = nil, nil, 0
for i, key in ipairs(slots) do
  local kind = redis.call('TYPE', key).ok
  if kind == 'hash' then
    local r = redis.call('HMGET', key, 'owner', 'host', 'pid', 'acquired_ms', 'fence',
      'grace_ms', 'deadline_ms', 'limit', 'released_ms')
    if not r[1] then
      return {'held-foreign', 'hash', redis.call('PTTL', key)} -- a hash golock did not write
    end
    if (tonumber(r[8]) or 1) ~= limit then
      return {'limit-conflict', r[8] or '1', r[1], r[2] or '', r[3] or ''}
    end
    if r[1] == ARGV[1] then
      -- Our own earlier attempt went through but its reply was lost: it is ours. Set the TTL
      -- again, a write, so that a WAIT on this connection counts the replicas that have it.
      local ttl = redis.call('PTTL', key)
      if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
      return {'acquired', tonumber(r[5]), tonumber(r[4]), tonumber(r[6]), tonumber(r[7]), ttl, i, now_ms}
    end
    holders = holders + 1
    local ttl = redis.call('PTTL', key)
    if not held or ttl < held[6] then
      held = {'held', r[1] or '', r[2] or '', r[3] or '', now_ms - (tonumber(r[4]) or now_ms),
        ttl, tonumber(r[5]) or 0, r[9] or ''}
    end
  elseif kind == 'string' and i == 1 then
    local v = redis.call('GET', key)
    local r = golock_string(v)
    if r and r[1] == ARGV[1] then -- as for a hash: our earlier attempt, its reply lost
      local ttl = redis.call('PTTL', key)
      redis.call('PEXPIRE', key, ttl)
      redis.call('PEXPIRE', rec, ttl)
      return {'acquired', tonumber(r[5]), tonumber(r[4]), tonumber(r[6]), tonumber(r[7]), ttl, i, now_ms}
    elseif r then -- a golock in mixed mode holds it
      holders = 1
      held = {'held', r[1], r[2] or '', r[3] or '', now_ms - (tonumber(r[4]) or now_ms),
        redis.call('PTTL', key), tonumber(r[5]) or 0, r[9] or ''}
    elseif not string.match(v, '^%d+$') then
      return {'held-foreign', 'string', redis.call('PTTL', key)}
    elseif tonumber(t[1]) <= tonumber(v) then
      return {'held-legacy', v, redis.call('PTTL', key)}
    else
      -- cronlock's stale-lock rule: its second has passed by Redis's clock; take it over.
      redis.call('DEL', key)
      free = free or i
    end
  elseif kind == 'none' then
    free = free or i
  else
    return {'held-foreign', kind, redis.call('PTTL', key)}
  end
end
if not free then
  held[9] = holders
  return held
end

local interval = tonumber(ARGV[11]) or 0
if interval > 0 then
  local h = redis.call('HMGET', KEYS[3], 'ok_started_ms', 'run_started_ms', 'run_owner')
  local ok, pending = tonumber(h[1] or ''), tonumber(h[2] or '')
  if h[3] and h[3] ~= ARGV[1] and pending and (not ok or pending > ok) then ok = pending end
  if ok and now_ms - ok < interval then
    return {'too-soon', ok, ok + interval - now_ms}
  end
end

local fence = now_us
local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
if prev + 1 > fence then fence = prev + 1 end
redis.call('SET', KEYS[2], int(fence), 'PX',
  int(math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[9]))))

local key = slots[free]
if mixed then -- the record goes beside NAME; NAME gets the string below
  key = rec
  redis.call('DEL', rec)
end
local grace = now_ms + tonumber(ARGV[5])
local deadline = now_ms + tonumber(ARGV[6])
local delay = tonumber(ARGV[12]) or 0
redis.call('HSET', key,
  'owner', ARGV[1], 'fence', int(fence), 'host', ARGV[2], 'pid', ARGV[3], 'cmd', ARGV[4],
  'acquired_ms', int(now_ms), 'grace_ms', int(grace), 'deadline_ms', int(deadline),
  'version', ARGV[8])
if limit > 1 then redis.call('HSET', key, 'limit', int(limit)) end
if ARGV[13] == 'keep' then redis.call('HSET', key, 'on_lost', 'keep') end
if delay > 0 then redis.call('HSET', key, 'delay_ms', int(delay)) end
if interval > 0 then
  redis.call('HSET', KEYS[3], 'run_started_ms', int(now_ms), 'run_owner', ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[14])
end

local lease = math.max(tonumber(ARGV[7]), grace - now_ms)
local ttl = math.min(deadline - now_ms, lease)
local keep = math.min(deadline - now_ms, lease + delay)
redis.call('PEXPIRE', key, int(keep))
if mixed then
  local v = int(math.ceil((now_ms + keep) / 1000))
  redis.call('SET', KEYS[1], v, 'PX', int(keep))
  redis.call('HSET', rec, 'value', v)
end
if limit > 1 then
  redis.call('SET', KEYS[4], int(limit), 'PX', int(math.max(redis.call('PTTL', KEYS[4]), keep)))
end
return {'acquired', fence, now_ms, grace, deadline, ttl, free, now_ms}
