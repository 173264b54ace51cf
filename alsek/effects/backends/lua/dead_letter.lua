-- dead_letter.lua: store the dead-letter record and forget the message, fenced.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token, dlq_key ('' = keep none), dlq_value, dlq_ttl ('' = none),
--       index member ('' = not indexed), failed_at. The record's index entries are
--       written in the same step, in the queue's index, and each write prunes a few
--       expired ones (dlq.lua).
-- Reply: 1, or 0 (writing nothing) when the token no longer holds the lease.
-- Runs after prelude.lua and dlq.lua.
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
local dlq_key, dlq_value, dlq_ttl = ARGV[5], ARGV[6], ARGV[7]
if not hold(q, name, token) then return 0 end
if dlq_key ~= '' then
  if dlq_ttl ~= '' then
    redis.call('SET', dlq_key, dlq_value, 'PX', dlq_ttl)
  else
    redis.call('SET', dlq_key, dlq_value)
  end
  if ARGV[8] ~= '' then
    local now = dlq_now()
    dlq_index(q, ARGV[8], ARGV[9], dlq_ttl == '' and '+inf' or now + tonumber(dlq_ttl))
    dlq_prune(q, now, 64)
  end
end
redis.call('DEL', key_of(name))
return 1
