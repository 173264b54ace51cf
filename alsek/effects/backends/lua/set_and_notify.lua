-- set_and_notify.lua: write a value (and extra keys with the same ttl), then signal
-- its waiters.
-- KEYS: none, or the key (a cluster client names it, for routing); ARGV carries full
--       keys, all in one slot on a cluster.
-- ARGV: key, value, ttl ('' = none), nx (1|0), signal key ('' = none), n_extra, (key, value)...
-- Reply: 1 when written, 0 when nx refused it.
local ttl, nx = ARGV[3], ARGV[4]
local function put(k, v, only_new)
  if ttl ~= '' and only_new then return redis.call('SET', k, v, 'PX', ttl, 'NX') end
  if ttl ~= '' then return redis.call('SET', k, v, 'PX', ttl) end
  if only_new then return redis.call('SET', k, v, 'NX') end
  return redis.call('SET', k, v)
end
if not put(ARGV[1], ARGV[2], nx == '1') then return 0 end
for i = 1, tonumber(ARGV[6]) do put(ARGV[5 + 2 * i], ARGV[6 + 2 * i], false) end
if ARGV[5] ~= '' then
  redis.call('RPUSH', ARGV[5], '1')
  redis.call('PEXPIRE', ARGV[5], 60000)
end
return 1
