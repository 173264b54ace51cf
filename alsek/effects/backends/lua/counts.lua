-- counts.lua: a queue's depth by state (due delayed entries count as ready).
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, now, virtual.
-- Reply: {ready, delayed, leased}.
-- Runs after prelude.lua.
local q = ARGV[2]
local now = clock(ARGV[3], ARGV[4])
local due = redis.call('ZCOUNT', idx(q, 'delayed'), '-inf', now)
local ready = redis.call('ZCARD', idx(q, 'ready:thread'))
  + redis.call('ZCARD', idx(q, 'ready:process'))
  + redis.call('ZCARD', idx(q, 'ready:async')) + due
local delayed = redis.call('ZCARD', idx(q, 'delayed')) - due
return {ready, delayed, redis.call('ZCARD', idx(q, 'leased'))}
