#!lua flags=allow-oom
-- renew.lua: extend leases that the given tokens still hold.
-- KEYS: see prelude.lua (a cluster client gives leases of one queue only); every key
--       is built from the namespace ns (ARGV[1]) and the queues.
-- ARGV: ns, now, virtual, lease_ms, then (queue, name, token) triples.
-- Reply: {1|0, ...}, one per triple.
-- Runs after prelude.lua.
local now = clock(ARGV[2], ARGV[3])
local lease = tonumber(ARGV[4])
local out = {}
local i = 5
while i + 2 <= #ARGV do
  local key, m = idx(ARGV[i], 'leased'), ARGV[i + 1] .. '|' .. ARGV[i + 2]
  if redis.call('ZSCORE', key, m) then
    redis.call('ZADD', key, now + lease, m)
    table.insert(out, 1)
  else
    table.insert(out, 0)
  end
  i = i + 3
end
return out
