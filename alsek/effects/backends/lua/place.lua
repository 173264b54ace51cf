-- place.lua: where a queued message is (for inspect).
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, now, virtual.
-- Reply: {state ('ready'|'delayed'|'running'), deliveries, ready_in, lease_left}
--        (lease_left -1 when not running), or nil when the message is not queued.
-- Runs after prelude.lua.
local q, name = ARGV[2], ARGV[3]
local now = clock(ARGV[4], ARGV[5])
local e = redis.call('HGET', idx(q, 'entries'), name)
if not e then return false end
local mech, prio, member = parse(e)
local ready = tonumber(string.sub(member, 1, 15))
local d = tonumber(redis.call('HGET', idx(q, 'deliveries'), name) or '0')
local deadline = redis.call('ZSCORE', idx(q, 'leased'), name)
if deadline and tonumber(deadline) > now then
  return {'running', d, ready - now, tonumber(deadline) - now}
end
if ready > now then return {'delayed', d, ready - now, -1} end
return {'ready', d, ready - now, -1}
