-- dlq_drop.lua: delete dead letters of a queue with their index entries.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name...
-- Reply: how many dead letters were there.
-- Runs after prelude.lua and dlq.lua.
local q = ARGV[2]
local dropped = 0
for i = 3, #ARGV do
  dropped = dropped + redis.call('DEL', key_of('dlq:' .. ARGV[i]))
  dlq_unindex(q, ARGV[i])
end
return dropped
