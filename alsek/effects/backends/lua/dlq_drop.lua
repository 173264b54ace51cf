-- dlq_drop.lua: delete the dead letters of n names with their index entries, and
-- other keys (their failure records).
-- KEYS: none; every key is built from the namespace ns (ARGV[1]).
-- ARGV: ns, n, name..., other name...
-- Reply: how many dead letters were there.
-- Runs after prelude.lua and dlq.lua.
local n = tonumber(ARGV[2])
local dropped = 0
for i = 3, 2 + n do
  dropped = dropped + redis.call('DEL', ns .. ':dlq:' .. ARGV[i])
  dlq_unindex(ARGV[i])
end
for i = 3 + n, #ARGV do redis.call('DEL', ns .. ':' .. ARGV[i]) end
return dropped
