-- compare_and_delete.lua: delete a key only if it holds the given value (a lock's token).
-- KEYS: none, or the full key (a cluster client names it, for routing); ARGV[1] is the key.
-- ARGV: full key, value.
-- Reply: 1 when deleted, else 0.
if redis.call('GET', ARGV[1]) == ARGV[2] then
  return redis.call('DEL', ARGV[1])
end
return 0
