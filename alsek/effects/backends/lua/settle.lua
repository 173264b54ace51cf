-- settle.lua: record a success in one atomic step, fenced by the lease token: the
-- result (write-once, with extra keys under the same ttl, then its signal), the
-- callback (unless a message of its name exists) and the ack.
-- KEYS: see prelude.lua; every key is built from the namespace ns (ARGV[1]) and the queue.
-- ARGV: ns, queue, name, token, now, virtual,
--       result key ('' = none), result value, result ttl ('' = none), result signal key,
--       callback queue ('' = none), callback name, callback payload, callback mechanism,
--       callback priority, callback ready_at, callback tail,
--       n_extra, (key, value)...
-- Reply: 1, or 0 (writing nothing) when the lease no longer holds.
-- Runs after prelude.lua.
local q, name, token = ARGV[2], ARGV[3], ARGV[4]
if not holds(q, name, token) then return 0 end
local key, value, ttl, signal = ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local function put(k, v, only_new)
  if ttl ~= '' and only_new then return redis.call('SET', k, v, 'PX', ttl, 'NX') end
  if ttl ~= '' then return redis.call('SET', k, v, 'PX', ttl) end
  if only_new then return redis.call('SET', k, v, 'NX') end
  return redis.call('SET', k, v)
end
if key ~= '' and put(key, value, true) then
  for i = 1, tonumber(ARGV[18]) do put(ARGV[17 + 2 * i], ARGV[18 + 2 * i], false) end
  redis.call('RPUSH', signal, '1')
  redis.call('PEXPIRE', signal, 60000)
end
local cq, cname = ARGV[11], ARGV[12]
if cq ~= '' and redis.call('EXISTS', key_of(cname)) == 0 then
  local now, shift = clock(ARGV[5], ARGV[6])
  local ready_at = math.max(tonumber(ARGV[16]) + shift, 0)
  redis.call('SET', key_of(cname), ARGV[13])
  place(cq, cname, entry_of(ARGV[14], ARGV[15], ready_at, ARGV[17]), ready_at, now)
  register(cq)
end
forget(q, name, token ~= '')
return 1
