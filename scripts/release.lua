-- release: let go of our lock, keeping it until its grace time has passed, and record
-- this run as NAME's last.
--
-- KEYS[1]  NAME, the lock record (a hash); under CRONLOCK_LIMIT above 1, our slot
-- KEYS[2]  the fence counter of NAME, moved past our fence whenever we let go (deleted or
--          held for grace), so that a renewal of ours still on its way (extend) cannot
--          write the lock back, now or once the grace hold has expired
-- KEYS[3]  NAME's last-run record (a hash), written whatever the reply unless it already
--          holds a newer run (a higher fence): ok_started_ms keeps the start of the last
--          run that exited 0 (CRONLOCK_INTERVAL counts from it), success_ms its end (golock
--          --check and the exporter), ended how the run ended; run_owner, set by acquire
--          under INTERVAL, is cleared: Redis has heard how this run ended
-- ARGV[1]  owner token
-- ARGV[2]  "1" when the command ran, "0" when it could not start (then no grace hold)
-- ARGV[3]  channel to publish the hand-off on, for golocks waiting on NAME
-- ARGV[4]  the command's exit code, -1 when it was never tried (no last-run record)
-- ARGV[5]  host                      ARGV[6] pid    ARGV[7] fence
-- ARGV[8]  acquired_ms               ARGV[9] how long to keep the last-run record, ms
-- ARGV[10] TTL of the fence counter, ms, when it has a shorter one (or none)
-- ARGV[11] how the run ended, for the record: ok, failed, timeout, revoked, replaced; "lost"
--          is recorded instead when NAME is gone or another's
-- ARGV[12] the command line, as the lock record holds it
-- ARGV[13] "1" under CRONLOCK_MIXED_FLEET: NAME is cronlock's string form and KEYS[4] the
--          lock record (see acquire). A grace hold is cronlock's own: NAME set to the second
--          after acquired + GRACE, and expiring at it (EXPIREAT), the record with it; once
--          the grace has passed, both are deleted. NAME is touched only while its value is
--          the one the record says golock wrote.
--
-- Replies:
--   {"released"}                       NAME deleted
--   {"held-grace", ms}                 released_ms set; NAME expires at grace_ms, ms from now
--                                      (never for a lock a CRONLOCK_REPLACE run revoked: its
--                                      replacer is waiting, and the job has ended)
--   {"not-owner", owner, host, pid}    someone else holds NAME: nothing touched
--   {"missing"}                        NAME is gone already (lease ran out, data lost, reset)

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function int(n) return string.format('%.0f', n) end

local mixed = ARGV[13] == '1'
local kind = redis.call('TYPE', KEYS[1]).ok
local r = {}
if kind == 'hash' then
  r = redis.call('HMGET', KEYS[1], 'owner', 'host', 'pid', 'grace_ms', 'revoked_host')
elseif mixed and kind == 'string' and redis.call('PTTL', KEYS[1]) > 0
    and redis.call('HGET', KEYS[4], 'value') == redis.call('GET', KEYS[1]) then
  r = redis.call('HMGET', KEYS[4], 'owner', 'host', 'pid', 'grace_ms', 'revoked_host')
end
local ours = r[1] == ARGV[1]
if mixed and not ours and redis.call('HGET', KEYS[4], 'owner') == ARGV[1] then
  redis.call('DEL', KEYS[4]) -- our record, describing a lock that is gone or another's
end

local last = redis.call('HMGET', KEYS[3], 'run_owner', 'fence')
if last[1] == ARGV[1] then
  redis.call('HDEL', KEYS[3], 'run_owner', 'run_started_ms')
end
local newest = tonumber(last[2] or '0') or 0
if ARGV[4] ~= '-1' and tonumber(ARGV[7]) >= newest then
  local ended = ARGV[11]
  if not ours then ended = 'lost' end
  local fields = {'host', ARGV[5], 'pid', ARGV[6], 'fence', ARGV[7], 'started_ms', ARGV[8],
    'ended_ms', int(now_ms), 'exit', ARGV[4], 'ran', ARGV[2], 'ended', ended, 'cmd', ARGV[12]}
  -- A success is a job that exited 0 and was not stopped: one that exits 0 on the SIGTERM
  -- of a reset or a replacing run did not finish its work.
  if ARGV[2] == '1' and ARGV[4] == '0' and ARGV[11] == 'ok' then
    fields[#fields + 1], fields[#fields + 2] = 'ok_started_ms', ARGV[8]
    fields[#fields + 1], fields[#fields + 2] = 'success_ms', int(now_ms)
  end
  redis.call('HSET', KEYS[3], unpack(fields))
  redis.call('PEXPIRE', KEYS[3], ARGV[9])
end

local function retire()
  local prev = tonumber(redis.call('GET', KEYS[2]) or '0') or 0
  redis.call('SET', KEYS[2], int(prev + 1), 'PX',
    int(math.max(redis.call('PTTL', KEYS[2]), tonumber(ARGV[10]))))
end

if kind == 'none' then
  retire()
  return {'missing'}
end
if not ours then return {'not-owner', r[1] or '', r[2] or '', r[3] or ''} end

local grace = tonumber(r[4]) or 0
if mixed and ARGV[2] == '1' and now_ms < grace and not r[5] then
  local second = math.floor(grace / 1000) + 1 -- cronlock's expire_at_min
  redis.call('SET', KEYS[1], int(second))
  redis.call('EXPIREAT', KEYS[1], int(second))
  redis.call('HSET', KEYS[4], 'released_ms', int(now_ms), 'value', int(second))
  redis.call('PEXPIREAT', KEYS[4], int(second * 1000))
  retire()
  return {'held-grace', second * 1000 - now_ms}
end
if ARGV[2] == '1' and now_ms < grace and not r[5] then
  redis.call('HSET', KEYS[1], 'released_ms', int(now_ms))
  redis.call('PEXPIRE', KEYS[1], int(grace - now_ms))
  retire()
  return {'held-grace', grace - now_ms}
end
redis.call('DEL', KEYS[1])
if mixed then redis.call('DEL', KEYS[4]) end
retire()
redis.call('PUBLISH', ARGV[3], 'released')
return {'released'}
