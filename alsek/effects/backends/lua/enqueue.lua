#!lua
-- enqueue.lua: store a message and index it as ready or delayed.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, payload, kind, priority, ready_at, rest (C and the member's
--       tail, see prelude.lua), now, virtual, nx (1|0), submission token.
-- Reply: 1 when stored; 0 when nx refused it because the name exists, unless the
--        stored message came from this very call (same submission token): a client
--        retrying a call whose reply was lost gets 1 again, not a refusal.
-- Runs after prelude.lua.
local q, name, rest = ARGV[2], ARGV[3], ARGV[8]
local now, shift = clock(ARGV[9], ARGV[10])
local ready_at = math.max(tonumber(ARGV[7]) + shift, 0)
local k, prio, r = string.sub(ARGV[5], 1, 1), ARGV[6], b64(ready_at)
local key = key_of(name)
local v = value(k, r, string.sub(rest, 1, 8), prio, 0, ARGV[12], ARGV[4])
if ARGV[11] == '1' then
  if not redis.call('SET', key, v, 'NX') then
    local _, _, _, _, _, sub = header(redis.call('GET', key))
    return sub == ARGV[12] and 1 or 0
  end
else
  local old = redis.call('GET', key)
  if old then admin().unindex(q, name, old) else forget_legacy(q, name) end
  redis.call('SET', key, v)
end
if place(q, k, prio, r .. rest, ready_at, now) then register(q) end
return 1
