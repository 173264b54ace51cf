-- claim.lua: ack the finished messages that ride along, then lease up to one
-- message per token, queue by queue in the given order (all known queues, sorted,
-- when none is given), best priority first across the given mechanisms. Due
-- delayed entries and expired leases are moved back to ready first (bounded).
-- KEYS: see prelude.lua (a cluster client gives one queue, and acks of that queue only);
--       every key is built from the namespace ns (ARGV[1]) and the queues.
-- ARGV: ns, now, virtual, lease_ms, n_kinds, (kind, cap)..., n_queues, queue..., n_tokens,
--       token..., n_acks, (queue, name, token)...   (a kind is a slot kind: thread,
--       process or async; no more messages of a kind are taken than its cap)
-- Reply: {next_wake or -1, n_acks, ack result (1|0)..., then 7 fields per claim:
--         name, queue, payload, token, deliveries, deadline, mechanism}.
--        next_wake (set only when fewer claims than tokens) and deadlines are in
--        the caller's clock. Parsed in one place: redis_claims.parse_claim_reply.
-- Runs after prelude.lua.
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
    forget(q, name, token ~= '')
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
    local best, best_mech = nil, nil
    if #mechs == 1 then
      if taken[mechs[1]] < caps[mechs[1]] then
        local r = redis.call('ZPOPMIN', idx(q, 'ready:' .. mechs[1]))
        if #r > 0 then best, best_mech = r[1], mechs[1] end
      end
    else
      local best_score = nil
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
      if best ~= nil then redis.call('ZREM', idx(q, 'ready:' .. best_mech), best) end
    end
    if best == nil then return nil end
    local name = member_name(best)
    local payload = redis.call('GET', key_of(name))
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
