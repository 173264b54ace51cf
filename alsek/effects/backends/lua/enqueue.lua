#!lua
-- enqueue.lua: store a message and index it as ready or delayed.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, payload, mechanism, priority, ready_at, tail, now, virtual,
--       nx (1|0), submission token.
-- Reply: 1 when stored; 0 when nx refused it because the name exists, unless the
--        stored message came from this very call (same submission token): a client
--        retrying a call whose reply was lost gets 1 again, not a refusal.
-- Runs after prelude.lua.
local q, name, payload = ARGV[2], ARGV[3], ARGV[4]
local now, shift = clock(ARGV[9], ARGV[10])
local ready_at = math.max(tonumber(ARGV[7]) + shift, 0)
local key = key_of(name)
if ARGV[11] == '1' and redis.call('EXISTS', key) == 1 then
  return redis.call('HGET', idx(q, 'submits'), name) == ARGV[12] and 1 or 0
end
unindex(q, name)
redis.call('SET', key, payload)
place(q, name, entry_of(ARGV[5], ARGV[6], ready_at, ARGV[8]), ready_at, now)
redis.call('HSET', idx(q, 'submits'), name, ARGV[12])
register(q)
return 1
