-- dlq_index.lua: index records found by a scan (those gone meanwhile are skipped)
-- and mark the index as built.
-- KEYS: none; every key is built from the namespace ns (ARGV[1]).
-- ARGV: ns, (name, failed_at, ttl ms or -1)...
-- Reply: how many were indexed.
-- Runs after prelude.lua and dlq.lua.
local now = dlq_now()
local added = 0
for i = 2, #ARGV, 3 do
  local name, ttl = ARGV[i], tonumber(ARGV[i + 2])
  if redis.call('EXISTS', ns .. ':dlq:' .. name) == 1 then
    dlq_index(name, ARGV[i + 1], ttl < 0 and '+inf' or now + ttl)
    added = added + 1
  end
end
redis.call('SET', dlq('indexed'), '1')
return added
