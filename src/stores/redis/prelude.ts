/**
 * The prelude every Lua script of the Redis store starts with (`scripts.ts`, `rollups.ts`): it reads the Redis
 * server time (`TIME`, once), checks the store's epoch (reserve, commit and release read their call record in the
 * same `MGET`), decides which clock the ledger logic uses (`now`), and defines the helpers that mirror
 * `src/stores/ledger/ledger.ts`:
 *
 * - `live(h, bf)`: one `HMGET` of a ledger key's own fields (and of the hold bucket `bf` the operation uses);
 *   sweeps the key's expired buckets only when its earliest hold expiry `n` has passed (`sweepHolds` and
 *   `nextHoldExpiry` in the ledger), and forgets the key when its window is over and no hold is left
 *   (`liveKey`);
 * - `laterExpiry`: the logical expiry after a write, as the ledger's `laterExpiry`; the physical one
 *   (`PEXPIREAT`, with a margin) is written only when its basis `p` moves later;
 * - `callState`, `dropHolds`: the call record used for idempotency, and the holds it owns.
 *
 * Key layout (see docs/stores/redis.md): a ledger key is one hash `{prefix}:k:<key>` with `s` spent,
 * `r` reserved (the sum of its buckets), `e` logical expiry, `n` earliest hold expiry (a lower bound; the sweep
 * runs only when it has passed), `p` the last hold's expiry when it outlives `e` (the `PEXPIREAT` is computed from
 * the later of `e` and `p`; empty when none, written when the key is created), `w` the latest expiry a sweep
 * dropped (absent until one did; a forgotten key leaves it alone in the hash until its physical expiry), and one hold bucket per hold expiry instant: `b:<expiry>` =
 * `<sum of the amounts>:<number of holds>` of the holds expiring then (the calls of a batch share their expiry, so a
 * batch adds to one bucket per key, written with the key's own fields; a bucket whose last hold goes is deleted).
 * A call record is one string `{prefix}:c:<call id>`: `h|<hold expiry>|<amounts>|<keys>` with `<amount>,` and
 * `<bytes>:<ledger key>` per held key, in the same order, `c|<remembered until>|` or `r|<remembered until>|`, set
 * with `SET ... PXAT` (one command, expiry included). The call record is the hold's identity and its idempotency
 * (`h|` becomes `c|` or `r|` once): a commit or release takes each key's amount from it off the bucket of its
 * expiry, only when that bucket has not expired (expiry > `now`, the sweep's comparison) and was never swept
 * (expiry > `w`: a bucket of an instant a sweep dropped may be made again by a clock that is behind, and holds other
 * calls then). A field of another shape (an older version's `h:<call id>`) fails the script loudly (`LAYOUT`).
 *
 * Common `KEYS`: `[1]` the store's epoch, `[2]` the registry of live keys; the operation's keys follow
 * (their numbers below count from there: "`KEYS`: call record" is `KEYS[3]`).
 *
 * Common `ARGV`: `[1]` clock mode (`s` server, `c` client), `[2]` expiry margin ms, `[3]` the request's
 * `now`, `[4]` the key base (`{prefix}:`), `[5]` the store epoch the client knows (every script checks it
 * first and answers `lost` with the stored epoch when it differs); the script's own arguments follow (the batch
 * script's: what its operations share, each distinct list once, then each operation's shape and values; `scripts.ts`).
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
 * Replies are arrays: `[1]` the server time in ms, `[2]` a status, then the operation's values. Amounts go back
 * as the string Redis holds when the value did not change, else as an integer reply when below 2^52 (`EXACT`: the
 * hot paths leave changed amounts numbers, formatted once per key per batch for the write) and as text at or above
 * it (clients parse integer replies digit by digit in doubles, inexactly near 2^53).
 *
 * @internal
 */

const PRELUDE_HEAD = String.raw`
local MAX = 9007199254740991
-- 2^52: an amount below it may go back as an integer reply (the clients' parsers, digit by digit in doubles, are
-- exact there; near 2^53 they are not), an amount at or above it as its text.
local EXACT = 4503599627370496
local mode = ARGV[1]
local margin = tonumber(ARGV[2])
local base = ARGV[4]
local call = redis.call
local fmt, sub, find, byte, match = string.format, string.sub, string.find, string.byte, string.match
-- Numbers of decimal strings, remembered for the script's run: Lua's tonumber is C's strtod (about 800
-- instructions for a 13-digit integer), and a batch reads the same texts again and again (amounts, limits, window
-- ends, the values it formatted itself: int() and num() remember the number of each text they make).
local tonum, known = tonumber, {}
local function tonumber(s)
  if s == nil then return nil end
  local v = known[s]
  if v == nil then
    v = tonum(s) or false
    known[s] = v
  end
  return v or nil
end
local tm = call('TIME')
local server = tonumber(tm[1]) * 1000 + math.floor(tonumber(tm[2]) / 1000)
local serverStr = fmt('%d', server)
local reg = KEYS[2]
-- The clock of one operation (a batch runs each operation with the 'now' of its own request).
local now, shiftIn, shiftOut
local function setNow(reqNow)
  if mode == 's' then
    now = server
    shiftIn = server - reqNow
    shiftOut = margin
  else
    now = reqNow
    shiftIn = 0
    shiftOut = server - reqNow + margin
  end
end
setNow(tonumber(ARGV[3]))
-- The store's epoch: a key without expiry, written once when the store is initialized. Gone or different
-- means Redis lost the store's data (FLUSHALL, a restart without persistence, eviction): fail closed.
-- Both are declared keys of every script, so that a cluster in the middle of moving the store's slot routes
-- the script to the node that has them (or answers TRYAGAIN) instead of running it on a partial view.
`

/** The epoch check of a script that reads nothing else before it. */
const EPOCH_CHECK = String.raw`
local epoch = call('GET', KEYS[1])
if epoch ~= ARGV[5] then return {serverStr, 'lost', epoch or ''} end
`

const PRELUDE_BODY = String.raw`
-- Instants: integers (the usual case) through the cheap integer path, fractions with all 17 digits. The text of
-- each is remembered for the script's run (numText): the operations of a batch mostly share their instants (hold
-- expiries, dedupe ends: calls issued in the same millisecond), and string.format costs about 900 instructions.
local numText = {}
local function num(v)
  local s = numText[v]
  if s then return s end
  if v == math.floor(v) and v < MAX and v > -MAX then s = fmt('%d', v) else s = fmt('%.17g', v) end
  known[s] = v
  numText[v] = s
  return s
end
-- Amounts: integers below 2^53 (sums and differences of validated integer amounts and counts, never a fraction,
-- so the text is remembered as exactly its number).
local function int(v)
  local s = fmt('%d', v)
  known[s] = v
  return s
end
local function hk(lk) return base .. 'k:' .. lk end

-- The physical expiry (ms on the server's clock) for a logical instant, remembered for the script's run by shift
-- and instant.
local physText = {}
local function physical(logical)
  local byShift = physText[shiftOut]
  if not byShift then
    byShift = {}
    physText[shiftOut] = byShift
  end
  local s = byShift[logical]
  if s then return s end
  local at = math.ceil(logical + shiftOut)
  if at < 1 then at = 1 end
  if at > MAX then at = MAX end
  s = fmt('%d', at)
  byShift[logical] = s
  return s
end

-- The script's view of the ledger keys it loaded (hash name -> state), so that a key several operations of a
-- batch touch is read once. Writes of the key's own fields (s r e n p w) and of its hold buckets, and its
-- PEXPIREAT, are kept in the view and sent once, by flushAll() at the end of the script (flushKey() earlier when a
-- command must see them). A key the script creates is written at once, so that its own fields come first in the
-- hash, before any bucket.
local cache, pending = {}, {}
local FIELDS = {'s', 'r', 'e', 'n', 'p', 'w'}
local SLOT = {s = 1, r = 2, e = 3, n = 4, p = 5, w = 6}

-- s and r are numbers; ss and rs the same values as the decimal strings Redis holds (rs nil once r changed).
-- Hold buckets: b (bucket field -> sum of its holds, false when absent), bc (field -> number of holds), bo (field
-- -> true when Redis has it), bw (fields changed since the last flush). 'loaded': the key was read from Redis
-- (a key made by this script has no bucket Redis does not know of in the view).
local function fresh(h)
  local k = {h = h, exists = false, s = 0, r = 0, ss = '0', rs = '0', b = {}, bc = {}, bo = {}}
  cache[h] = k
  return k
end
local function R(k)
  local rs = k.rs
  if not rs then
    rs = int(k.r)
    k.rs = rs
  end
  return rs
end

-- Sends a key's pending field and bucket writes and its expiry.
local function flushKey(k)
  local w = k.w
  if w then
    k.w = nil
    local fields = {}
    for i = 1, 6 do
      local f = FIELDS[i]
      local x = w[f]
      if x then
        -- 's' and 'r' the hot paths left as numbers, formatted once per batch
        if type(x) == 'number' then x = fmt('%d', x) end
        fields[#fields + 1] = f
        fields[#fields + 1] = x
      end
    end
    local bw = k.bw
    if bw then
      k.bw = nil
      local b, bo, gone = k.b, k.bo, nil
      for f in pairs(bw) do
        local sum = b[f]
        if sum then
          fields[#fields + 1] = f
          fields[#fields + 1] = fmt('%d:%d', sum, k.bc[f])
          bo[f] = true
        elseif bo[f] then
          gone = gone or {}
          gone[#gone + 1] = f
          bo[f] = nil
        end
      end
      if gone then call('HDEL', k.h, unpack(gone)) end
    end
    if #fields > 0 then call('HSET', k.h, unpack(fields)) end
  end
  if k.at then
    call('PEXPIREAT', k.h, k.at)
    k.at = nil
  end
end

-- Writes fields of a loaded key (name, value pairs of s r e n p): the view at once, Redis at the end (at
-- once for a key not yet in Redis). The view then reads as a fresh HMGET would.
local function put(k, fields)
  local v = k.v
  if not v then
    v = {false, false, false, false, false, false}
    k.v = v
  end
  local w = k.w
  if not w then
    w = {}
    k.w = w
    pending[#pending + 1] = k
  end
  -- only the written fields are converted to numbers (the others are as the view already holds them)
  for i = 1, #fields, 2 do
    local f, x = fields[i], fields[i + 1]
    w[f] = x
    v[SLOT[f]] = x
    if f == 's' then
      k.ss, k.s = x, tonumber(x)
    elseif f == 'r' then
      k.rs, k.r = x, tonumber(x)
    elseif f == 'e' then
      k.e = tonumber(x)
    elseif f == 'n' then
      k.n = tonumber(x)
    elseif f == 'p' then
      k.p = tonumber(x)
    else
      k.sw = tonumber(x)
    end
  end
  if not k.exists then
    k.exists = true
    if not v[1] then k.ss, k.s = false, nil end
    if not v[2] then k.rs, k.r = false, nil end
  end
  k.dirty = nil
  if not k.stored then
    k.stored = true
    flushKey(k)
  end
end
-- Deletes fields of a loaded key at once (dropping their pending writes).
local function unset(k, ...)
  local names = {...}
  for i = 1, #names do
    if k.w then k.w[names[i]] = nil end
    if k.v then k.v[SLOT[names[i]]] = false end
  end
  call('HDEL', k.h, ...)
  k.e, k.n, k.p = tonumber(k.v and k.v[3]), tonumber(k.v and k.v[4]), tonumber(k.v and k.v[5])
end
-- Sets the key's PEXPIREAT (sent by flushKey), or removes its expiry at once (at = nil).
local function expireAt(k, at)
  if at then
    k.at = at
    if not k.w then
      k.w = {}
      pending[#pending + 1] = k
    end
  else
    k.at = nil
    call('PERSIST', k.h)
  end
end

-- Other hashes a batch reads once and writes once: the record metadata and the rollup days (hash -> field ->
-- value, false for a field known to be absent; a rollup row written by the batch is a table of its six sums, an
-- integer field of the metadata a number).
-- Their writes are sent by flushAll() (hflush() earlier).
local hview, hpend = {}, {}
-- The table t holds under h, made empty the first time.
local function tableOf(t, h)
  local v = t[h]
  if not v then
    v = {}
    t[h] = v
  end
  return v
end
-- The values of fields of hash h (false when absent), from the view, reading only the fields it lacks.
local function hread(h, fields)
  local view = tableOf(hview, h)
  local missing = {}
  for i = 1, #fields do if view[fields[i]] == nil then missing[#missing + 1] = fields[i] end end
  if #missing > 0 then
    local got = call('HMGET', h, unpack(missing))
    for i = 1, #missing do view[missing[i]] = got[i] end
  end
  local out = {}
  for i = 1, #fields do out[i] = view[fields[i]] end
  return out
end
local function hflush(h)
  local w = hpend[h]
  if not w then return end
  hpend[h] = nil
  local fields = {}
  for f, v in pairs(w) do
    fields[#fields + 1] = f
    -- a rollup row's sums (numbers, exact integers below 2^53) as the row's text; an integer (the record
    -- metadata's last id, sequence and lateness, which every commit of a batch changes) formatted once
    if type(v) == 'table' then
      v = fmt('%d,%d,%d,%d,%d,%d', v[1], v[2], v[3], v[4], v[5], v[6])
    elseif type(v) == 'number' then
      v = fmt('%d', v)
    end
    fields[#fields + 1] = v
  end
  if #fields > 0 then call('HSET', h, unpack(fields)) end
end
-- Forgets hash h (about to be deleted): its view and its pending writes.
local function hforget(h)
  hview[h] = nil
  hpend[h] = nil
end

local function flushAll()
  for i = 1, #pending do flushKey(pending[i]) end
  pending = {}
  local names = {}
  for h in pairs(hpend) do names[#names + 1] = h end
  for i = 1, #names do hflush(names[i]) end
end

-- A bucket's value '<sum>:<count>' as two numbers; a field of another shape (a hold of an older version of the
-- store, 'h:<call id>' = '<amount>:<expiry>', is never a bucket) fails loudly rather than miscount.
local function layoutError(k, f)
  error({err = 'LAYOUT ledger key ' .. sub(k.h, #base + 3) .. ' has a field ' .. sub(f, 1, 60) ..
    ' this version does not write (a store written by an older version: they must not share a Redis)'})
end
local function bucketOf(k, f, v)
  local sum, c = match(v, '^(%d+):(%d+)$')
  if not sum then layoutError(k, f) end
  return tonumber(sum), tonumber(c)
end

-- The sum of the holds of bucket f of a loaded key (false when it has none), read from Redis the first time.
local function bucket(k, f)
  local sum = k.b[f]
  if sum == nil then
    local v = k.loaded and call('HGET', k.h, f)
    if v then
      sum, k.bc[f] = bucketOf(k, f, v)
      k.bo[f] = true
    else
      sum = false
    end
    k.b[f] = sum
  end
  return sum
end
-- Marks bucket f of a loaded key changed (sent by flushKey).
local function touch(k, f)
  local bw = k.bw
  if not bw then
    bw = {}
    k.bw = bw
  end
  bw[f] = true
  if not k.w then
    k.w = {}
    pending[#pending + 1] = k
  end
end

-- Drops every expired bucket of a loaded key (one HGETALL), takes their sums off 'r', recomputes its earliest
-- hold expiry 'n' and keeps the latest expiry it dropped in 'w' (a hold of a record expiring then or earlier is
-- not in any bucket any more, even if a bucket of that instant is made again). Runs only when 'n' has passed.
-- Leaves the exact hold count in k.holds.
local function sweep(k)
  flushKey(k)
  local all = call('HGETALL', k.h)
  local dead, freed, nextX, holds, top = {}, 0, nil, 0, nil
  local b, bc, bo = {}, {}, {}
  for i = 1, #all, 2 do
    local f = all[i]
    if #f > 1 and byte(f, 2) == 58 then
      if byte(f, 1) ~= 98 then layoutError(k, f) end
      local sum, c = bucketOf(k, f, all[i + 1])
      local x = tonumber(sub(f, 3))
      if x <= now then
        dead[#dead + 1] = f
        freed = freed + sum
        if not top or x > top then top = x end
      else
        b[f], bc[f], bo[f] = sum, c, true
        holds = holds + c
        if not nextX or x < nextX then nextX = x end
      end
    end
  end
  k.b, k.bc, k.bo = b, bc, bo
  for i = 1, #dead, 1000 do call('HDEL', k.h, unpack(dead, i, math.min(i + 999, #dead))) end
  local fields = {'r', int(k.r - freed)}
  if nextX then
    fields[3] = 'n'
    fields[4] = num(nextX)
  end
  if top and (not k.sw or top > k.sw) then
    fields[#fields + 1] = 'w'
    fields[#fields + 1] = num(top)
  end
  put(k, fields)
  if not nextX then unset(k, 'n') end
  k.holds = holds
end

-- Number of holds on a loaded key: known after a sweep, else counted by one (only for a key whose window is over).
local function holdCount(k)
  if not k.holds then sweep(k) end
  return k.holds
end

-- The ledger key of a hash name.
local function lkOf(h) return sub(h, #base + 3) end
-- The ledger key of a loaded key (computed once per script).
local function lkey(k)
  local l = k.lk
  if not l then
    l = lkOf(k.h)
    k.lk = l
  end
  return l
end

-- The registry of live keys ('live', a sorted set without expiry: ledger key -> logical expiry) says which
-- keys must exist: a key missing from Redis while the registry says its window is not over was evicted.
local function register(h, e)
  call('ZADD', reg, num(e or MAX), lkOf(h))
end

-- A key whose window is over and that has no hold left is forgotten (the ledger's liveKey). Its swept instant 'w'
-- stays alone in the hash until its physical expiry, for a key made again on it ('left'; see unhold).
local function forgetIfOver(k)
  if k.exists and k.e and k.e <= now and holdCount(k) == 0 then
    local sw = k.sw
    k.w, k.at = nil, nil
    call('DEL', k.h)
    call('ZREM', reg, lkOf(k.h))
    local f = fresh(k.h)
    if sw then
      call('HSET', k.h, 'w', num(sw))
      call('PEXPIREAT', k.h, physical(sw))
      f.sw, f.left = sw, true
    end
    return f
  end
  return k
end

-- The state of the key whose hash is h, after sweeping its expired holds: {h, exists, s, r, e, n, p, sw, holds}.
-- One HMGET of its own fields (and of bucket bf, when given: the bucket the operation adds to or takes from), unless
-- a hold can have expired; a key already loaded by this script is taken from its view.
local function live(h, bf)
  local k = cache[h]
  if not k then
    local v
    if bf then v = call('HMGET', h, 's', 'r', 'e', 'n', 'p', 'w', bf) else v = call('HMGET', h, 's', 'r', 'e', 'n', 'p', 'w') end
    if not v[1] then
      local e = call('ZSCORE', reg, lkOf(h))
      if e and tonumber(e) > now then
        flushAll()
        error({err = 'LOST ledger key ' .. lkOf(h)})
      end
      local f = fresh(h)
      if v[6] then f.sw, f.left = tonumber(v[6]), true end -- left by forgetIfOver
      return f
    end
    k = {h = h, exists = true, stored = true, loaded = true, s = tonumber(v[1]), r = tonumber(v[2]), ss = v[1],
      rs = v[2], e = tonumber(v[3]), n = tonumber(v[4]), p = tonumber(v[5]), sw = tonumber(v[6]), v = v, holds = nil,
      dirty = nil, b = {}, bc = {}, bo = {}}
    if bf then
      local bv = v[7]
      v[7] = nil
      if bv then
        k.b[bf], k.bc[bf] = bucketOf(k, bf, bv)
        k.bo[bf] = true
      else
        k.b[bf] = false
      end
    end
    cache[h] = k
  end
  if k.exists then
    if k.n and k.n <= now then sweep(k) end
    -- forgetIfOver's test first: a call less for a key whose window is not over (the usual case)
    if k.e and k.e <= now then return forgetIfOver(k) end
  end
  return k
end

-- Removes one call's hold (of 'amount', from its call record, in bucket bf of expiry x) from a loaded key, in the
-- view. Only a hold whose bucket has not expired (x > now, the sweep's comparison: live() swept the key when one
-- had) and was never swept (x > 'w': a bucket of a swept instant made again holds other calls) is still counted in
-- 'r'. A bucket whose last hold goes is deleted. The caller writes 'r'.
local function unhold(k, bf, x, amount)
  if x > now and (not k.sw or x > k.sw) then
    local sum = bucket(k, bf)
    if sum then
      local c = k.bc[bf] - 1
      if c > 0 then
        k.b[bf], k.bc[bf] = sum - amount, c
      else
        k.b[bf], k.bc[bf] = false, nil
      end
      touch(k, bf)
      k.r = k.r - amount
      k.rs = nil
      if k.holds then k.holds = k.holds - 1 end
      k.dirty = true
    end
  end
  return k
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
      unset(k, 'e', 'p')
      expireAt(k, nil)
      register(k.h, nil)
    elseif not k.exists then
      register(k.h, nil)
      -- a key without a window lives on: not until the expiry of the swept instant it is made on
      if k.left then call('PERSIST', k.h) end
    end
    return nil
  end
  if newE ~= k.e then
    fields[#fields + 1] = 'e'
    fields[#fields + 1] = num(newE)
    if not k.exists then call('ZREMRANGEBYSCORE', reg, '-inf', '(' .. num(now)) end
    register(k.h, newE)
  end
  local b = newE
  if holdX and holdX > b then b = holdX end
  -- a key made on a swept instant a forgotten key left keeps it at least as long
  if k.left and not k.exists and k.sw > b then b = k.sw end
  if k.exists then
    -- the instant the current PEXPIREAT was computed from: the window end, or a later hold ('p')
    local basis = k.e
    if k.p and k.p > basis then basis = k.p end
    if b <= basis then return nil end
  end
  if b > newE then
    fields[#fields + 1] = 'p'
    fields[#fields + 1] = num(b)
  end
  return physical(b)
end

-- A key created by a write gets 'p' at once, empty when no hold outlives its window, so that live()'s HMGET finds
-- it at the head of the hash (from the per-call hold fields of an earlier layout, when an absent field was searched
-- for through every hold; a hash of buckets is a few fields, so this matters little now).
local function keepP(k, fields)
  if k.exists then return end
  for i = 1, #fields, 2 do if fields[i] == 'p' then return end end
  fields[#fields + 1] = 'p'
  fields[#fields + 1] = ''
end

-- A key's part of a call record's key list ('<bytes>:<ledger key>'), made once per script.
local function kpart(k)
  local kp = k.held
  if not kp then
    local lk = lkey(k)
    kp = #lk .. ':' .. lk
    k.held = kp
  end
  return kp
end

-- Holds of a call record: the amounts ('<amount>,' per key), '|', then the keys ('<bytes>:<ledger key>' per key).
-- Decoded into a list of ledger keys and a map from ledger key to amount. (A commit that lists the same keys in
-- the same order reads the amounts with one string.match instead: see the commit.)
local function decodeHolds(s, pos)
  local keys, amounts, list = {}, {}, {}
  local bar = find(s, '|', pos, true)
  for a in string.gmatch(sub(s, pos, bar - 1), '([^,]*),') do list[#list + 1] = a end
  pos = bar + 1
  while pos <= #s do
    local len, c = match(s, '^(%d+):()', pos)
    local e = c + tonumber(len) - 1
    local lk = sub(s, c, e)
    keys[#keys + 1] = lk
    amounts[lk] = tonumber(list[#keys])
    pos = e + 1
  end
  return keys, amounts
end

-- The value of the operation's call record (KEYS[3]), read before the operation runs.
local record = nil

-- Reads a call record: state ('h', 'c', 'r' or nil), its instant, the position of its key list, and its
-- instant's text (of a held call: the name of its buckets is 'b:' and that text).
local function readCall(ck)
  local v = record
  if not v then return nil end
  local st, t, pos = match(v, '^(.)|([^|]*)|()')
  return st, tonumber(t), v, pos, t
end

-- Removes a call's hold (bucket bf, expiry x) from the ledger key of hash h and writes its 'r' (a key the
-- operation does not otherwise write).
local function releaseOn(h, bf, x, amount)
  local k = live(h, bf)
  if k.exists and unhold(k, bf, x, amount).dirty then
    k = forgetIfOver(k)
    if k.exists then put(k, {'r', R(k)}) end
  end
end

-- Removes a call's holds (expiring at x, 'b:' .. xs their bucket) from every key it held (the ledger's dropHolds)
-- and its record.
local function dropHolds(ck, x, xs, v, pos)
  local keys, amounts = decodeHolds(v, pos)
  local bf = 'b:' .. xs
  for i = 1, #keys do
    releaseOn(hk(keys[i]), bf, x, amounts[keys[i]])
  end
  call('DEL', ck)
end

-- The call record's state: 'h' (live holds), 'c' (committed), 'r' (released) or nil. Expired holds are
-- dropped and expired records forgotten, as the ledger's heldCall and isFinished do. Also returns the
-- hold expiry of a held call (and the rest of readCall's values).
local function callState(ck)
  local st, t, v, pos, ts = readCall(ck)
  if not st then return nil end
  if t <= now then
    if st == 'h' then dropHolds(ck, t, ts, v, pos) else call('DEL', ck) end
    return nil
  end
  return st, t, v, pos, ts
end

-- Runs fn (the body of a script or of one operation of a batch) and sends the pending writes even when it
-- fails, so that no write an operation made before its error is lost. Answers pcall's two values.
local function guarded(fn, ...)
  local ok, res = pcall(fn, ...)
  flushAll()
  return ok, res
end
-- An error caught by pcall as text ('LOST ledger key ...', a Redis error reply or a Lua error).
local function errorText(e)
  if type(e) == 'table' then return tostring(e.err or e.message or 'error') end
  return tostring(e)
end
`

/**
 * The prelude every script starts with (see above). `read` replaces the epoch check: Lua that sets `epoch` (a
 * batch reads it in the same `MGET` as its call records) and returns `lost` when it differs from `ARGV[5]`.
 */
export function prelude(read: string = EPOCH_CHECK): string {
  return PRELUDE_HEAD + read + PRELUDE_BODY
}

/** The prelude of the scripts that check the epoch alone. */
export const PRELUDE = prelude()
