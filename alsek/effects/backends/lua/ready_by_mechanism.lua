-- ready_by_mechanism.lua: a queue's ready messages per mechanism, counting the
-- delayed entries that are due but not yet moved (each looked up once, as the next
-- claim would move it).
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, now, virtual.
-- Reply: {thread, process, async, other}.
-- Runs after prelude.lua.
local q = ARGV[2]
local now = clock(ARGV[3], ARGV[4])
local counts = {thread = redis.call('ZCARD', idx(q, 'ready:thread')),
                process = redis.call('ZCARD', idx(q, 'ready:process')),
                async = redis.call('ZCARD', idx(q, 'ready:async')), other = 0}
for _, e in ipairs(redis.call('ZRANGEBYSCORE', idx(q, 'delayed'), '-inf', now)) do
  local mech = KINDS[string.sub(e, 1, 1)]
  if string.sub(e, 1, 7) == 'queues:' then  -- stored before this layout: look it up
    local entry = redis.call('HGET', idx(q, 'entries'), e)
    mech = entry and string.match(entry, '^([^|]*)|') or '*'
  end
  if mech == nil or counts[mech] == nil then mech = 'other' end
  counts[mech] = counts[mech] + 1
end
return {counts.thread, counts.process, counts.async, counts.other}
