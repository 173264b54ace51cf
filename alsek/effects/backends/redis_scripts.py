"""Lua scripts behind the Redis queue index. Each runs atomically on the server.

Per queue ``q`` (inside namespace ``ns``)::

    ns:index:queues              SET   every queue ever used
    ns:index:q:entries           HASH  name -> "kind|priority|member"
    ns:index:q:ready:{kind}      ZSET  score = priority, member = "ready|created|uuid|name"

(``kind`` is the message's slot kind: ``thread``, ``process`` or ``async``.)
    ns:index:q:delayed           ZSET  score = ready_at, member = name
    ns:index:q:leased            ZSET  score = lease deadline, member = name
    ns:index:q:leases            HASH  name -> lease token
    ns:index:q:deliveries        HASH  name -> deliveries since the last retry
    ns:index:q:submits           HASH  name -> token of the call that submitted it
    ns:index:q:signal            LIST  wake-up tokens for blocked consumers

Equal priorities order by member, i.e. lexicographically by zero-padded
ready time, creation time, uuid, then name: exact, unlike a packed double.
A claim is one round trip; its cost is O(log n) plus the entries that
became due or expired since the previous claim (each moved once).

Clocks: every script that reads the time takes the caller's ``now`` and a
``virtual`` flag. Normally the server's ``TIME`` decides: ready times and
lease deadlines are server times, a caller's ready time is read as a delay
from the caller's ``now``, and times sent back are converted to the
caller's clock. So a client whose clock is off, or a claim that waited
behind a blocking pop, can never be granted a lease that is already
expired. With ``virtual = '1'`` (a test's manual clock) the caller's times
are used as given.
"""

PRELUDE = r"""
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
  local e = redis.call('HGET', idx(q, 'entries'), name)
  if e then
    local mech, prio, member = parse(e)
    redis.call('ZREM', idx(q, 'ready:' .. mech), member)
  end
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
local function forget(q, name)
  unindex(q, name)
  redis.call('HDEL', idx(q, 'entries'), name)
  redis.call('HDEL', idx(q, 'deliveries'), name)
  redis.call('HDEL', idx(q, 'submits'), name)
  redis.call('DEL', ns .. ':' .. name)
end
"""

# ARGV: ns, queue, name, payload, mechanism, priority, ready_at, tail, now, virtual, nx,
#       submission token
# A refused nx returns 0, unless the stored message came from this very call: a
# client that retries a call whose reply was lost gets 1 again, not a refusal.
ENQUEUE = (
    PRELUDE
    + r"""
local q, name, payload = ARGV[2], ARGV[3], ARGV[4]
local now, shift = clock(ARGV[9], ARGV[10])
local ready_at = math.max(tonumber(ARGV[7]) + shift, 0)
local key = ns .. ':' .. name
if ARGV[11] == '1' and redis.call('EXISTS', key) == 1 then
  return redis.call('HGET', idx(q, 'submits'), name) == ARGV[12] and 1 or 0
end
unindex(q, name)
redis.call('SET', key, payload)
place(q, name, entry_of(ARGV[5], ARGV[6], ready_at, ARGV[8]), ready_at, now)
redis.call('HSET', idx(q, 'submits'), name, ARGV[12])
redis.call('SADD', ns .. ':index:queues', q)
return 1
"""
)

# ARGV: ns, now, virtual, lease_ms, n_kinds, (kind, cap)..., n_queues, queue..., n_tokens,
#       token..., n_acks, (queue, name, token)...   (acks of finished messages ride along;
#       no more messages of a kind are taken than its cap)
# Returns {next_wake or -1, n_acks, ack result..., name, queue, payload, token,
#          deliveries, deadline, mechanism, ...}; next_wake and deadlines in the
#          caller's clock.
CLAIM = (
    PRELUDE
    + r"""
local now, shift = clock(ARGV[2], ARGV[3])
local lease = tonumber(ARGV[4])
local i = 5
local mechs, caps, taken, queues, tokens = {}, {}, {}, {}, {}
for j = 1, tonumber(ARGV[i]) do
  mechs[j] = ARGV[i + 2 * j - 1]
  caps[mechs[j]] = tonumber(ARGV[i + 2 * j])
  taken[mechs[j]] = 0
end
i = i + 2 * tonumber(ARGV[i]) + 1
for j = 1, tonumber(ARGV[i]) do queues[j] = ARGV[i + j] end
local n_queues = tonumber(ARGV[i])
i = i + n_queues + 1
for j = 1, tonumber(ARGV[i]) do tokens[j] = ARGV[i + j] end
i = i + tonumber(ARGV[i]) + 1
local n_acks = tonumber(ARGV[i] or '0')
local acked = {}
for j = 0, n_acks - 1 do
  local q, name, token = ARGV[i + 1 + 3 * j], ARGV[i + 2 + 3 * j], ARGV[i + 3 + 3 * j]
  if holds(q, name, token) then
    forget(q, name)
    acked[j + 1] = 1
  else
    acked[j + 1] = 0
  end
end
if n_queues == 0 then
  queues = redis.call('SMEMBERS', ns .. ':index:queues')
  table.sort(queues)
end

local prepared = {}
local function prepare(q)
  if prepared[q] then return end
  prepared[q] = true
  local due = redis.call('ZRANGEBYSCORE', idx(q, 'delayed'), '-inf', now, 'LIMIT', 0, 1000)
  for _, name in ipairs(due) do
    redis.call('ZREM', idx(q, 'delayed'), name)
    local e = redis.call('HGET', idx(q, 'entries'), name)
    if e then place(q, name, e, now, now) end
  end
  local expired = redis.call('ZRANGEBYSCORE', idx(q, 'leased'), '-inf', now, 'LIMIT', 0, 1000)
  for _, name in ipairs(expired) do
    redis.call('ZREM', idx(q, 'leased'), name)
    redis.call('HDEL', idx(q, 'leases'), name)
    local e = redis.call('HGET', idx(q, 'entries'), name)
    if e then place(q, name, e, now, now) end
  end
end

local function take(q, token)
  while true do
    local best, best_mech, best_score = nil, nil, nil
    for _, m in ipairs(mechs) do
      local r = {}
      if taken[m] < caps[m] then
        r = redis.call('ZRANGE', idx(q, 'ready:' .. m), 0, 0, 'WITHSCORES')
      end
      if #r > 0 then
        local s = tonumber(r[2])
        if best == nil or s < best_score or (s == best_score and r[1] < best) then
          best, best_mech, best_score = r[1], m, s
        end
      end
    end
    if best == nil then return nil end
    redis.call('ZREM', idx(q, 'ready:' .. best_mech), best)
    local name = member_name(best)
    local payload = redis.call('GET', ns .. ':' .. name)
    if payload then
      local deadline = now + lease
      redis.call('ZADD', idx(q, 'leased'), deadline, name)
      redis.call('HSET', idx(q, 'leases'), name, token)
      local d = redis.call('HINCRBY', idx(q, 'deliveries'), name, 1)
      taken[best_mech] = taken[best_mech] + 1
      return {name, q, payload, token, d, deadline - shift, best_mech}
    end
    -- The message vanished behind the index's back: drop its entry.
    redis.call('HDEL', idx(q, 'entries'), name)
    redis.call('HDEL', idx(q, 'deliveries'), name)
  end
end

local out = {-1, n_acks}
for _, a in ipairs(acked) do table.insert(out, a) end
local claimed = 0
for _, token in ipairs(tokens) do
  local got = nil
  for _, q in ipairs(queues) do
    prepare(q)
    got = take(q, token)
    if got then break end
  end
  if got == nil then break end
  for _, v in ipairs(got) do table.insert(out, v) end
  claimed = claimed + 1
end
if claimed < #tokens then
  local wake = nil
  for _, q in ipairs(queues) do
    for _, s in ipairs({'delayed', 'leased'}) do
      local r = redis.call('ZRANGE', idx(q, s), 0, 0, 'WITHSCORES')
      if #r > 0 then
        local t = tonumber(r[2])
        if wake == nil or t < wake then wake = t end
      end
    end
  end
  if wake then out[1] = wake - shift end
end
return out
"""
)

# ARGV: ns, now, virtual, lease_ms, then (queue, name, token) triples. Returns {0|1, ...}.
RENEW = (
    PRELUDE
    + r"""
local now = clock(ARGV[2], ARGV[3])
local lease = tonumber(ARGV[4])
local out = {}
local i = 5
while i + 2 <= #ARGV do
  local q, name, token = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if redis.call('HGET', idx(q, 'leases'), name) == token then
    redis.call('ZADD', idx(q, 'leased'), 'XX', now + lease, name)
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
  i = i + 3
end
return out
"""
)

# ARGV: ns, queue, name, token ('' = unconditional)
ACK = (
    PRELUDE
    + r"""
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
if not holds(q, name, token) then return 0 end
forget(q, name)
return 1
"""
)

# ARGV: ns, queue, name, token, payload, mechanism, priority, ready_at, tail, now, virtual,
#       mode (keep|reset|uncount)
RELEASE = (
    PRELUDE
    + r"""
local q, name, token, payload = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, shift = clock(ARGV[10], ARGV[11])
local ready_at = math.max(tonumber(ARGV[8]) + shift, 0)
local mode = ARGV[12]
if not holds(q, name, token) then return 0 end
unindex(q, name)
redis.call('SET', ns .. ':' .. name, payload)
place(q, name, entry_of(ARGV[6], ARGV[7], ready_at, ARGV[9]), ready_at, now)
redis.call('SADD', ns .. ':index:queues', q)
if mode == 'reset' then
  redis.call('HDEL', idx(q, 'deliveries'), name)
elseif mode == 'uncount' then
  if redis.call('HINCRBY', idx(q, 'deliveries'), name, -1) <= 0 then
    redis.call('HDEL', idx(q, 'deliveries'), name)
  end
end
return 1
"""
)

# ARGV: ns, queue, name, token, dlq_key ('' = none), dlq_value, dlq_ttl ('' = none)
DEAD_LETTER = (
    PRELUDE
    + r"""
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
local dlq_key, dlq_value, dlq_ttl = ARGV[5], ARGV[6], ARGV[7]
if not holds(q, name, token) then return 0 end
if dlq_key ~= '' then
  if dlq_ttl ~= '' then
    redis.call('SET', dlq_key, dlq_value, 'PX', dlq_ttl)
  else
    redis.call('SET', dlq_key, dlq_value)
  end
end
forget(q, name)
return 1
"""
)

# ARGV: ns, queue, name, token, now, virtual,
#       result key ('' = none), result value, result ttl ('' = none), result signal key,
#       callback queue ('' = none), callback name, callback payload, callback mechanism,
#       callback priority, callback ready_at, callback tail,
#       n_extra, (key, value)...   (written with the result, same ttl)
# Records a success in one atomic step, fenced by the lease token: the result
# (write-once), the callback (unless its name exists) and the ack. Returns 1, or
# 0 (writing nothing) when the lease no longer holds.
SETTLE = (
    PRELUDE
    + r"""
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
if not holds(q, name, token) then return 0 end
local key, value, ttl, signal = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local function put(k, v, only_new)
  if ttl ~= '' and only_new then return redis.call('SET', k, v, 'PX', ttl, 'NX') end
  if ttl ~= '' then return redis.call('SET', k, v, 'PX', ttl) end
  if only_new then return redis.call('SET', k, v, 'NX') end
  return redis.call('SET', k, v)
end
if key ~= '' and put(key, value, true) then
  for i = 1, tonumber(ARGV[18]) do put(ARGV[17 + 2 * i], ARGV[18 + 2 * i], false) end
  redis.call('RPUSH', signal, '1')
  redis.call('PEXPIRE', signal, 60000)
end
local cq, cname = ARGV[11], ARGV[12]
if cq ~= '' and redis.call('EXISTS', ns .. ':' .. cname) == 0 then
  local now, shift = clock(ARGV[5], ARGV[6])
  local ready_at = math.max(tonumber(ARGV[16]) + shift, 0)
  redis.call('SET', ns .. ':' .. cname, ARGV[13])
  place(cq, cname, entry_of(ARGV[14], ARGV[15], ready_at, ARGV[17]), ready_at, now)
  redis.call('SADD', ns .. ':index:queues', cq)
end
forget(q, name)
return 1
"""
)

# ARGV: ns, queue, now, virtual. Returns {ready, delayed, leased}.
COUNTS = (
    PRELUDE
    + r"""
local q = ARGV[2]
local now = clock(ARGV[3], ARGV[4])
local due = redis.call('ZCOUNT', idx(q, 'delayed'), '-inf', now)
local ready = redis.call('ZCARD', idx(q, 'ready:thread'))
  + redis.call('ZCARD', idx(q, 'ready:process'))
  + redis.call('ZCARD', idx(q, 'ready:async')) + due
local delayed = redis.call('ZCARD', idx(q, 'delayed')) - due
return {ready, delayed, redis.call('ZCARD', idx(q, 'leased'))}
"""
)

# ARGV: key, value, ttl ('' = none), nx (1|0), signal key, n_extra, (key, value)...
SET_AND_NOTIFY = r"""
local ttl, nx = ARGV[3], ARGV[4]
local function put(k, v, only_new)
  if ttl ~= '' and only_new then return redis.call('SET', k, v, 'PX', ttl, 'NX') end
  if ttl ~= '' then return redis.call('SET', k, v, 'PX', ttl) end
  if only_new then return redis.call('SET', k, v, 'NX') end
  return redis.call('SET', k, v)
end
if not put(ARGV[1], ARGV[2], nx == '1') then return 0 end
for i = 1, tonumber(ARGV[6]) do put(ARGV[5 + 2 * i], ARGV[6 + 2 * i], false) end
redis.call('RPUSH', ARGV[5], '1')
redis.call('PEXPIRE', ARGV[5], 60000)
return 1
"""

# ARGV: full key, token. Deletes the key only if it holds token.
COMPARE_AND_DELETE = r"""
if redis.call('GET', ARGV[1]) == ARGV[2] then
  return redis.call('DEL', ARGV[1])
end
return 0
"""

# ARGV: full key, token, ttl_ms. Extends the key only if it holds token.
COMPARE_AND_EXPIRE = r"""
if redis.call('GET', ARGV[1]) == ARGV[2] then
  return redis.call('PEXPIRE', ARGV[1], ARGV[3])
end
return 0
"""
