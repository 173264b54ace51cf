-- dlq.lua: helpers for the dead-letter index (prepended to the scripts that use it).
-- Each queue q has its own index, in its slot; members are message names, and the
-- dead letter of name lives at key_of('dlq:' .. name). by_time scores the time it
-- failed, by_expiry when its record expires (server ms), by_uuid holds "uuid|name"
-- (score 0) for lookups by uuid. ns:deadletters:indexed (read by the client) is set
-- once every record of the namespace is indexed.
local function dlq(q, part) return ns .. ':deadletters:' .. tag(q) .. ':' .. part end
local function dlq_uuid(name) return string.match(name, '([^:]*)$') end
local function dlq_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function dlq_unindex(q, name)
  redis.call('ZREM', dlq(q, 'by_time'), name)
  redis.call('ZREM', dlq(q, 'by_expiry'), name)
  redis.call('ZREM', dlq(q, 'by_uuid'), dlq_uuid(name) .. '|' .. name)
end
local function dlq_index(q, name, failed_at, expire_at)
  redis.call('ZADD', dlq(q, 'by_time'), failed_at, name)
  redis.call('ZADD', dlq(q, 'by_expiry'), expire_at, name)
  redis.call('ZADD', dlq(q, 'by_uuid'), 0, dlq_uuid(name) .. '|' .. name)
end
-- Drop up to limit entries of q whose record has expired; returns how many.
local function dlq_prune(q, now, limit)
  local bound = string.format('(%.0f', now)
  local gone = redis.call('ZRANGEBYSCORE', dlq(q, 'by_expiry'), '-inf', bound, 'LIMIT', 0, limit)
  for _, name in ipairs(gone) do dlq_unindex(q, name) end
  return #gone
end
