-- ack.lua: forget a finished message (payload, index entries, counters), fenced.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token ('' = unconditional).
-- Reply: 1 when acked, 0 when the token no longer holds the lease (nothing changed).
-- Runs after prelude.lua.
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
if not holds(q, name, token) then return 0 end
forget(q, name, token ~= '')
return 1
