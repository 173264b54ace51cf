-- compare_and_expire.lua: reset a key's ttl only if it holds the given value.
-- KEYS: none, or the full key (a cluster client names it, for routing); ARGV[1] is the key.
-- ARGV: full key, value, ttl_ms.
-- Reply: 1 when extended, else 0.
if redis.call('GET', ARGV[1]) == ARGV[2] then
  return redis.call('PEXPIRE', ARGV[1], ARGV[3])
end
return 0
