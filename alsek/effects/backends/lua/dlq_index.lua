-- dlq_index.lua: index records of a queue found by a scan (those gone meanwhile are
-- skipped); the client marks the index as built once every queue is done.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, (name, failed_at, ttl ms or -1)...
-- Reply: how many were indexed.
-- Runs after prelude.lua and dlq.lua.
local q = ARGV[2]
local now = dlq_now()
local added = 0
for i = 3, #ARGV, 3 do
  local name, ttl = ARGV[i], tonumber(ARGV[i + 2])
  if redis.call('EXISTS', key_of('dlq:' .. name)) == 1 then
    dlq_index(q, name, ARGV[i + 1], ttl < 0 and '+inf' or now + ttl)
    added = added + 1
  end
end
return added
