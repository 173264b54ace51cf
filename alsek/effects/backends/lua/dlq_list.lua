-- dlq_list.lua: a queue's dead letters by failure time (expired entries pruned first).
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, since ('' = any time).
-- Reply: {name, failed_at, ...}, oldest first.
-- Runs after prelude.lua and dlq.lua.
local q = ARGV[2]
local now = dlq_now()
while dlq_prune(q, now, 1000) == 1000 do end

local low = ARGV[3] == '' and '-inf' or ARGV[3]
return redis.call('ZRANGEBYSCORE', dlq(q, 'by_time'), low, '+inf', 'WITHSCORES')
