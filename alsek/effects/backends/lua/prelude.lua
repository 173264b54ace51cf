-- prelude.lua: helpers shared by the queue scripts (prepended to each of them).
-- Keys of queue q in namespace ns (alsek/pure/redis_keys.py builds the same in Python);
-- each carries the queue's hash tag {ns:q}, so that they share one Redis Cluster slot:
--   ns:index:{ns:q}:entries        HASH  name -> "kind|priority|member"
--   ns:index:{ns:q}:ready:KIND     ZSET  score = priority, member = "ready|created|uuid|name"
--     (KIND: the message's slot kind, thread, process or async)
--   ns:index:{ns:q}:delayed        ZSET  score = ready_at, member = name
--   ns:index:{ns:q}:leased         ZSET  score = lease deadline, member = name
--   ns:index:{ns:q}:leases         HASH  name -> lease token
--   ns:index:{ns:q}:deliveries     HASH  name -> deliveries since the last retry
--   ns:index:{ns:q}:submits        HASH  name -> token of the call that submitted it
--   ns:index:{ns:q}:signal         LIST  wake-up tokens for blocked consumers
--   ns:queues:{ns:q}:tasks:...     the payload of message queues:q:tasks:... (key_of)
-- and ns:index:queues, the SET of every queue ever used, kept by register(q).
-- KEYS: none from a single primary's client; from a cluster client, one key of the
-- queue's slot (routing only). A script run with KEYS touches that slot only, and
-- leaves the registry to the client.
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
-- Keys are built from prefixes kept per queue (a script builds many; this is cheaper
-- than concatenating the namespace and the tag every time).
local tags, prefixes, keyed = {}, {}, {}
local function tag(q)
  local t = tags[q]
  if not t then t = '{' .. ns .. ':' .. q .. '}'; tags[q] = t end
  return t
end
local function idx(q, s)
  local p = prefixes[q]
  if not p then p = ns .. ':index:' .. tag(q) .. ':'; prefixes[q] = p end
  return p .. s
end
-- The key of a stored name: a message (or its dead letter, 'dlq:' .. name) carries the
-- tag of the queue its name says.
local function key_of(name)
  local q = string.match(name, '^queues:([^:]+)')
  if q then
    local p = keyed[q]
    if not p then p = ns .. ':queues:' .. tag(q); keyed[q] = p end
    return p .. string.sub(name, 8 + #q)
  end
  q = string.match(name, '^dlq:queues:([^:]+)')
  if q then return ns .. ':dlq:queues:' .. tag(q) .. string.sub(name, 12 + #q) end
  return ns .. ':' .. name
end
local function register(q)
  if #KEYS == 0 then redis.call('SADD', ns .. ':index:queues', q) end
end
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
      or redis.call('EXISTS', key_of(name)) == 1
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
  redis.call('DEL', key_of(name))
end
