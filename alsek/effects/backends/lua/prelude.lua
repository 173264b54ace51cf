-- prelude.lua: helpers shared by the queue scripts (prepended to each of them).
-- Keys of queue q in namespace ns (alsek/pure/redis_keys.py builds the same in Python);
-- each carries the queue's hash tag {ns:q}, so that they share one Redis Cluster slot:
--   ns:queues:{ns:q}:tasks:...     STRING the message queues:q:tasks:... (key_of):
--                                         "@{k}{R}{C}{priority}|{d}|{sub}|{payload}"
--   ns:index:{ns:q}:ready:KIND     ZSET  score = priority, member = M
--   ns:index:{ns:q}:delayed        ZSET  score = ready time, member = "{k}{priority}|{M}"
--   ns:index:{ns:q}:leased         ZSET  score = lease deadline, member = "{name}|{token}"
--   ns:index:{ns:q}:signal         LIST  wake-up tokens for blocked consumers
--   ns:index:{ns:q}:due            STRING a time no delayed entry's ready time and no lease
--                                        deadline is before ('none': there are none;
--                                        absent: unknown), so that a claim looks at the
--                                        delayed and leased sets only once something may be due
-- and ns:index:queues, the SET of every queue used, kept by register(q) (called by a
-- submission that finds the queue's signal list short: a full list means earlier
-- submissions registered it).
-- KEYS: none from a single primary's client; from a cluster client, one key of the
-- queue's slot (routing only). A script run with KEYS touches that slot only, and
-- leaves the registry to the client.
-- kind: the message's slot kind (thread, process or async), k its first letter.
-- R, C: its ready and creation times (ms), 8 base-64 digits '0'..'o' (text order is
--   number order). M = R .. C .. uuid .. "\0" .. task .. ":" (in the uuid, \1 becomes
--   \1\2 and \0 becomes \1\1): within one priority, text order is the order of
--   (ready, created, uuid, name), exactly.
-- d: deliveries before the current lease (a claim hands out d + 1; an expired lease
--   adds it to d). sub: the token of the call that submitted it. payload: its compact
--   form (alsek.pure.payload) without the fields this header holds: created_at (C),
--   priority and mechanism (k).
-- Stored before this layout, and still read: a message without the header; a HASH
-- ns:index:{ns:q}:entries of name -> "kind|priority|member", with members
-- "{ready:%015d}|{created:%015d}|{uuid}|{name}" in the same ready sets (so they run
-- before newer messages of their priority); delayed and leased members that are
-- names, and HASHes leases, deliveries and submits keyed by name. A claim converts
-- such a message to this layout.
-- Clocks: scripts take the caller's now and a virtual flag. Normally the server's
-- TIME decides (ready times and deadlines are server times; a caller's ready time
-- is read as a delay from the caller's now; times sent back are in the caller's
-- clock), so client skew or a claim that waited behind a blocking pop cannot be
-- granted an expired lease. With virtual = '1' (a manual clock) times are used as given.
local ns = ARGV[1]
local KINDS = {t = 'thread', p = 'process', a = 'async'}
-- now: the server's time in ms (or the caller's, when virtual); shift: how far
-- the caller's clock is behind it (add to a caller's time to get a server time).
local function clock(client_now, virtual)
  local caller = tonumber(client_now)
  if virtual == '1' then return caller, 0 end
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return now, now - caller
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
local function b64(n)
  local digits = {}
  for i = 8, 1, -1 do
    digits[i] = string.char(48 + n % 64)
    n = math.floor(n / 64)
  end
  return table.concat(digits)
end
-- k, R, C, priority, d, sub and where the payload starts, of a stored value (nil: no header).
local function header(v)
  if not v or string.byte(v, 1) ~= 64 then return nil end
  return string.match(v, '^@(.)(........)(........)(%-?%d+)|(%d+)|([^|]*)|()')
end
local function value(k, r, c, prio, d, sub, payload)
  return '@' .. k .. r .. c .. prio .. '|' .. d .. '|' .. sub .. '|' .. payload
end
local function signal(q)
  local sig = idx(q, 'signal')
  if redis.call('LLEN', sig) < 16 then
    redis.call('RPUSH', sig, '1')
    return true
  end
  return false
end
-- A delayed entry or a lease at time t: the due time is brought forward to it
-- (an unknown one stays unknown; h: the due time already read, if any).
local function lower_due(q, t, h)
  if h == nil then h = redis.call('GET', idx(q, 'due')) end
  if h and (h == 'none' or tonumber(h) > t) then redis.call('SET', idx(q, 'due'), t) end
end
-- Index a waiting message as ready or delayed and wake a consumer (a sleeping one
-- may be waiting past a delayed ready time). True when it signalled.
local function place(q, k, prio, m, ready_at, now)
  if ready_at <= now then
    redis.call('ZADD', idx(q, 'ready:' .. KINDS[k]), prio, m)
  else
    redis.call('ZADD', idx(q, 'delayed'), ready_at, k .. prio .. '|' .. m)
    lower_due(q, ready_at)
  end
  return signal(q)
end
local function member_of(name, r, c)
  local task, uuid = string.match(name, '^queues:[^:]*:tasks:([^:]*):messages:(.*)$')
  uuid = string.gsub(uuid, '[%z\1]', function(ch) return '\1' .. string.char(string.byte(ch) + 1) end)
  return r .. c .. uuid .. '\0' .. task .. ':'
end
local function name_of(q, m)
  local z = string.find(m, '\0', 17, true)
  local uuid = string.sub(m, 17, z - 1)
  if string.find(uuid, '\1', 1, true) then
    uuid = string.gsub(uuid, '\1(.)', function(ch) return string.char(string.byte(ch) - 1) end)
  end
  return 'queues:' .. q .. ':tasks:' .. string.sub(m, z + 1, -2) .. ':messages:' .. uuid
end
-- A message stored before this layout: back to ready from its entry; forgotten.
local function place_legacy(q, name)
  local e = redis.call('HGET', idx(q, 'entries'), name)
  if not e then return end
  local kind, prio, m = string.match(e, '^([^|]*)|([^|]*)|(.*)$')
  redis.call('ZADD', idx(q, 'ready:' .. kind), prio, m)
end
local function forget_legacy(q, name)
  redis.call('HDEL', idx(q, 'entries'), name)
  redis.call('HDEL', idx(q, 'deliveries'), name)
  redis.call('HDEL', idx(q, 'submits'), name)
end
-- Helpers of unconditional (administrative) calls, which find a message wherever it
-- is: made when first needed, since a script makes its helpers on every call.
local admin_helpers = nil
local function admin()
  if admin_helpers then return admin_helpers end
  local function unb64(s)
    local n = 0
    for i = 1, 8 do n = n * 64 + string.byte(s, i) - 48 end
    return n
  end
  -- Drop every lease on name (a scan of the running messages). True when there was one.
  local function drop_leases(q, name)
    local key, cursor, dropped = idx(q, 'leased'), '0', 0
    repeat
      local r = redis.call('ZSCAN', key, cursor, 'MATCH', name .. '|*', 'COUNT', 1000)
      cursor = r[1]
      for i = 1, #r[2], 2 do dropped = dropped + redis.call('ZREM', key, r[2][i]) end
    until cursor == '0'
    dropped = dropped + redis.call('ZREM', key, name)
    redis.call('HDEL', idx(q, 'leases'), name)
    return dropped > 0
  end
  -- The deadline of the latest lease on name, or nil (a scan of the running messages).
  local function lease_deadline(q, name)
    local key, cursor, latest = idx(q, 'leased'), '0', nil
    repeat
      local r = redis.call('ZSCAN', key, cursor, 'MATCH', name .. '|*', 'COUNT', 1000)
      cursor = r[1]
      for i = 2, #r[2], 2 do
        local t = tonumber(r[2][i])
        if latest == nil or t > latest then latest = t end
      end
    until cursor == '0'
    local legacy = redis.call('ZSCORE', key, name)
    return latest or (legacy and tonumber(legacy)) or nil
  end
  -- Take a stored message (v: its value) out of the index, wherever it is. True when
  -- it was leased.
  local function unindex(q, name, v)
    local k, r, c, prio = header(v)
    if k then
      local m = member_of(name, r, c)
      redis.call('ZREM', idx(q, 'ready:' .. KINDS[k]), m)
      redis.call('ZREM', idx(q, 'delayed'), k .. prio .. '|' .. m)
    else
      local e = redis.call('HGET', idx(q, 'entries'), name)
      if e then
        local kind, _, m = string.match(e, '^([^|]*)|([^|]*)|(.*)$')
        redis.call('ZREM', idx(q, 'ready:' .. kind), m)
        redis.call('ZREM', idx(q, 'delayed'), name)
      end
      forget_legacy(q, name)
    end
    return drop_leases(q, name)
  end
  admin_helpers = {unb64 = unb64, lease_deadline = lease_deadline, unindex = unindex}
  return admin_helpers
end
-- A fenced call's check: the lease of token on name is taken away (true), or it no
-- longer holds (false). With token '' (unconditional): name is taken out of the index
-- wherever it is (true), or is not stored (false). Either way its value stays. The
-- second answer says whether it was leased.
local function hold(q, name, token)
  if token ~= '' then
    return redis.call('ZREM', idx(q, 'leased'), name .. '|' .. token) == 1, true
  end
  local v = redis.call('GET', key_of(name))
  if not v and redis.call('HEXISTS', idx(q, 'entries'), name) == 0 then return false, false end
  return true, admin().unindex(q, name, v)
end
