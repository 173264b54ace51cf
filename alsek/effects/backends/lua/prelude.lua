-- prelude.lua: helpers shared by the queue scripts (prepended to each of them).
-- Keys of queue q in namespace ns:
--   ns:index:queues              SET   every queue ever used
--   ns:index:q:entries           HASH  name -> "kind|priority|member"
--   ns:index:q:ready:{kind}      ZSET  score = priority, member = "ready|created|uuid|name"
--     (kind: the message's slot kind, thread, process or async)
--   ns:index:q:delayed           ZSET  score = ready_at, member = name
--   ns:index:q:leased            ZSET  score = lease deadline, member = name
--   ns:index:q:leases            HASH  name -> lease token
--   ns:index:q:deliveries        HASH  name -> deliveries since the last retry
--   ns:index:q:submits           HASH  name -> token of the call that submitted it
--   ns:index:q:signal            LIST  wake-up tokens for blocked consumers
-- Equal priorities order by member: zero-padded ready time, creation time, uuid,
-- then name (exact, unlike a packed double).
-- Clocks: scripts take the caller's now and a virtual flag. Normally the server's
-- TIME decides (ready times and deadlines are server times; a caller's ready time
-- is read as a delay from the caller's now; times sent back are in the caller's
-- clock), so client skew or a claim that waited behind a blocking pop cannot be
-- granted an expired lease. With virtual = '1' (a manual clock) times are used as given.
local ns = ARGV[1]
if redis.replicate_commands then redis.replicate_commands() end
-- now: the server's time in ms (or the caller's, when virtual); shift: how far
-- the caller's clock is behind it (add to a caller's time to get a server time).
local function clock(client_now, virtual)
  local caller = tonumber(client_now)
  if virtual == '1' then return caller, 0 end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return now, now - caller
end
-- The index entry "mechanism|priority|member" of a message ready at ready_at
-- (server time); tail is "created|uuid|name".
local function entry_of(mech, prio, ready_at, tail)
  return mech .. '|' .. prio .. '|' .. string.format('%015d', ready_at) .. '|' .. tail
end
local function idx(q, s) return ns .. ':index:' .. q .. ':' .. s end
local function parse(e)
  return string.match(e, '^([^|]*)|([^|]*)|(.*)$')
end
local function member_name(member)
  return string.match(member, '^[^|]*|[^|]*|[^|]*|(.*)$')
end
local function unindex(q, name)
  -- Every set that holds a name has its entry: no entry, nothing to remove.
  local e = redis.call('HGET', idx(q, 'entries'), name)
  if not e then return end
  local mech, prio, member = parse(e)
  redis.call('ZREM', idx(q, 'ready:' .. mech), member)
  redis.call('ZREM', idx(q, 'delayed'), name)
  redis.call('ZREM', idx(q, 'leased'), name)
  redis.call('HDEL', idx(q, 'leases'), name)
end
local function place(q, name, e, ready_at, now)
  redis.call('HSET', idx(q, 'entries'), name, e)
  if ready_at <= now then
    local mech, prio, member = parse(e)
    redis.call('ZADD', idx(q, 'ready:' .. mech), prio, member)
    local sig = idx(q, 'signal')
    if redis.call('LLEN', sig) < 16 then redis.call('RPUSH', sig, '1') end
  else
    redis.call('ZADD', idx(q, 'delayed'), ready_at, name)
    -- A sleeping consumer may be waiting past this ready time: let it look again.
    local sig = idx(q, 'signal')
    if redis.call('LLEN', sig) < 16 then redis.call('RPUSH', sig, '1') end
  end
end
local function holds(q, name, token)
  if token == '' then
    return redis.call('HEXISTS', idx(q, 'entries'), name) == 1
      or redis.call('EXISTS', ns .. ':' .. name) == 1
  end
  return redis.call('HGET', idx(q, 'leases'), name) == token
end
-- leased: the caller proved the lease with its token, so the message sits in the
-- leased set only (not ready, not delayed).
local function forget(q, name, leased)
  if leased then
    redis.call('ZREM', idx(q, 'leased'), name)
    redis.call('HDEL', idx(q, 'leases'), name)
  else
    unindex(q, name)
  end
  redis.call('HDEL', idx(q, 'entries'), name)
  redis.call('HDEL', idx(q, 'deliveries'), name)
  redis.call('HDEL', idx(q, 'submits'), name)
  redis.call('DEL', ns .. ':' .. name)
end
