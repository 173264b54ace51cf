-- claim.lua: ack the finished messages that ride along, then lease up to one
-- message per token, queue by queue in the given order (all known queues, sorted,
-- when none is given), best priority first across the given kinds. Due delayed
-- entries and expired leases are moved back to ready first, in bulk (bounded).
-- KEYS: none; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, now, virtual, lease_ms, n_kinds, (kind, cap)..., n_queues, queue..., n_tokens,
--       token..., n_acks, (queue, name, token)...   (a kind is a slot kind: thread,
--       process or async; no more messages of a kind are taken than its cap)
-- Reply: {next_wake or -1, n_acks, ack result (1|0)..., then 7 fields per claim:
--         name, queue, value, token, deliveries, deadline, kind}.
--        next_wake (set only when fewer claims than tokens) and deadlines are in
--        the caller's clock; a value is the stored one, header included. Parsed in
--        one place: redis_claims.parse_claim_reply.
-- Runs after prelude.lua.
local now, shift = clock(ARGV[2], ARGV[3])
local lease = tonumber(ARGV[4])
local i = 5
local kinds, caps, taken, queues, tokens = {}, {}, {}, {}, {}
for j = 1, tonumber(ARGV[i]) do
  kinds[j] = ARGV[i + 2 * j - 1]
  caps[kinds[j]] = tonumber(ARGV[i + 2 * j])
  taken[kinds[j]] = 0
end
i = i + 2 * tonumber(ARGV[i]) + 1
for j = 1, tonumber(ARGV[i]) do queues[j] = ARGV[i + j] end
local n_queues = tonumber(ARGV[i])
i = i + n_queues + 1
for j = 1, tonumber(ARGV[i]) do tokens[j] = ARGV[i + j] end
i = i + tonumber(ARGV[i]) + 1
local n_acks = tonumber(ARGV[i] or '0')

-- Acks: fenced ones grouped by queue, so that many cost three commands, one costs two.
local acked, fenced = {}, {}
for j = 1, n_acks do
  local q, name, token = ARGV[i + 3 * j - 2], ARGV[i + 3 * j - 1], ARGV[i + 3 * j]
  if token == '' then
    local held = hold(q, name, token)
    if held then redis.call('DEL', ns .. ':' .. name) end
    acked[j] = held and 1 or 0
  else
    fenced[q] = fenced[q] or {}
    table.insert(fenced[q], {j, name, name .. '|' .. token})
  end
end
for q, list in pairs(fenced) do
  local key = idx(q, 'leased')
  if #list == 1 then
    local j, name, m = list[1][1], list[1][2], list[1][3]
    acked[j] = redis.call('ZREM', key, m)
    if acked[j] == 1 then redis.call('DEL', ns .. ':' .. name) end
  else
    local members = {}
    for n, a in ipairs(list) do members[n] = a[3] end
    local scores = redis.call('ZMSCORE', key, unpack(members))
    local held, gone = {}, {}
    for n, a in ipairs(list) do
      acked[a[1]] = scores[n] and 1 or 0
      if scores[n] then
        table.insert(held, a[3])
        table.insert(gone, ns .. ':' .. a[2])
      end
    end
    if #held > 0 then
      redis.call('ZREM', key, unpack(held))
      redis.call('DEL', unpack(gone))
    end
  end
end
if n_queues == 0 then
  queues = redis.call('SMEMBERS', ns .. ':index:queues')
  table.sort(queues)
end

-- Due delayed entries and expired leases of q back to ready, in bulk.
local function prepare(q)
  local moved = false
  local due = redis.call('ZRANGEBYSCORE', idx(q, 'delayed'), '-inf', now, 'LIMIT', 0, 1000)
  if #due > 0 then
    local adds = {}
    for _, e in ipairs(due) do
      if string.sub(e, 1, 7) == 'queues:' then
        place_legacy(q, e)
      else
        local k, prio, m = string.match(e, '^(.)(%-?%d+)|(.*)$')
        local kind = KINDS[k]
        adds[kind] = adds[kind] or {}
        table.insert(adds[kind], prio)
        table.insert(adds[kind], m)
      end
    end
    for kind, args in pairs(adds) do redis.call('ZADD', idx(q, 'ready:' .. kind), unpack(args)) end
    redis.call('ZREM', idx(q, 'delayed'), unpack(due))
    moved = true
  end
  local expired = redis.call('ZRANGEBYSCORE', idx(q, 'leased'), '-inf', now, 'LIMIT', 0, 1000)
  if #expired > 0 then
    for _, e in ipairs(expired) do
      local name = string.match(e, '^([^|]*)|')
      if name == nil then
        redis.call('HDEL', idx(q, 'leases'), e)
        place_legacy(q, e)
      else
        local key = ns .. ':' .. name
        local v = redis.call('GET', key)
        local k, r, c, prio, d, sub, at = header(v)
        if k then
          -- The lapsed lease counts as a delivery.
          redis.call('SET', key, value(k, r, c, prio, tonumber(d) + 1, sub, string.sub(v, at)))
          redis.call('ZADD', idx(q, 'ready:' .. KINDS[k]), prio, member_of(name, r, c))
        end
      end
    end
    redis.call('ZREM', idx(q, 'leased'), unpack(expired))
    moved = true
  end
  if moved then signal(q) end
end

-- Text order as the sorted sets compare (bytes), whatever the server's locale.
local function before(a, b)
  for n = 1, math.min(#a, #b) do
    local x, y = string.byte(a, n), string.byte(b, n)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- The name, R, C of a ready member, and whether it is from before this layout.
local function parse_member(q, m)
  if string.byte(m, 16) == 124 then
    local ready, created, name = string.match(m, '^(%d+)|(%d+)|[^|]*|(.*)$')
    return name, b64(tonumber(ready)), b64(tonumber(created)), true
  end
  return name_of(q, m), string.sub(m, 1, 8), string.sub(m, 9, 16), false
end

-- A popped entry's message, as {name, value, deliveries, kind}; nil when the entry
-- is stale (the message is gone, or was placed again since).
local function adopt(q, name, v, kind, prio, r, c, legacy)
  local d = 0
  if v then
    local k, r2, c2, _, d2 = header(v)
    if k then
      if legacy or r2 ~= r or c2 ~= c then return nil end
      d = tonumber(d2)
    else
      -- Stored without a header (before this layout, or written over): give it one.
      if legacy then d = tonumber(redis.call('HGET', idx(q, 'deliveries'), name) or '0') end
      v = value(string.sub(kind, 1, 1), r, c, prio, d, '', v)
      redis.call('SET', ns .. ':' .. name, v)
    end
  end
  if legacy then forget_legacy(q, name) end
  if not v then return nil end
  return {name, v, d + 1, kind}
end

-- Up to n of q's best ready messages of the open kinds.
local function take(q, open, n)
  local got = {}
  while #got < n do
    local picks, asked = {}, 1
    if #open == 1 then
      local kind = open[1]
      asked = math.min(n - #got, caps[kind] - taken[kind])
      if asked <= 0 then break end
      local r = redis.call('ZPOPMIN', idx(q, 'ready:' .. kind), asked)
      for j = 1, #r, 2 do table.insert(picks, {r[j], r[j + 1], kind}) end
    else
      -- The heads of each kind's set, merged in order within the caps.
      asked = n - #got
      local heads, removed = {}, {}
      for _, kind in ipairs(open) do
        local room = math.min(asked, caps[kind] - taken[kind])
        if room > 0 then
          local r = redis.call('ZRANGE', idx(q, 'ready:' .. kind), 0, room - 1, 'WITHSCORES')
          heads[kind] = {r = r, at = 1, room = room}
        end
      end
      while #picks < asked do
        local bk, bm, bs, braw = nil, nil, nil, nil
        for _, kind in ipairs(open) do
          local h = heads[kind]
          if h and h.at < #h.r and h.room > 0 then
            local m, raw = h.r[h.at], h.r[h.at + 1]
            local s = tonumber(raw)
            if bk == nil or s < bs or (s == bs and before(m, bm)) then
              bk, bm, bs, braw = kind, m, s, raw
            end
          end
        end
        if bk == nil then break end
        heads[bk].at = heads[bk].at + 2
        heads[bk].room = heads[bk].room - 1
        table.insert(picks, {bm, braw, bk})
        removed[bk] = removed[bk] or {}
        table.insert(removed[bk], bm)
      end
      for _, kind in ipairs(open) do
        if removed[kind] then redis.call('ZREM', idx(q, 'ready:' .. kind), unpack(removed[kind])) end
      end
    end
    if #picks == 0 then break end
    local names, rs, cs, legacy, keys = {}, {}, {}, {}, {}
    for j, p in ipairs(picks) do
      names[j], rs[j], cs[j], legacy[j] = parse_member(q, p[1])
      keys[j] = ns .. ':' .. names[j]
    end
    local values = redis.call('MGET', unpack(keys))
    for j, p in ipairs(picks) do
      local g = adopt(q, names[j], values[j], p[3], p[2], rs[j], cs[j], legacy[j])
      if g then
        taken[p[3]] = taken[p[3]] + 1
        table.insert(got, g)
      end
    end
    if #picks < asked then break end
  end
  return got
end

local out = {-1, n_acks}
for j = 1, n_acks do table.insert(out, acked[j]) end
local claimed = 0
for _, q in ipairs(queues) do
  if claimed >= #tokens then break end
  local open = {}
  for _, kind in ipairs(kinds) do
    if taken[kind] < caps[kind] then table.insert(open, kind) end
  end
  if #open == 0 then break end
  prepare(q)
  local got = take(q, open, #tokens - claimed)
  if #got > 0 then
    local deadline, leases = now + lease, {}
    for _, g in ipairs(got) do
      claimed = claimed + 1
      local token = tokens[claimed]
      table.insert(leases, deadline)
      table.insert(leases, g[1] .. '|' .. token)
      for _, x in ipairs({g[1], q, g[2], token, g[3], deadline - shift, g[4]}) do
        table.insert(out, x)
      end
    end
    redis.call('ZADD', idx(q, 'leased'), unpack(leases))
  end
end
if claimed < #tokens then
  -- The next change: a delayed entry becoming ready (one already due is ready, for a
  -- consumer with no room for it), or a lease running out.
  local wake = nil
  for _, q in ipairs(queues) do
    local later = string.format('(%.0f', now)
    for _, r in ipairs({
      redis.call('ZRANGEBYSCORE', idx(q, 'delayed'), later, '+inf', 'WITHSCORES', 'LIMIT', 0, 1),
      redis.call('ZRANGE', idx(q, 'leased'), 0, 0, 'WITHSCORES'),
    }) do
      if #r > 0 then
        local t = tonumber(r[2])
        if wake == nil or t < wake then wake = t end
      end
    end
  end
  if wake then out[1] = wake - shift end
end
return out
