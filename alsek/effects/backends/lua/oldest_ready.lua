-- oldest_ready.lua: how long the oldest ready message has waited. Ready sets order
-- by priority first, so the oldest of each priority level present is compared (at
-- most 64 levels per mechanism), with the delayed entries that are due but not moved.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, now, virtual.
-- Reply: the age in ms, or -1 when nothing is ready.
-- Runs after prelude.lua.
local q = ARGV[2]
local now = clock(ARGV[3], ARGV[4])
local oldest = nil
local due = redis.call('ZRANGEBYSCORE', idx(q, 'delayed'), '-inf', now, 'WITHSCORES', 'LIMIT', 0, 1)
if #due > 0 then oldest = tonumber(due[2]) end
for _, m in ipairs({'thread', 'process', 'async'}) do
  local key = idx(q, 'ready:' .. m)
  local low = '-inf'
  for level = 1, 64 do
    local r = redis.call('ZRANGEBYSCORE', key, low, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    if #r == 0 then break end
    local ready = string.byte(r[1], 16) == 124 and tonumber(string.sub(r[1], 1, 15))
      or admin().unb64(r[1])
    if oldest == nil or ready < oldest then oldest = ready end
    low = '(' .. r[2]
  end
end
if oldest == nil then return -1 end
return math.max(now - oldest, 0)
