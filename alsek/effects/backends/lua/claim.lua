-- claim.lua: ack the finished messages that ride along, then lease up to one
-- message per token, queue by queue in the given order (all known queues, sorted,
-- when none is given), best priority first across the given kinds. Due delayed
-- entries and expired leases are moved back to ready first, in bulk (bounded), once
-- the queue's due time has come.
-- KEYS: see prelude.lua (a cluster client gives one queue, and acks of that queue only);
--       every key is built from the namespace ns (ARGV[1]) and the queues.
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
local out = {-1, n_acks}

-- Acks: one fenced ack costs two commands; more, of one queue, three in all.
local fenced = nil
for j = 1, n_acks do
  local q, name, token = ARGV[i + 3 * j - 2], ARGV[i + 3 * j - 1], ARGV[i + 3 * j]
  if token == '' then
    local held = hold(q, name, token)
    if held then redis.call('DEL', key_of(name)) end
    out[2 + j] = held and 1 or 0
  elseif n_acks == 1 then
    out[3] = redis.call('ZREM', idx(q, 'leased'), name .. '|' .. token)
    if out[3] == 1 then redis.call('DEL', key_of(name)) end
  else
    fenced = fenced or {}
    fenced[q] = fenced[q] or {}
    table.insert(fenced[q], j)
  end
end
for q, list in pairs(fenced or {}) do
  local key, members = idx(q, 'leased'), {}
  for n, j in ipairs(list) do members[n] = ARGV[i + 3 * j - 1] .. '|' .. ARGV[i + 3 * j] end
  local scores = redis.call('ZMSCORE', key, unpack(members))
  local held, gone = {}, {}
  for n, j in ipairs(list) do
    out[2 + j] = scores[n] and 1 or 0
    if scores[n] then
      held[#held + 1] = members[n]
      gone[#gone + 1] = key_of(ARGV[i + 3 * j - 1])
    end
  end
  if #held > 0 then
    redis.call('ZREM', key, unpack(held))
    redis.call('DEL', unpack(gone))
  end
end
if n_queues == 0 then
  queues = redis.call('SMEMBERS', ns .. ':index:queues')
  table.sort(queues)
end

-- Due delayed entries and expired leases of q back to ready, in bulk; returns q's
-- due time afterwards (as stored).
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
        local key = key_of(name)
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
  -- The next time something may be due (more than 1000 due entries: now, to look again).
  local next = nil
  if #due < 1000 and #expired < 1000 then
    for _, s in ipairs({'delayed', 'leased'}) do
      local r = redis.call('ZRANGE', idx(q, s), 0, 0, 'WITHSCORES')
      if #r > 0 and (next == nil or tonumber(r[2]) < next) then next = tonumber(r[2]) end
    end
  else
    next = now
  end
  local h = next and string.format('%.0f', next) or 'none'
  redis.call('SET', idx(q, 'due'), h)
  return h
end

-- Text order as the sorted sets compare (bytes), whatever the server's locale.
local function before(a, b)
  for n = 1, math.min(#a, #b) do
    local x, y = string.byte(a, n), string.byte(b, n)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Pop up to n of q's best ready entries of the open kinds (member, priority, kind each,
-- in three lists); the second answer is whether the sets may hold more.
local function pop(q, open, n)
  local ms, ps, ks = {}, {}, {}
  if #open == 1 then
    local kind = open[1]
    n = math.min(n, caps[kind] - taken[kind])
    if n <= 0 then return ms, ps, ks, false end
    local r = redis.call('ZPOPMIN', idx(q, 'ready:' .. kind), n)
    for j = 1, #r, 2 do
      ms[#ms + 1], ps[#ps + 1], ks[#ks + 1] = r[j], r[j + 1], kind
    end
    return ms, ps, ks, #ms == n
  end
  -- The heads of each kind's set, merged in order within the caps.
  local heads = {}
  for _, kind in ipairs(open) do
    local room = math.min(n, caps[kind] - taken[kind])
    if room > 0 then
      local r = redis.call('ZRANGE', idx(q, 'ready:' .. kind), 0, room - 1, 'WITHSCORES')
      heads[kind] = {r = r, at = 1, room = room}
    end
  end
  local removed = {}
  while #ms < n do
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
    ms[#ms + 1], ps[#ps + 1], ks[#ks + 1] = bm, braw, bk
    removed[bk] = removed[bk] or {}
    table.insert(removed[bk], bm)
  end
  for _, kind in ipairs(open) do
    if removed[kind] then redis.call('ZREM', idx(q, 'ready:' .. kind), unpack(removed[kind])) end
  end
  return ms, ps, ks, #ms == n
end

-- A popped entry's stored value and deliveries, or nil when the entry is stale (the
-- message is gone, or was placed again since). A value stored before this layout (or
-- written over by hand) is given its header, from the entry.
local function adopt(q, name, v, kind, prio, m)
  local legacy = string.byte(m, 16) == 124
  local r, c
  if legacy then
    local ready, created = string.match(m, '^(%d+)|(%d+)|')
    r, c = b64(tonumber(ready)), b64(tonumber(created))
  else
    r, c = string.sub(m, 1, 8), string.sub(m, 9, 16)
  end
  local d = 0
  if v and string.byte(v, 1) == 64 and (string.sub(v, 3, 18) == r .. c or header(v)) then
    if legacy or string.sub(v, 3, 18) ~= r .. c then return nil end
    local bar = string.find(v, '|', 19, true)
    d = tonumber(string.sub(v, bar + 1, string.find(v, '|', bar + 1, true) - 1))
  elseif v then
    if legacy then d = tonumber(redis.call('HGET', idx(q, 'deliveries'), name) or '0') end
    v = value(string.sub(kind, 1, 1), r, c, prio, d, '', v)
    redis.call('SET', key_of(name), v)
  end
  if legacy then forget_legacy(q, name) end
  return v, d
end

local claimed, deadline = 0, now + lease
for _, q in ipairs(queues) do
  if claimed >= #tokens then break end
  local open = {}
  for _, kind in ipairs(kinds) do
    if taken[kind] < caps[kind] then open[#open + 1] = kind end
  end
  if #open == 0 then break end
  local due = redis.call('GET', idx(q, 'due'))
  if not due or (due ~= 'none' and tonumber(due) <= now) then due = prepare(q) end
  local leases = {}
  while claimed < #tokens do
    local ms, ps, ks, more = pop(q, open, #tokens - claimed)
    if #ms == 0 then break end
    local names, keys = {}, {}
    for j, m in ipairs(ms) do
      names[j] = string.byte(m, 16) == 124 and string.match(m, '^[^|]*|[^|]*|[^|]*|(.*)$')
        or name_of(q, m)
      keys[j] = key_of(names[j])
    end
    local values = redis.call('MGET', unpack(keys))
    for j, m in ipairs(ms) do
      local v, d = adopt(q, names[j], values[j], ks[j], ps[j], m)
      if v then
        claimed = claimed + 1
        taken[ks[j]] = taken[ks[j]] + 1
        local token = tokens[claimed]
        leases[#leases + 1] = deadline
        leases[#leases + 1] = names[j] .. '|' .. token
        local at = #out
        out[at + 1], out[at + 2], out[at + 3], out[at + 4] = names[j], q, v, token
        out[at + 5], out[at + 6], out[at + 7] = d + 1, deadline - shift, ks[j]
      end
    end
    if not more then break end
  end
  if #leases > 0 then
    redis.call('ZADD', idx(q, 'leased'), unpack(leases))
    lower_due(q, deadline, due)
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
