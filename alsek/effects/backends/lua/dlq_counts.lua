-- dlq_counts.lua: dead letters per queue; entries whose record is gone are dropped.
-- KEYS: none; every key is built from the namespace ns (ARGV[1]).
-- ARGV: ns.
-- Reply: {1, queue, count, ...} ('?' for names that are not message names), or {0}
--        when the index is not built.
-- Runs after prelude.lua and dlq.lua.
if redis.call('EXISTS', dlq('indexed')) == 0 then return {0} end
local now = dlq_now()
while dlq_prune(now, 1000) == 1000 do end

local tally = {}
for _, name in ipairs(redis.call('ZRANGE', dlq('by_time'), 0, -1)) do
  if redis.call('EXISTS', ns .. ':dlq:' .. name) == 1 then
    local q = string.match(name, '^queues:([^:]*):tasks:[^:]*:messages:[^:]*$') or '?'
    tally[q] = (tally[q] or 0) + 1
  else
    dlq_unindex(name)
  end
end
local out = {1}
for q, n in pairs(tally) do
  table.insert(out, q)
  table.insert(out, n)
end
return out
