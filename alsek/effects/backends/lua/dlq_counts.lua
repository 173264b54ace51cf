-- dlq_counts.lua: how many dead letters a queue has; entries whose record is gone are
-- dropped.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue.
-- Reply: the count.
-- Runs after prelude.lua and dlq.lua.
local q = ARGV[2]
local now = dlq_now()
while dlq_prune(q, now, 1000) == 1000 do end

local count = 0
for _, name in ipairs(redis.call('ZRANGE', dlq(q, 'by_time'), 0, -1)) do
  if redis.call('EXISTS', key_of('dlq:' .. name)) == 1 then
    count = count + 1
  else
    dlq_unindex(q, name)
  end
end
return count
