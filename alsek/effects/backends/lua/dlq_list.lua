-- dlq_list.lua: dead letters by failure time (expired entries pruned first).
-- KEYS: none; every key is built from the namespace ns (ARGV[1]).
-- ARGV: ns, since ('' = any time).
-- Reply: {1, name, failed_at, ...}, oldest first, or {0} when the index is not built.
-- Runs after prelude.lua and dlq.lua.
if redis.call('EXISTS', dlq('indexed')) == 0 then return {0} end
local now = dlq_now()
while dlq_prune(now, 1000) == 1000 do end

local low = ARGV[2] == '' and '-inf' or ARGV[2]
local found = redis.call('ZRANGEBYSCORE', dlq('by_time'), low, '+inf', 'WITHSCORES')
table.insert(found, 1, 1)
return found
