-- release.lua: put a leased message back (retry, nack, hand-back), fenced, with its
-- new payload and ready time, and its delivery count updated as the pure core said.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token, payload, kind, priority, ready_at, rest (see
--       enqueue.lua), now, virtual, reset (1|0), delta: deliveries become
--       max(0, (0 if reset else deliveries) + delta); see
--       alsek.pure.queue_model.delivery_update.
-- Reply: 1, or 0 (writing nothing) when the token no longer holds the lease.
-- Runs after prelude.lua.
local q, name, token, rest = ARGV[2], ARGV[3], ARGV[4], ARGV[9]
local now, shift = clock(ARGV[10], ARGV[11])
local ready_at = math.max(tonumber(ARGV[8]) + shift, 0)
local reset, delta = ARGV[12] == '1', tonumber(ARGV[13])
local key = key_of(name)
local old = redis.call('GET', key)
local _, _, _, _, d = header(old)
local legacy_d = (not d) and redis.call('HGET', idx(q, 'deliveries'), name)
local held, leased = hold(q, name, token)
if not held then return 0 end
-- The deliveries so far: those before the lease, and the lease's own.
d = d and (tonumber(d) + (leased and 1 or 0)) or tonumber(legacy_d or '0')
d = math.max(0, (reset and 0 or d) + delta)
local k, prio, r = string.sub(ARGV[6], 1, 1), ARGV[7], b64(ready_at)
redis.call('SET', key, value(k, r, string.sub(rest, 1, 8), prio, d, '', ARGV[5]))
if place(q, k, prio, r .. rest, ready_at, now) then register(q) end
return 1
