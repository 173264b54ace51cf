-- dlq_lookup.lua: the dead letters of one uuid.
-- KEYS: none; every key is built from the namespace ns (ARGV[1]).
-- ARGV: ns, uuid.
-- Reply: {1, name, failed_at, ...} or {0} when the index is not built.
-- Runs after prelude.lua and dlq.lua.
if redis.call('EXISTS', dlq('indexed')) == 0 then return {0} end
local now = dlq_now()
while dlq_prune(now, 1000) == 1000 do end

local uuid = ARGV[2]
local out = {1}
local low, high = '[' .. uuid .. '|', '(' .. uuid .. '}'
for _, m in ipairs(redis.call('ZRANGEBYLEX', dlq('by_uuid'), low, high)) do
  local name = string.sub(m, #uuid + 2)
  local score = redis.call('ZSCORE', dlq('by_time'), name)
  if score then
    table.insert(out, name)
    table.insert(out, score)
  end
end
return out
