/**
 * The Lua scripts of the Redis store, one per operation. Each runs atomically inside Redis (a script is
 * never interleaved with another command), so a reservation's check and its writes are one step.
 *
 * Every script starts with the same prelude: it reads the Redis server time (`TIME`, once), checks the store's
 * epoch (reserve, commit and release read their call record in the same `MGET`), decides which clock the ledger
 * logic uses (`now`), and defines the helpers that mirror `src/stores/ledger/ledger.ts`:
 *
 * - `live(h)`: one `HMGET` of a ledger key's hash (balances and expiries, never a hold field);
 *   sweeps the key's expired holds only when its earliest hold expiry `n` has passed (`sweepHolds` and
 *   `nextHoldExpiry` in the ledger), and forgets the key when its window is over and no hold is left
 *   (`liveKey`);
 * - `laterExpiry`: the logical expiry after a write, as the ledger's `laterExpiry`; the physical one
 *   (`PEXPIREAT`, with a margin) is written only when its basis `p` moves later;
 * - `callState`, `dropHolds`: the call record used for idempotency, and the holds it owns.
 *
 * Key layout (see docs/stores/redis.md): a ledger key is one hash `{prefix}:k:<key>` with `s` spent,
 * `r` reserved, `e` logical expiry, `n` earliest hold expiry (a lower bound; the sweep runs only when it
 * has passed), `p` the last hold's expiry when it outlives `e` (the `PEXPIREAT` is computed from the
 * later of `e` and `p`; empty when none, written when the key is created so that reads find it at the
 * head of the hash; keys of older versions may lack it), and `h:<call id>` = `<amount>:<expiry>`
 * per hold. A call record is one string `{prefix}:c:<call id>`: `h|<hold expiry>|<holds>` with
 * `<bytes>:<ledger key><amount>,` per held key, `c|<remembered until>|` or `r|<remembered until>|`, set with
 * `SET ... PXAT` (one command, expiry included). A commit or release takes a hold's amount from the call
 * record and lets `HDEL` say whether the hold was still there, so no script reads a hold field on the
 * normal path (on a hot key that would scan the listpack of every call in flight).
 *
 * Common `KEYS`: `[1]` the store's epoch, `[2]` the registry of live keys; the operation's keys follow
 * (their numbers below count from there: "`KEYS`: call record" is `KEYS[3]`).
 *
 * Common `ARGV`: `[1]` clock mode (`s` server, `c` client), `[2]` expiry margin ms, `[3]` the request's
 * `now`, `[4]` the key base (`{prefix}:`), `[5]` the store epoch the client knows (every script checks it
 * first and answers `lost` with the stored epoch when it differs), `[6]` the call id (when the operation
 * has one).
 *
 * Time frames. In server mode `now` is Redis `TIME`; instants of the request (`holdExpiresAt`, `expiresAt`,
 * `dedupeUntil`) are read relative to the request's `now` and moved onto the server's time line
 * (`shiftIn`), so a hold lasts its TTL as measured by Redis even when the caller's clock is off. In client
 * mode `now` is the request's `now` and instants are stored as given; only the physical expiry is
 * moved onto the server's time line (`shiftOut`).
 *
 * Amounts travel as decimal integer strings. Lua numbers are doubles, exact for every integer up to 2^53;
 * each script first checks that no total it will write exceeds 2^53 - 1 (`overflow`, nothing written), so
 * every sum and difference it computes is an exact integer, written back with `%d` (Lua 5.1 formats it
 * through a C `long`: exact, and much cheaper than the multi-precision path of `%.0f` / `%.17g`).
 * Nothing uses `INCRBYFLOAT` or Lua's `tostring` (`%.14g`) on amounts.
 *
 * Replies are arrays of strings: `[1]` the server time in ms, `[2]` a status, then the operation's values.
 * Amounts go back as strings (clients may parse integer replies near 2^53 inexactly): the string Redis
 * holds when the value did not change, else the one just formatted for the write.
 *
 * @internal
 */

/**
 * The prelude every script starts with (see above). With `callRecord`, `KEYS[3]` is the operation's call record:
 * it is read with the epoch in one `MGET` (`pre`) and `readCall` takes it from there.
 */
function prelude(callRecord: boolean): string {
  const read = callRecord
    ? "local pre = call('MGET', KEYS[1], KEYS[3])\nlocal epoch = pre[1]"
    : "local pre = nil\nlocal epoch = call('GET', KEYS[1])"
  return PRELUDE_HEAD + read + PRELUDE_BODY
}

const PRELUDE_HEAD = String.raw`
local MAX = 9007199254740991
local mode = ARGV[1]
local margin = tonumber(ARGV[2])
local reqNow = tonumber(ARGV[3])
local base = ARGV[4]
local call = redis.call
local fmt, sub, find, byte = string.format, string.sub, string.find, string.byte
local tm = call('TIME')
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
local serverStr = fmt('%d', server)
local reg = KEYS[2]
-- The store's epoch: a key without expiry, written once when the store is initialized. Gone or different
-- means Redis lost the store's data (FLUSHALL, a restart without persistence, eviction): fail closed.
-- Both are declared keys of every script, so that a cluster in the middle of moving the store's slot routes
-- the script to the node that has them (or answers TRYAGAIN) instead of running it on a partial view.
`

const PRELUDE_BODY = String.raw`
if epoch ~= ARGV[5] then return {serverStr, 'lost', epoch or ''} end

-- Instants: integers (the usual case) through the cheap integer path, fractions with all 17 digits.
local function num(v)
  if v == math.floor(v) and v < MAX and v > -MAX then return fmt('%d', v) end
  return fmt('%.17g', v)
end
-- Amounts: integers below 2^53.
local function int(v) return fmt('%d', v) end
local function hk(lk) return base .. 'k:' .. lk end

-- The physical expiry (ms on the server's clock) for a logical instant.
local function physical(logical)
  local at = math.ceil(logical + shiftOut)
  if at < 1 then at = 1 end
  if at > MAX then at = MAX end
  return fmt('%d', at)
end

-- A hold value is '<amount>:<expiry>'.
local function holdAmount(v) return tonumber(sub(v, 1, find(v, ':', 1, true) - 1)) end

-- s and r are numbers; ss and rs the same values as the decimal strings Redis holds (rs nil once r changed).
local function fresh(h) return {h = h, exists = false, s = 0, r = 0, ss = '0', rs = '0'} end
local function R(k) return k.rs or int(k.r) end

-- Drops every expired hold of a loaded key (one HGETALL) and recomputes its earliest hold expiry 'n'.
-- Runs only when 'n' has passed. Leaves the exact hold count in k.holds.
local function sweep(k)
  local all = call('HGETALL', k.h)
  local dead, freed, nextX, holds = {}, 0, nil, 0
  for i = 1, #all, 2 do
    local f = all[i]
    if byte(f, 1) == 104 and byte(f, 2) == 58 then
      local v = all[i + 1]
      local c = find(v, ':', 1, true)
      local x = tonumber(sub(v, c + 1))
      if x <= now then
        dead[#dead + 1] = f
        freed = freed + tonumber(sub(v, 1, c - 1))
      else
        holds = holds + 1
        if not nextX or x < nextX then nextX = x end
      end
    end
  end
  for i = 1, #dead, 1000 do call('HDEL', k.h, unpack(dead, i, math.min(i + 999, #dead))) end
  k.r = k.r - freed
  k.rs = int(k.r)
  k.holds = holds
  if nextX then
    call('HSET', k.h, 'r', k.rs, 'n', num(nextX))
  else
    call('HSET', k.h, 'r', k.rs)
    call('HDEL', k.h, 'n')
  end
  k.n = nextX
end

-- Number of holds on a loaded key: known after a sweep, else HLEN minus its other fields.
local function holdCount(k)
  if not k.holds then
    local meta = 0
    for i = 1, 5 do if k.v[i] then meta = meta + 1 end end
    k.holds = call('HLEN', k.h) - meta
  end
  return k.holds
end

-- The ledger key of a hash name.
local function lkOf(h) return sub(h, #base + 3) end

-- The registry of live keys ('live', a sorted set without expiry: ledger key -> logical expiry) says which
-- keys must exist: a key missing from Redis while the registry says its window is not over was evicted.
local function register(h, e)
  call('ZADD', reg, num(e or MAX), lkOf(h))
end

-- A key whose window is over and that has no hold left is forgotten (the ledger's liveKey).
local function forgetIfOver(k)
  if k.exists and k.e and k.e <= now and holdCount(k) == 0 then
    call('DEL', k.h)
    call('ZREM', reg, lkOf(k.h))
    return fresh(k.h)
  end
  return k
end

-- The state of the key whose hash is h, after sweeping its expired holds: {h, exists, s, r, e, n, p, holds}.
-- One HMGET of fields at the head of the hash (never a hold field, which would scan a hot key's holds)
-- unless a hold can have expired.
local function live(h)
  local v = call('HMGET', h, 's', 'r', 'e', 'n', 'p')
  if not v[1] then
    local e = call('ZSCORE', reg, lkOf(h))
    if e and tonumber(e) > now then error({err = 'LOST ledger key ' .. lkOf(h)}) end
    return fresh(h)
  end
  local k = {h = h, exists = true, s = tonumber(v[1]), r = tonumber(v[2]), ss = v[1], rs = v[2], e = tonumber(v[3]),
    n = tonumber(v[4]), p = tonumber(v[5]), v = v, holds = nil, dirty = nil}
  if k.n and k.n <= now then sweep(k) end
  return forgetIfOver(k)
end

-- Removes one call's hold (of 'amount', from its call record) from a loaded key: HDEL says whether it was
-- still there (a swept hold is already out of 'r'). The caller writes 'r'.
local function unhold(k, hf, amount)
  if call('HDEL', k.h, hf) == 1 then
    k.r = k.r - amount
    k.rs = nil
    if k.holds then k.holds = k.holds - 1 end
    k.dirty = true
  end
  return k
end

-- 'r' recomputed from the hold fields (all live: 'n' has not passed): the repair when a reservation found
-- a hold of its own call id left by an earlier use whose record is gone.
local function recountReserved(h)
  local all = call('HGETALL', h)
  local r = 0
  for i = 1, #all, 2 do
    local f = all[i]
    if byte(f, 1) == 104 and byte(f, 2) == 58 then r = r + holdAmount(all[i + 1]) end
  end
  local rs = int(r)
  call('HSET', h, 'r', rs)
  return rs
end

-- laterExpiry of the ledger (numbers; incoming '' for none).
local function laterExpiry(current, incoming, isNew)
  if isNew then
    if incoming == '' then return nil end
    return tonumber(incoming) + shiftIn
  end
  if incoming == '' or not current then return nil end
  local v = tonumber(incoming) + shiftIn
  if v > current then return v end
  return current
end

-- Adds the expiry fields of a write to 'fields' and returns the PEXPIREAT to set after it (or nil).
-- 'holdX' is the hold expiry of a reservation (nil for a commit). The key expires at the later of its
-- window end and its last hold, plus the margin; it is written only when that moves later. 'p' is stored
-- only when a hold outlives the window end (rare: near the end of a window), so it is usually absent.
local function expiryFields(k, fields, newE, holdX)
  if not newE then
    if k.e then
      call('HDEL', k.h, 'e', 'p')
      call('PERSIST', k.h)
    end
    if k.e or not k.exists then register(k.h, nil) end
    return nil, 0
  end
  local added = 0
  if newE ~= k.e then
    fields[#fields + 1] = 'e'
    fields[#fields + 1] = num(newE)
    if not k.e then added = 1 end
    if not k.exists then call('ZREMRANGEBYSCORE', reg, '-inf', '(' .. num(now)) end
    register(k.h, newE)
  end
  local b = newE
  if holdX and holdX > b then b = holdX end
  if k.exists then
    -- the instant the current PEXPIREAT was computed from: the window end, or a later hold ('p')
    local basis = k.e
    if k.p and k.p > basis then basis = k.p end
    if b <= basis then return nil, added end
  end
  if b > newE then
    fields[#fields + 1] = 'p'
    fields[#fields + 1] = num(b)
    if not (k.v and k.v[5]) then added = added + 1 end
  end
  return physical(b), added
end

-- A key created by a write gets 'p' at once, empty when no hold outlives its window: live()'s HMGET then finds
-- every field it asks for at the head of the hash, where an absent field would be searched for through every
-- hold field (a hot key's listpack of about 200 entries at 100 calls in flight). Older keys without 'p' read as
-- before. Answers how many fields this adds (0 or 1).
local function keepP(k, fields)
  if k.exists then return 0 end
  for i = 1, #fields, 2 do if fields[i] == 'p' then return 0 end end
  fields[#fields + 1] = 'p'
  fields[#fields + 1] = ''
  return 1
end

-- Holds of a call record: '<bytes>:<ledger key><amount>,' per key. Decoded into a list of ledger keys and
-- a map from hash name to amount.
local function decodeHolds(s, pos)
  local keys, amounts = {}, {}
  while pos <= #s do
    local c = find(s, ':', pos, true)
    local e = c + tonumber(sub(s, pos, c - 1))
    local lk = sub(s, c + 1, e)
    local comma = find(s, ',', e + 1, true)
    keys[#keys + 1] = lk
    amounts[hk(lk)] = tonumber(sub(s, e + 1, comma - 1))
    pos = comma + 1
  end
  return keys, amounts
end

-- Reads a call record: state ('h', 'c', 'r' or nil), its instant, the position of its key list. Every script that
-- reads one reads its own (KEYS[3]) once, already fetched by the prelude's MGET.
local function readCall(ck)
  local v = pre[2]
  if not v then return nil end
  local bar = find(v, '|', 3, true)
  return sub(v, 1, 1), tonumber(sub(v, 3, bar - 1)), v, bar + 1
end

-- Removes a call's holds from every key it held (the ledger's dropHolds) and its record.
local function dropHolds(ck, hf, v, pos)
  local keys, amounts = decodeHolds(v, pos)
  for i = 1, #keys do
    local h = hk(keys[i])
    local k = live(h)
    if k.exists and unhold(k, hf, amounts[h]).dirty then
      k = forgetIfOver(k)
      if k.exists then call('HSET', k.h, 'r', R(k)) end
    end
  end
  call('DEL', ck)
end

-- The call record's state: 'h' (live holds), 'c' (committed), 'r' (released) or nil. Expired holds are
-- dropped and expired records forgotten, as the ledger's heldCall and isFinished do. Also returns the
-- hold expiry of a held call.
local function callState(ck, hf)
  local st, t, v, pos = readCall(ck)
  if not st then return nil end
  if t <= now then
    if st == 'h' then dropHolds(ck, hf, v, pos) else call('DEL', ck) end
    return nil
  end
  return st, t, v, pos
end
`

/**
 * Reserve. `KEYS`: call record, then the hash of every entry (the ledger key is the hash name after
 * `{prefix}:k:`). `ARGV[7]` holdExpiresAt, `ARGV[8]` entry count, then per entry: amount, limit (`''` for
 * none), expiresAt (`''` for none).
 * Status `dup` | `refused` (then the refused index) | `overflow` (then the index) | `ok`; then
 * `spent, reserved` per entry.
 */
export const RESERVE_SCRIPT = String.raw`${prelude(true)}
local cid = ARGV[6]
local ck = base .. 'c:' .. cid
local hf = 'h:' .. cid
local holdX = tonumber(ARGV[7]) + shiftIn
local n = tonumber(ARGV[8])
local out = {serverStr, 'ok'}
if callState(ck, hf) then
  out[2] = 'dup'
  for i = 1, n do
    local k = live(KEYS[3 + i])
    out[#out + 1] = k.ss
    out[#out + 1] = R(k)
  end
  return out
end
local state = {}
for i = 1, n do
  local a = 5 + i * 3
  local k = live(KEYS[3 + i])
  state[i] = k
  local total = k.s + k.r + tonumber(ARGV[a + 1])
  if total > MAX then return {serverStr, 'overflow', tostring(i - 1)} end
  local limit = ARGV[a + 2]
  if limit ~= '' and total > tonumber(limit) then
    out[2] = 'refused'
    out[3] = tostring(i - 1)
    for j = 1, n do
      local kj = state[j] or live(KEYS[3 + j])
      out[#out + 1] = kj.ss
      out[#out + 1] = R(kj)
    end
    return out
  end
end
local holdStr = num(holdX)
local held = {}
for i = 1, n do
  local a = 5 + i * 3
  local k = state[i]
  local amount = ARGV[a + 1]
  local r = int(k.r + tonumber(amount))
  local fields = {hf, amount .. ':' .. holdStr, 'r', r}
  if not k.exists then
    fields[5] = 's'
    fields[6] = '0'
  end
  if not k.n or holdX < k.n then
    fields[#fields + 1] = 'n'
    fields[#fields + 1] = holdStr
  end
  local at, added = expiryFields(k, fields, laterExpiry(k.e, ARGV[a + 3], not k.exists), holdX)
  keepP(k, fields)
  -- fields this HSET adds (HSET answers how many it added): every one on a new key; else the hold, 'n'
  -- when the key had none, and what expiryFields added
  local new = #fields / 2
  if k.exists then
    new = 1 + added
    if not k.n then new = new + 1 end
  end
  if call('HSET', k.h, unpack(fields)) ~= new then
    -- the hold field was there already: left by an earlier use of this call id whose record is gone
    -- (only possible when clocks disagree by more than the margin); never count it twice
    r = recountReserved(k.h)
  end
  if at then call('PEXPIREAT', k.h, at) end
  out[#out + 1] = k.ss
  out[#out + 1] = r
  local lk = sub(KEYS[3 + i], #base + 3)
  held[i] = #lk .. ':' .. lk .. amount .. ','
end
call('SET', ck, 'h|' .. holdStr .. '|' .. table.concat(held), 'PXAT', physical(holdX))
return out
`

/**
 * Commit. `KEYS`: call record, record stream, record metadata, then the hash of every entry; with a rollup,
 * then the day's rollup hash and the rollup day index.
 * `ARGV[7]` dedupeUntil, `ARGV[8]` the record's endedAt (`''` for no record), `ARGV[9]` the stream cap
 * (`~<n>` approximate, `=<n>` exact, `=0` no stream), `ARGV[10]` entry count, then per entry: amount,
 * expiresAt (`''` for none); then (from `ra`) the record retention in ms (`''` for none), the number `S` of
 * rollup rows (`0` for none) and, when `S > 0`: the day (`YYYY-MM-DD`), its start (ms), the rollup retention in
 * ms (`''` for none), the six sums, the `S` row fields; then the record's stream fields (name, JSON value) to
 * the end.
 *
 * Rollups: one hash per UTC day (`{prefix}:u:<day>`), one field per scope and model (the JSON text of
 * `[scope, model, modelServed]`) whose value is `calls,inputTokens,outputTokens,cost,saved,estimatedCalls`:
 * one `HMGET` (with the overflow check, before any write) and one `HSET` per commit; the first row of a day
 * adds it to the index (`{prefix}:ud`, a sorted set by day start, no expiry) and sets the hash's `PEXPIREAT`.
 * The metadata hash keeps `u0` (the oldest indexed day, so that the eviction costs nothing until it is due),
 * `uf` (rollup coverage) and `rf` (record coverage when no stream is kept).
 * Status `dup` | `overflow` (then the index) | `rollupOverflow` (then the row field) | `ok`; then
 * `before, after, reserved` per entry.
 */
export const COMMIT_SCRIPT = String.raw`${prelude(true)}
local cid = ARGV[6]
local ck = base .. 'c:' .. cid
local hf = 'h:' .. cid
local n = tonumber(ARGV[10])
local out = {serverStr, 'ok'}
local st, t, v, pos = readCall(ck)
if st == 'c' and t > now then
  out[2] = 'dup'
  for i = 1, n do
    local k = live(KEYS[5 + i])
    out[#out + 1] = k.ss
    out[#out + 1] = k.ss
    out[#out + 1] = R(k)
  end
  return out
end
local held = st == 'h'
local state = {}
for i = 1, n do
  local a = 8 + i * 2
  local k = live(KEYS[5 + i])
  state[i] = k
  if k.s + tonumber(ARGV[a + 1]) > MAX then return {serverStr, 'overflow', tostring(i - 1)} end
end
-- The metadata (record ids, rollup eviction and coverage), read once when there is a record.
local meta = KEYS[5]
local m, mf = nil, {}
if ARGV[8] ~= '' then m = call('HMGET', meta, 'ms', 'seq', 'late', 'u0', 'uf', 'rf', 'tt') end
-- Rollups: evict the days past their retention (only when the oldest is due), then read the rows this record
-- adds to and check their sums, before any write of the commit.
local ra = 11 + 2 * n
local S = tonumber(ARGV[ra + 1])
local uh, ui, uday, ustart, uret, uvals, u0, unew
if S > 0 then
  uh, ui, uday, ustart = KEYS[6 + n], KEYS[7 + n], ARGV[ra + 2], tonumber(ARGV[ra + 3])
  uret = tonumber(ARGV[ra + 4])
  u0 = tonumber(m[4])
  if uret and u0 and u0 + 86400000 + uret <= now then
    local cut = num(now - uret - 86400000)
    local old = call('ZRANGEBYSCORE', ui, '-inf', cut, 'WITHSCORES')
    for i = 1, #old, 1000 do
      local names = {}
      for j = i, math.min(i + 998, #old), 2 do names[#names + 1] = base .. 'u:' .. old[j] end
      call('DEL', unpack(names))
    end
    if #old > 0 then
      call('ZREMRANGEBYSCORE', ui, '-inf', cut)
      local from = tonumber(old[#old]) + 86400000
      if not tonumber(m[5]) or from > tonumber(m[5]) then
        mf[#mf + 1] = 'uf'
        mf[#mf + 1] = num(from)
      end
    end
    local first = call('ZRANGE', ui, 0, 0, 'WITHSCORES')
    u0 = tonumber(first[2])
    mf[#mf + 1] = 'u0'
    mf[#mf + 1] = first[2] or ''
  end
  local fields = {}
  for j = 1, S do fields[j] = ARGV[ra + 10 + j] end
  local cur = call('HMGET', uh, unpack(fields))
  local d = {}
  for j = 1, 6 do d[j] = tonumber(ARGV[ra + 4 + j]) end
  uvals = {}
  for j = 1, S do
    local t = {0, 0, 0, 0, 0, 0}
    if cur[j] then
      local a1, a2, a3, a4, a5, a6 = string.match(cur[j], '^(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$')
      t = {tonumber(a1), tonumber(a2), tonumber(a3), tonumber(a4), tonumber(a5), tonumber(a6)}
    else
      unew = true
    end
    for q = 1, 6 do
      t[q] = t[q] + d[q]
      if t[q] > MAX then return {serverStr, 'rollupOverflow', fields[j], tostring(q)} end
      t[q] = int(t[q])
    end
    uvals[2 * j - 1] = fields[j]
    uvals[2 * j] = table.concat(t, ',')
  end
  -- a new row of a day the index knows, whose hash is gone before its retention is over: evicted or lost
  if unew and call('EXISTS', uh) == 0 and call('ZSCORE', ui, uday) and (not uret or ustart + 86400000 + uret > now) then
    error({err = 'LOST ledger key rollups ' .. uday})
  end
end
local amounts = {}
if held then
  local keys
  keys, amounts = decodeHolds(v, pos)
  -- holds on keys this commit does not list (rare: a commit normally lists the keys it reserved on); before
  -- the record is written, so that a lost key found here (an error) has written no record
  local listed = {}
  for i = 1, n do listed[KEYS[5 + i]] = true end
  for i = 1, #keys do
    local h = hk(keys[i])
    if not listed[h] then
      local k = live(h)
      if k.exists and unhold(k, hf, amounts[h]).dirty then
        k = forgetIfOver(k)
        if k.exists then call('HSET', k.h, 'r', R(k)) end
      end
    end
  end
end
local capMode, cap = sub(ARGV[9], 1, 1), sub(ARGV[9], 2)
if ARGV[8] ~= '' and cap == '0' then
  -- no stream: every record is dropped at once, so records are complete only after the latest one
  local rf = math.floor(tonumber(ARGV[8])) + 1
  if not tonumber(m[6]) or rf > tonumber(m[6]) then
    mf[#mf + 1] = 'rf'
    mf[#mf + 1] = num(rf)
  end
elseif ARGV[8] ~= '' then
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
  call('XADD', KEYS[4], 'MAXLEN', capMode, cap, fmt('%d-%d', idMs, seq), unpack(ARGV, ra + 11 + S))
  if ARGV[ra] ~= '' then
    -- records older than the retention: note the latest endedAt dropped (the record coverage), then trim
    local minId = math.ceil(now - tonumber(ARGV[ra]))
    local old = minId > 0 and call('XRANGE', KEYS[4], '-', fmt('(%d-0', minId), 'COUNT', 1000) or {}
    if #old > 0 then
      local top = minId - 1
      if #old < 1000 then
        top = -1
        for i = 1, #old do
          local e = tonumber(sub(old[i][1], 1, find(old[i][1], '-', 1, true) - 1))
          local f = old[i][2]
          for j = 1, #f, 2 do if f[j] == 'endedAt' then e = tonumber(f[j + 1]) or e end end
          if e > top then top = e end
        end
      end
      local dropped = call('XTRIM', KEYS[4], 'MINID', fmt('%d', minId))
      local rf = math.floor(top) + 1
      if not tonumber(m[6]) or rf > tonumber(m[6]) then
        mf[#mf + 1] = 'rf'
        mf[#mf + 1] = num(rf)
      end
      mf[#mf + 1] = 'tt'
      mf[#mf + 1] = int((tonumber(m[7]) or 0) + dropped)
    end
  end
  mf[#mf + 1] = 'ms'
  mf[#mf + 1] = int(idMs)
  mf[#mf + 1] = 'seq'
  mf[#mf + 1] = int(seq)
  mf[#mf + 1] = 'late'
  mf[#mf + 1] = int(late)
end
if S > 0 and call('HSET', uh, unpack(uvals)) > 0 then
  -- the first row of a scope and model on this day: index the day, set its expiry
  if call('ZADD', ui, ARGV[ra + 3], uday) == 1 and (not u0 or ustart < u0) then
    mf[#mf + 1] = 'u0'
    mf[#mf + 1] = ARGV[ra + 3]
  end
  if uret then call('PEXPIREAT', uh, physical(ustart + 86400000 + uret)) end
end
if #mf > 0 then call('HSET', meta, unpack(mf)) end
for i = 1, n do
  local a = 8 + i * 2
  local k = state[i]
  local holding = amounts[k.h]
  if holding and k.exists and unhold(k, hf, holding).dirty then k = forgetIfOver(k) end
  local amount = ARGV[a + 1]
  local after = k.ss
  if amount ~= '0' then after = int(k.s + tonumber(amount)) end
  local fields = {'s', after}
  if k.dirty or not k.exists then
    fields[3] = 'r'
    fields[4] = R(k)
  end
  local at = expiryFields(k, fields, laterExpiry(k.e, ARGV[a + 2], not k.exists), nil)
  keepP(k, fields)
  call('HSET', k.h, unpack(fields))
  if at then call('PEXPIREAT', k.h, at) end
  out[#out + 1] = k.ss
  out[#out + 1] = after
  out[#out + 1] = R(k)
end
local u = tonumber(ARGV[7]) + shiftIn
if u < now then u = now end
call('SET', ck, 'c|' .. num(u) .. '|', 'PXAT', physical(u))
return out
`

/**
 * Release. `KEYS`: the call record. `ARGV[7]` how long a tombstone lasts when the call id is unknown (an
 * instant relative to the request's `now`). Status `released` | `none`.
 */
export const RELEASE_SCRIPT = String.raw`${prelude(true)}
local cid = ARGV[6]
local ck = base .. 'c:' .. cid
local hf = 'h:' .. cid
local st, x, v, pos = callState(ck, hf)
if not st then
  -- never seen (or forgotten): a tombstone, so that the reservation, if it arrives late, changes nothing
  x = tonumber(ARGV[7]) + shiftIn
  if x < now then x = now end
  call('SET', ck, 'r|' .. num(x) .. '|', 'PXAT', physical(x))
  return {serverStr, 'none'}
end
if st ~= 'h' then return {serverStr, 'none'} end
dropHolds(ck, hf, v, pos)
if x < now then x = now end
call('SET', ck, 'r|' .. num(x) .. '|', 'PXAT', physical(x))
return {serverStr, 'released'}
`

/** The prelude of scripts without a call record. */
export const PRELUDE = prelude(false)

/** Balances. `KEYS`: budgets hash, then the hash of every key. `spent, reserved` per key. */
export const BALANCES_SCRIPT = String.raw`${PRELUDE}
local out = {serverStr, 'ok'}
for i = 4, #KEYS do
  local k = live(KEYS[i])
  out[#out + 1] = k.ss
  out[#out + 1] = R(k)
end
return out
`

/** Reset spend to zero, keeping holds. `KEYS` and `ARGV` as in {@link BALANCES_SCRIPT}. */
export const RESET_SCRIPT = String.raw`${PRELUDE}
for i = 4, #KEYS do
  local k = live(KEYS[i])
  if k.exists then call('HSET', k.h, 's', '0') end
end
return {serverStr, 'ok'}
`

/**
 * Write or delete a budget definition and append its history entry. `KEYS`: budgets hash, history list.
 * `ARGV[6]` scope, `[7]` scope as JSON, `[8]` `1` to delete, `[9]` definition JSON, `[10]` history entry JSON,
 * `[11]` now as JSON, `[12]` expected revision (`''` for none). Stored value:
 * `revision\ncreatedAt\nupdatedAt\nscopeJSON\ndefinitionJSON`. Status `ok` | `conflict`; then the stored
 * value after (`ok`) or as it is (`conflict`), or nothing when there is none.
 */
export const PUT_BUDGET_SCRIPT = String.raw`${PRELUDE}
local scope = ARGV[6]
local current = redis.call('HGET', KEYS[3], scope)
local revision = 0
local created = nil
if current then
  local r, c = string.match(current, '^(%d+)\n([^\n]*)\n')
  revision = tonumber(r)
  created = c
end
if ARGV[12] ~= '' and revision ~= tonumber(ARGV[12]) then
  if current then return {serverStr, 'conflict', current} end
  return {serverStr, 'conflict'}
end
redis.call('RPUSH', KEYS[4], ARGV[10])
if ARGV[8] == '1' then
  redis.call('HDEL', KEYS[3], scope)
  return {serverStr, 'ok'}
end
local value = string.format('%.0f', revision + 1) .. '\n' .. (created or ARGV[11]) .. '\n' .. ARGV[11] .. '\n' .. ARGV[7] .. '\n' .. ARGV[9]
redis.call('HSET', KEYS[3], scope, value)
return {serverStr, 'ok', value}
`
