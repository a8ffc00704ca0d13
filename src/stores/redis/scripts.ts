/**
 * The Lua scripts of the Redis store, one per operation. Each runs atomically inside Redis (a script is
 * never interleaved with another command), so a reservation's check and its writes are one step.
 *
 * Every script starts with the same prelude: it reads the Redis server time (`TIME`), decides which clock
 * the ledger logic uses (`now`), and defines the helpers that mirror `src/budget/ledger.ts`:
 *
 * - `live(key)`: sweep the key's expired holds, forget the key when its window is over and no hold is
 *   left (`liveKey` in the ledger);
 * - `laterExpiry`, `touch`: the logical expiry (as the ledger's `laterExpiry`) and the physical one (`PEXPIREAT`, with a margin);
 * - `callState`, `dropHolds`, `settle`: the call record used for idempotency, and the holds it owns.
 *
 * Common `ARGV`: `[1]` clock mode (`s` server, `c` client), `[2]` expiry margin ms, `[3]` the request's
 * `now`, `[4]` the key base (`{prefix}:`), `[5]` the call id (when the operation has one).
 *
 * Time frames. In server mode `now` is Redis `TIME`; instants of the request (`holdExpiresAt`, `expiresAt`,
 * `dedupeUntil`) are read relative to the request's `now` and moved onto the server's time line
 * (`shiftIn`), so a hold lasts its TTL as measured by Redis even when the caller's clock is off. In client
 * mode `now` is the request's `now` and instants are stored as given; only the physical `PEXPIREAT` is
 * moved onto the server's time line (`shiftOut`).
 *
 * Amounts travel as decimal integer strings and are changed with `HINCRBY` (exact 64-bit integers). Lua
 * numbers (doubles) are used only to compare, where every value up to 2^53 is exact; a total beyond
 * 2^53 - 1 is refused (`overflow`) before anything is written.
 *
 * Replies are arrays of strings: `[1]` the server time in ms, `[2]` a status, then the operation's values.
 *
 * @internal
 */

const PRELUDE = String.raw`
local MAX = 9007199254740991
local mode = ARGV[1]
local margin = tonumber(ARGV[2])
local reqNow = tonumber(ARGV[3])
local base = ARGV[4]
local tm = redis.call('TIME')
local server = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local now, shiftIn, shiftOut
if mode == 's' then
  now = server
  shiftIn = server - reqNow
  shiftOut = margin
else
  now = reqNow
  shiftIn = 0
  shiftOut = server - reqNow + margin
end
local serverStr = string.format('%.0f', server)

local function num(v) return string.format('%.17g', v) end
local function hk(lk) return base .. 'k:' .. lk end
local function zk(lk) return base .. 'z:' .. lk end

local function expireAt(key, logical)
  local at = math.ceil(logical + shiftOut)
  if at < 1 then at = 1 end
  if at > MAX then at = MAX end
  redis.call('PEXPIREAT', key, string.format('%.0f', at))
end

local function unhold(h, z, cid)
  local amount = redis.call('HGET', h, 'h:' .. cid)
  if amount then
    if amount ~= '0' then redis.call('HINCRBY', h, 'r', '-' .. amount) end
    redis.call('HDEL', h, 'h:' .. cid)
  end
  redis.call('ZREM', z, cid)
end

-- The key's state after sweeping its expired holds, or nothing when it does not exist or its window is
-- over with no hold left (then it is deleted). Returns exists, spent, reserved, expiry, latest hold expiry.
local function live(lk)
  local h = hk(lk)
  local v = redis.call('HMGET', h, 's', 'r', 'e', 'm')
  if not v[1] then return false, '0', '0', nil, nil end
  local z = zk(lk)
  local expired = redis.call('ZRANGEBYSCORE', z, '-inf', num(now))
  if #expired > 0 then
    for i = 1, #expired do unhold(h, z, expired[i]) end
    v[2] = redis.call('HGET', h, 'r')
  end
  if v[3] and tonumber(v[3]) <= now and redis.call('EXISTS', z) == 0 then
    redis.call('DEL', h)
    return false, '0', '0', nil, nil
  end
  return true, v[1], v[2] or '0', v[3], v[4]
end

-- laterExpiry of the ledger: the expiry a key has after a write with expiry incoming ('' for none).
local function laterExpiry(current, incoming, isNew)
  if isNew then
    if incoming == '' then return nil end
    return num(tonumber(incoming) + shiftIn)
  end
  if incoming == '' or not current then return nil end
  local v = tonumber(incoming) + shiftIn
  if v > tonumber(current) then return num(v) end
  return current
end

-- Physical expiry of a key and its hold set: the later of its window end and its latest hold, plus the margin.
local function touch(lk, e, m)
  local h, z = hk(lk), zk(lk)
  if not e then
    redis.call('PERSIST', h)
    redis.call('PERSIST', z)
    return
  end
  local p = tonumber(e)
  if m and tonumber(m) > p then p = tonumber(m) end
  expireAt(h, p)
  if m then expireAt(z, p) end
end

-- Removes a call's holds and its record; returns the ledger keys it held.
local function dropHolds(ck, cid)
  local encoded = redis.call('HGET', ck, 'k')
  redis.call('DEL', ck)
  if not encoded then return {} end
  local keys = cjson.decode(encoded)
  for i = 1, #keys do unhold(hk(keys[i]), zk(keys[i]), cid) end
  return keys
end

-- After holds were dropped: forget keys whose window is over, refresh the physical expiry of the others.
local function settle(keys, skip)
  for i = 1, #keys do
    local lk = keys[i]
    if not (skip and skip[lk]) then
      local exists, _, _, e, m = live(lk)
      if exists then touch(lk, e, m) end
    end
  end
end

-- The call record's state: 'h' (live holds), 'c' (committed), 'r' (released) or nil. Expired holds are
-- dropped and expired records forgotten, as the ledger's heldCall and isFinished do.
local function callState(ck, cid)
  local v = redis.call('HMGET', ck, 'st', 'x', 'u')
  local st = v[1]
  if st == 'h' then
    if tonumber(v[2]) <= now then
      settle(dropHolds(ck, cid), nil)
      return nil
    end
    return 'h'
  end
  if st == 'c' or st == 'r' then
    if tonumber(v[3]) <= now then
      redis.call('DEL', ck)
      return nil
    end
    return st
  end
  return nil
end
`

/**
 * Reserve. `KEYS`: call record, then the hash and hold set of every entry. `ARGV[6]` holdExpiresAt,
 * `ARGV[7]` entry count, then per entry: key, amount, limit (`''` for none), expiresAt (`''` for none).
 * Status `dup` | `refused` (then the refused index) | `overflow` (then the index) | `ok`; then
 * `spent, reserved` per entry.
 */
export const RESERVE_SCRIPT = String.raw`${PRELUDE}
local cid = ARGV[5]
local ck = base .. 'c:' .. cid
local holdX = tonumber(ARGV[6]) + shiftIn
local n = tonumber(ARGV[7])
local function arg(i, f) return ARGV[7 + (i - 1) * 4 + f] end
local out = {serverStr, 'ok'}
if callState(ck, cid) then
  out[2] = 'dup'
  for i = 1, n do
    local _, s, r = live(arg(i, 1))
    out[#out + 1] = s
    out[#out + 1] = r
  end
  return out
end
local state = {}
for i = 1, n do
  local exists, s, r, e, m = live(arg(i, 1))
  state[i] = {exists, s, r, e, m}
  local total = tonumber(s) + tonumber(r) + tonumber(arg(i, 2))
  if total > MAX then return {serverStr, 'overflow', tostring(i - 1)} end
  local limit = arg(i, 3)
  if limit ~= '' and total > tonumber(limit) then
    out[2] = 'refused'
    out[3] = tostring(i - 1)
    for j = 1, n do
      if j > i then
        local _, sj, rj = live(arg(j, 1))
        state[j] = {true, sj, rj}
      end
      out[#out + 1] = state[j][2]
      out[#out + 1] = state[j][3]
    end
    return out
  end
end
local keys = {}
local holdStr = num(holdX)
for i = 1, n do
  local lk, amount = arg(i, 1), arg(i, 2)
  local h = hk(lk)
  local exists, s, _, e, m = state[i][1], state[i][2], state[i][3], state[i][4], state[i][5]
  local newE = laterExpiry(e, arg(i, 4), not exists)
  if e and not newE then redis.call('HDEL', h, 'e') end
  if not m or holdX > tonumber(m) then m = holdStr end
  local fields = {'h:' .. cid, amount, 'm', m}
  if not exists then
    fields[#fields + 1] = 's'
    fields[#fields + 1] = '0'
    fields[#fields + 1] = 'r'
    fields[#fields + 1] = '0'
  end
  if newE and newE ~= e then
    fields[#fields + 1] = 'e'
    fields[#fields + 1] = newE
  end
  redis.call('HSET', h, unpack(fields))
  local r = redis.call('HINCRBY', h, 'r', amount)
  redis.call('ZADD', zk(lk), holdStr, cid)
  touch(lk, newE, m)
  out[#out + 1] = s
  out[#out + 1] = string.format('%.0f', r)
  keys[i] = lk
end
redis.call('HSET', ck, 'st', 'h', 'x', holdStr, 'k', cjson.encode(keys))
expireAt(ck, holdX)
return out
`

/**
 * Commit. `KEYS`: call record, record stream, record metadata, then the hash and hold set of every entry.
 * `ARGV[6]` dedupeUntil, `ARGV[7]` the record as JSON (`''` for none), `ARGV[8]` its endedAt,
 * `ARGV[9]` the stream cap, `ARGV[10]` entry count, then per entry: key, amount, expiresAt (`''` for none).
 * Status `dup` | `overflow` (then the index) | `ok`; then `before, after, reserved` per entry.
 */
export const COMMIT_SCRIPT = String.raw`${PRELUDE}
local cid = ARGV[5]
local ck = base .. 'c:' .. cid
local n = tonumber(ARGV[10])
local function arg(i, f) return ARGV[10 + (i - 1) * 3 + f] end
local out = {serverStr, 'ok'}
local v = redis.call('HMGET', ck, 'st', 'u')
if v[1] == 'c' and tonumber(v[2]) > now then
  out[2] = 'dup'
  for i = 1, n do
    local _, s, r = live(arg(i, 1))
    out[#out + 1] = s
    out[#out + 1] = s
    out[#out + 1] = r
  end
  return out
end
for i = 1, n do
  local _, s = live(arg(i, 1))
  if tonumber(s) + tonumber(arg(i, 2)) > MAX then return {serverStr, 'overflow', tostring(i - 1)} end
end
if ARGV[7] ~= '' then
  local meta = KEYS[3]
  local m = redis.call('HMGET', meta, 'ms', 'seq', 'late')
  local endedMs = math.floor(tonumber(ARGV[8]))
  local lastMs = tonumber(m[1] or '-1')
  local seq = tonumber(m[2] or '0')
  local idMs
  if endedMs > lastMs then
    idMs = endedMs
    seq = 0
  else
    idMs = lastMs
    seq = seq + 1
  end
  if idMs == 0 and seq == 0 then seq = 1 end
  local late = tonumber(m[3] or '0')
  if idMs - endedMs > late then late = idMs - endedMs end
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], string.format('%.0f-%.0f', idMs, seq), 'e', ARGV[8], 'd', ARGV[7])
  redis.call('HSET', meta, 'ms', string.format('%.0f', idMs), 'seq', string.format('%.0f', seq), 'late', string.format('%.0f', late))
end
if v[1] == 'h' then
  local listed = {}
  for i = 1, n do listed[arg(i, 1)] = true end
  settle(dropHolds(ck, cid), listed)
end
for i = 1, n do
  local lk, amount = arg(i, 1), arg(i, 2)
  local h = hk(lk)
  local exists, s, r, e, m = live(lk)
  local newE = laterExpiry(e, arg(i, 3), not exists)
  if e and not newE then redis.call('HDEL', h, 'e') end
  if not exists then
    if newE then redis.call('HSET', h, 's', '0', 'r', '0', 'e', newE) else redis.call('HSET', h, 's', '0', 'r', '0') end
  elseif newE and newE ~= e then
    redis.call('HSET', h, 'e', newE)
  end
  local after = s
  if amount ~= '0' then after = string.format('%.0f', redis.call('HINCRBY', h, 's', amount)) end
  touch(lk, newE, m)
  out[#out + 1] = s
  out[#out + 1] = after
  out[#out + 1] = r
end
redis.call('DEL', ck)
local u = tonumber(ARGV[6]) + shiftIn
if u < now then u = now end
redis.call('HSET', ck, 'st', 'c', 'u', num(u))
expireAt(ck, u)
return out
`

/** Release. `KEYS`: the call record. Status `released` | `none`. */
export const RELEASE_SCRIPT = String.raw`${PRELUDE}
local cid = ARGV[5]
local ck = base .. 'c:' .. cid
if callState(ck, cid) ~= 'h' then return {serverStr, 'none'} end
local x = tonumber(redis.call('HGET', ck, 'x'))
settle(dropHolds(ck, cid), nil)
if x < now then x = now end
redis.call('HSET', ck, 'st', 'r', 'u', num(x))
expireAt(ck, x)
return {serverStr, 'released'}
`

/** Balances. `KEYS`: hash and hold set of every key; `ARGV[5..]` the ledger keys. `spent, reserved` per key. */
export const BALANCES_SCRIPT = String.raw`${PRELUDE}
local out = {serverStr, 'ok'}
for i = 5, #ARGV do
  local _, s, r = live(ARGV[i])
  out[#out + 1] = s
  out[#out + 1] = r
end
return out
`

/** Reset spend to zero, keeping holds. `KEYS` and `ARGV` as in {@link BALANCES_SCRIPT}. */
export const RESET_SCRIPT = String.raw`${PRELUDE}
for i = 5, #ARGV do
  local lk = ARGV[i]
  if live(lk) then redis.call('HSET', hk(lk), 's', '0') end
end
return {serverStr, 'ok'}
`

/**
 * Write or delete a budget definition and append its history entry. `KEYS`: budgets hash, history list.
 * `ARGV[5]` scope, `[6]` scope as JSON, `[7]` `1` to delete, `[8]` definition JSON, `[9]` history entry JSON,
 * `[10]` now as JSON, `[11]` expected revision (`''` for none). Stored value:
 * `revision\ncreatedAt\nupdatedAt\nscopeJSON\ndefinitionJSON`. Status `ok` | `conflict`; then the stored
 * value after (`ok`) or as it is (`conflict`), or nothing when there is none.
 */
export const PUT_BUDGET_SCRIPT = String.raw`${PRELUDE}
local scope = ARGV[5]
local current = redis.call('HGET', KEYS[1], scope)
local revision = 0
local created = nil
if current then
  local r, c = string.match(current, '^(%d+)\n([^\n]*)\n')
  revision = tonumber(r)
  created = c
end
if ARGV[11] ~= '' and revision ~= tonumber(ARGV[11]) then
  if current then return {serverStr, 'conflict', current} end
  return {serverStr, 'conflict'}
end
redis.call('RPUSH', KEYS[2], ARGV[9])
if ARGV[7] == '1' then
  redis.call('HDEL', KEYS[1], scope)
  return {serverStr, 'ok'}
end
local value = string.format('%.0f', revision + 1) .. '\n' .. (created or ARGV[10]) .. '\n' .. ARGV[10] .. '\n' .. ARGV[6] .. '\n' .. ARGV[8]
redis.call('HSET', KEYS[1], scope, value)
return {serverStr, 'ok', value}
`
