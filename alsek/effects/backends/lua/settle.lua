-- settle.lua: record a success in one atomic step, fenced by the lease token: the
-- result (write-once, with extra keys under the same ttl, then its signal), the
-- callback (unless a message of its name exists) and the ack.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token, now, virtual,
--       result key ('' = none), result value, result ttl ('' = none), result signal key,
--       callback queue ('' = none), callback name, callback payload, callback kind,
--       callback priority, callback ready_at, callback rest (see enqueue.lua),
--       n_extra, (key, value)...
-- Reply: 1, or 0 (writing nothing) when the lease no longer holds.
-- Runs after prelude.lua.
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
if not hold(q, name, token) then return 0 end
local key, result, ttl, result_signal = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local function put(k, v, only_new)
  if ttl ~= '' and only_new then return redis.call('SET', k, v, 'PX', ttl, 'NX') end
  if ttl ~= '' then return redis.call('SET', k, v, 'PX', ttl) end
  if only_new then return redis.call('SET', k, v, 'NX') end
  return redis.call('SET', k, v)
end
if key ~= '' and put(key, result, true) then
  for i = 1, tonumber(ARGV[18]) do put(ARGV[17 + 2 * i], ARGV[18 + 2 * i], false) end
  redis.call('RPUSH', result_signal, '1')
  redis.call('PEXPIRE', result_signal, 60000)
end
local cq, cname = ARGV[11], ARGV[12]
if cq ~= '' and redis.call('EXISTS', key_of(cname)) == 0 then
  local now, shift = clock(ARGV[5], ARGV[6])
  local ready_at = math.max(tonumber(ARGV[16]) + shift, 0)
  local k, prio, rest, r = string.sub(ARGV[14], 1, 1), ARGV[15], ARGV[17], b64(ready_at)
  redis.call('SET', key_of(cname), value(k, r, string.sub(rest, 1, 8), prio, 0, '', ARGV[13]))
  if place(cq, k, prio, r .. rest, ready_at, now) then
    register(cq)
  end
end
redis.call('DEL', key_of(name))
return 1
