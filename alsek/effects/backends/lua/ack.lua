-- ack.lua: forget a finished message (its value and lease), fenced.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token ('' = unconditional).
-- Reply: 1 when acked, 0 when the token no longer holds the lease (nothing changed).
-- Runs after prelude.lua.
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
if not hold(q, name, token) then return 0 end
redis.call('DEL', key_of(name))
return 1
