-- cancel_waiting.lua: remove a queued or delayed message unless it is running.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, now, virtual.
-- Reply: 'removed', 'running' (a live lease holds it) or 'missing'.
-- Runs after prelude.lua.
local q, name = ARGV[2], ARGV[3]
local now = clock(ARGV[4], ARGV[5])
local deadline = admin().lease_deadline(q, name)
if deadline and deadline > now then return 'running' end
if not hold(q, name, '') then return 'missing' end
redis.call('DEL', key_of(name))
return 'removed'
