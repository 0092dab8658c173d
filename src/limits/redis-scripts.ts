/**
 * The two Lua scripts the Redis limiter runs. Each is atomic on the server, which is what makes a
 * fleet exact: N proxies checking one counter are serialised by Redis, never racing between a
 * read and a write. They mirror windows.ts step for step (same bucket indices, same sums from the
 * newest bucket, same retry-after); the shared behaviour table holds both to it.
 *
 * A counter is a HASH: field = epoch bucket index, value = amount. Every field older than the
 * window is deleted as the counter is touched, and the key expires one window and one bucket
 * after its last write, so an idle subject costs nothing.
 *
 * Time is the server's (TIME) unless the caller passes one: a fleet's clocks drift, Redis's clock
 * is the one every proxy shares. Scripts that read TIME and then write need effects replication,
 * the default since Redis 5 and the only mode since 7; older servers are asked for it.
 */

const NOW = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * KEYS: one counter per applicable rule. ARGV[1]: now in ms, or '' for the server's clock. Then
 * four per key: kind ('r' counts this call; 'u' — tokens or cost — only reads), limit, bucket ms,
 * buckets per window. Returns { breached key index or 0, its retry-after s, used per key… };
 * amounts as strings, because Redis would truncate Lua numbers to integers.
 */
export const CHECK_SCRIPT = `${NOW}
local n_keys = #KEYS
local used, cur = {}, {}
local breach, worst = 0, -1
for i = 1, n_keys do
  local a = 1 + (i - 1) * 4
  local kind, limit = ARGV[a + 1], tonumber(ARGV[a + 2])
  local bms, n = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
  cur[i] = math.floor(now / bms)
  local oldest = cur[i] - n
  local flat = redis.call('HGETALL', KEYS[i])
  local live, stale = {}, {}
  for j = 1, #flat, 2 do
    local idx = tonumber(flat[j])
    if idx < oldest then stale[#stale + 1] = flat[j] else live[#live + 1] = { idx, tonumber(flat[j + 1]) } end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[i], unpack(stale)) end
  table.sort(live, function(x, y) return x[1] < y[1] end)
  -- after[j]: the amount in the buckets newer than j; summed from the newest like windows.ts.
  local after, s = {}, 0
  for j = #live, 1, -1 do
    after[j] = s
    s = s + live[j][2]
  end
  used[i] = s
  local function room(x)
    if kind == 'r' then return x + 1 <= limit end
    return x < limit
  end
  if not room(s) then
    local at = ((#live > 0 and live[#live][1] or cur[i]) + n + 1) * bms
    for j = 1, #live do
      if room(after[j]) then
        at = (live[j][1] + n + 1) * bms
        break
      end
    end
    local secs = math.max(1, math.ceil((at - now) / 1000))
    if secs > worst then
      worst = secs
      breach = i
    end
  end
end
if breach == 0 then
  for i = 1, n_keys do
    local a = 1 + (i - 1) * 4
    if ARGV[a + 1] == 'r' then
      local bms, n = tonumber(ARGV[a + 3]), tonumber(ARGV[a + 4])
      redis.call('HINCRBY', KEYS[i], string.format('%d', cur[i]), 1)
      redis.call('PEXPIRE', KEYS[i], (n + 1) * bms)
    end
  end
end
local out = { tostring(breach), tostring(math.max(worst, 0)) }
for i = 1, n_keys do out[#out + 1] = string.format('%.17g', used[i]) end
return out
`;

/**
 * KEYS: the token and cost counters to charge. ARGV[1]: now in ms or ''. Then three per key:
 * amount, bucket ms, buckets per window. Fractional dollars need HINCRBYFLOAT.
 */
export const CHARGE_SCRIPT = `${NOW}
for i = 1, #KEYS do
  local a = 1 + (i - 1) * 3
  local amount, bms, n = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local cur = math.floor(now / bms)
  redis.call('HINCRBYFLOAT', KEYS[i], string.format('%d', cur), amount)
  local stale = {}
  for _, f in ipairs(redis.call('HKEYS', KEYS[i])) do
    if tonumber(f) < cur - n then stale[#stale + 1] = f end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[i], unpack(stale)) end
  redis.call('PEXPIRE', KEYS[i], (n + 1) * bms)
end
return #KEYS
`;
