-- release.lua: put a leased message back (retry, nack, hand-back), fenced, with its
-- new payload and ready time, and its delivery count updated as the pure core said.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token, payload, mechanism, priority, ready_at, tail, now,
--       virtual, reset (1|0), delta: deliveries become max(0, (0 if reset else
--       deliveries) + delta); see alsek.pure.queue_model.delivery_update.
-- Reply: 1, or 0 (writing nothing) when the token no longer holds the lease.
-- Runs after prelude.lua.
local q, name, token, payload = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local now, shift = clock(ARGV[10], ARGV[11])
local ready_at = math.max(tonumber(ARGV[8]) + shift, 0)
local reset, delta = ARGV[12] == '1', tonumber(ARGV[13])
if not holds(q, name, token) then return 0 end
unindex(q, name)
redis.call('SET', key_of(name), payload)
place(q, name, entry_of(ARGV[6], ARGV[7], ready_at, ARGV[9]), ready_at, now)
register(q)
if reset or delta ~= 0 then
  local d = reset and 0 or tonumber(redis.call('HGET', idx(q, 'deliveries'), name) or '0')
  d = math.max(0, d + delta)
  if d == 0 then
    redis.call('HDEL', idx(q, 'deliveries'), name)
  else
    redis.call('HSET', idx(q, 'deliveries'), name, d)
  end
end
return 1
