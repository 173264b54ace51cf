-- cancel_waiting.lua: remove a queued or delayed message unless it is running.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, now, virtual.
-- Reply: 'removed', 'running' (a live lease holds it) or 'missing'.
-- Runs after prelude.lua.
local q, name = ARGV[2], ARGV[3]
local now = clock(ARGV[4], ARGV[5])
local deadline = redis.call('ZSCORE', idx(q, 'leased'), name)
if deadline and tonumber(deadline) > now then return 'running' end
if redis.call('HEXISTS', idx(q, 'entries'), name) == 0
  and redis.call('EXISTS', key_of(name)) == 0 then
  return 'missing'
end
forget(q, name)
return 'removed'
