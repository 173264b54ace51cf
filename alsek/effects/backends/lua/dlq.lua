-- dlq.lua: helpers for the dead-letter index (prepended to the scripts that use it).
-- Inside namespace ns, members are message names; a dead letter lives at
-- ns:dlq:{name}. by_time scores the time it failed, by_expiry when its record
-- expires (server ms), by_uuid holds "uuid|name" (score 0) for lookups by uuid;
-- ns:deadletters:indexed is set once the index covers every record.
local function dlq(part) return ns .. ':deadletters:' .. part end
local function dlq_uuid(name) return string.match(name, '([^:]*)$') end
local function dlq_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function dlq_unindex(name)
  redis.call('ZREM', dlq('by_time'), name)
  redis.call('ZREM', dlq('by_expiry'), name)
  redis.call('ZREM', dlq('by_uuid'), dlq_uuid(name) .. '|' .. name)
end
local function dlq_index(name, failed_at, expire_at)
  redis.call('ZADD', dlq('by_time'), failed_at, name)
  redis.call('ZADD', dlq('by_expiry'), expire_at, name)
  redis.call('ZADD', dlq('by_uuid'), 0, dlq_uuid(name) .. '|' .. name)
end
-- Drop up to limit entries whose record has expired; returns how many.
local function dlq_prune(now, limit)
  local bound = string.format('(%.0f', now)
  local gone = redis.call('ZRANGEBYSCORE', dlq('by_expiry'), '-inf', bound, 'LIMIT', 0, limit)
  for _, name in ipairs(gone) do dlq_unindex(name) end
  return #gone
end
