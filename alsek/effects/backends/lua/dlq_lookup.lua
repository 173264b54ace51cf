-- dlq_lookup.lua: the dead letters of one uuid in a queue.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, uuid.
-- Reply: {name, failed_at, ...}.
-- Runs after prelude.lua and dlq.lua.
local q = ARGV[2]
local now = dlq_now()
while dlq_prune(q, now, 1000) == 1000 do end

local uuid = ARGV[3]
local out = {}
local low, high = '[' .. uuid .. '|', '(' .. uuid .. '}'
for _, m in ipairs(redis.call('ZRANGEBYLEX', dlq(q, 'by_uuid'), low, high)) do
  local name = string.sub(m, #uuid + 2)
  local score = redis.call('ZSCORE', dlq(q, 'by_time'), name)
  if score then
    table.insert(out, name)
    table.insert(out, score)
  end
end
return out
