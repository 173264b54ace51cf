-- place.lua: where a queued message is (for inspect).
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, now, virtual.
-- Reply: {state ('ready'|'delayed'|'running'), deliveries, ready_in, lease_left}
--        (lease_left -1 when not running), or nil when the message is not queued.
-- Runs after prelude.lua.
local q, name = ARGV[2], ARGV[3]
local now = clock(ARGV[4], ARGV[5])
local k, r, _, _, d = header(redis.call('GET', key_of(name)))
local ready
if k then
  ready, d = admin().unb64(r), tonumber(d)
else
  local e = redis.call('HGET', idx(q, 'entries'), name)
  if not e then return false end
  local _, _, member = string.match(e, '^([^|]*)|([^|]*)|(.*)$')
  ready = tonumber(string.sub(member, 1, 15))
  d = tonumber(redis.call('HGET', idx(q, 'deliveries'), name) or '0')
end
local deadline = admin().lease_deadline(q, name)
-- A lease (even a lapsed one not yet taken back) is a delivery the header does not count.
if k and deadline then d = d + 1 end
if deadline and deadline > now then
  return {'running', d, ready - now, deadline - now}
end
if ready > now then return {'delayed', d, ready - now, -1} end
return {'ready', d, ready - now, -1}
