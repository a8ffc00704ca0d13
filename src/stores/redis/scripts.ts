/**
 * The batch script of the Redis store and the reserve, commit and release it runs, starting with the prelude of
 * `prelude.ts` (server time, epoch check, the ledger helpers). It runs atomically inside Redis (a script is never
 * interleaved with another command), so a reservation's check and its writes are one step. The scripts outside
 * the batch are in `key-scripts.ts`; the commit is in `commit-op.ts`.
 *
 * @internal
 */
import { BATCH_HELPERS } from './batch-helpers.js'
import { COMMIT_OP } from './commit-op.js'
import { prelude } from './prelude.js'

/**
 * Reserve. `KEYS`: call record (the call id is its name after `{prefix}:c:`), then the hash of every entry (the
 * ledger key is the hash name after `{prefix}:k:`; the entry count is the number of these keys). `ARGV[6]`
 * holdExpiresAt, then per entry its amount (`u` 1), or one amount for every entry (`u` 0, kind `R`). Terms (`T[ta]` on, shared by the batch's operations that send the same):
 * per entry, limit (`''` for none) and expiresAt (`''` for none).
 * Status `dup` | `refused` (then the refused index) | `overflow` (then the index) | `ok`; then
 * `spent, reserved` per entry.
 */
const RESERVE_OP = String.raw`
local ck = KEYS[3]
-- (numbers of texts: known[x] or tonumber(x), the remembered number inline, as below: a Lua call costs more)
local holdX = (known[ARGV[6]] or tonumber(ARGV[6])) + shiftIn
local n = nk - 1
local out
-- the batch's scratch (a table costs Redis about 3,300 instructions; entries past n are another operation's)
local state = STATE
-- A repeat of the reservation just before it (REPEAT): the same shape (so the same keys and terms), the same now (sn:
-- the client leaves it out when it is the operation's before) and text of the hold expiry (so the same clock and bucket), one amount for every entry (its own), and no call record
-- of its own. The previous one went the usual way on every key and nothing ran since: its checks and writes are this
-- one's, on the same key views, with this amount; the limits and the largest exact amount are checked again (when one
-- fails, the reservation goes the whole way, below).
local rp = REPEAT
if rp[1] == kc - 1 and not record and u == 0 then
  local po = rp[2]
  if sh == rp[5] and sn and ARGV[6] == rp[6] then
    local amount = ARGV[7]
    local av, bf = known[amount] or tonumber(amount), rp[3]
    local run = RUN
    if not run.on then
      -- a run starts (the views are exact: nothing is deferred): each key's room under its limit (or the largest
      -- exact amount: a number per entry, once per batch for each list of terms) and the largest reserved
      local lims = limsOf[ta]
      if not lims or not lims[n] then
        lims = {}
        for i = 1, n do
          local limit = T[ta + 2 * i - 2]
          local lv = MAX
          if limit ~= '' then lv = math.min(known[limit] or tonumber(limit), MAX) end
          lims[i] = lv
        end
        limsOf[ta] = lims
      end
      local room, top, keys = MAX, 0, run.keys
      for i = 1, n do
        local k = state[i]
        local left = lims[i] - k.s - k.r
        if left < room then room = left end
        if k.r > top then top = k.r end
        keys[i] = k
      end
      run.on, run.n, run.bf, run.sum, run.count, run.room, run.top = true, n, bf, 0, 0, room, top
    end
    -- every key's s + r + sum <= its limit, and r + sum < EXACT, when sum is at most the least room and the largest
    -- r plus sum is below EXACT (integers below 2^53: exact)
    local sum = run.sum + av
    if sum <= run.room and run.top + sum < EXACT then
      -- the reply '=': the previous reservation's values with this amount added to each reserved (the client adds
      -- it: every value is an integer below EXACT, exact in a double), instead of 2 values per entry
      rep[b + 1] = '='
      -- the call record's text: the previous one's (LASTHOLD), with this amount
      local last = LASTHOLD
      if amount ~= rp[7] then
        local byN = sameLists[n]
        local list = byN[amount]
        if not list then
          list = string.rep(amount .. ',', n)
          byN[amount] = list
        end
        last[2], last[4] = list, 'h|' .. last[1] .. '|' .. list .. '|' .. last[3]
      end
      call('SET', ck, last[4], 'PXAT', rp[4])
      -- the run counts this reservation once its own write is done
      run.sum, run.count = sum, run.count + 1
      rp[1], rp[2], rp[7] = kc, o, amount
      return 1
    end
  end
end
-- (the run this reservation does not join, into the key views before it reads them)
if RUN.on then settle() end
if record and callState(ck) then
  out = {serverStr, 'dup'}
  for i = 1, n do
    local k = live(KEYS[3 + i])
    out[#out + 1] = k.ss
    out[#out + 1] = R(k)
  end
  return 0, out
end
-- the bucket of this hold (the calls of a batch share their hold expiry, hence their bucket)
local holdStr = numText[holdX] or num(holdX)
local bf = 'b:' .. holdStr
for i = 1, n do
  local h = KEYS[3 + i]
  -- live(h), inline when the batch has the key and it needs no sweep and no forgetting (the usual case)
  local k = cache[h]
  if not k or (k.exists and ((k.n and k.n <= now) or (k.e and k.e <= now))) then k = live(h, bf) end
  state[i] = k
  -- (ARGV[7] by its literal index: the batch may leave it out, see offsets())
  local amount = ARGV[7]
  if u == 1 and i > 1 then amount = ARGV[6 + i] end
  local total = k.s + k.r + (known[amount] or tonumber(amount))
  if total > MAX then return 0, {serverStr, 'overflow', tostring(i - 1)} end
  local limit = T[ta + 2 * i - 2]
  if limit ~= '' and total > (known[limit] or tonumber(limit)) then
    out = {serverStr, 'refused', tostring(i - 1)}
    for j = 1, n do
      local kj = j <= i and state[j] or live(KEYS[3 + j])
      out[#out + 1] = kj.ss
      out[#out + 1] = R(kj)
    end
    return 0, out
  end
end
local amounts = AMOUNTS
-- the reply, written into the batch's at b (no table of its own): 'ok', then spent and reserved per entry
rep[b + 1] = 'ok'
-- whether every key took the usual path (then the next operation may repeat this one)
local usual = true
for i = 1, n do
  local k = state[i]
  -- (ARGV[7] by its literal index: the batch may leave it out, see offsets())
  local amount = ARGV[7]
  if u == 1 and i > 1 then amount = ARGV[6 + i] end
  local av = known[amount] or tonumber(amount)
  local ss = k.ss
  local rv = k.r + av
  -- 'r' after the hold: a number (an integer reply, below EXACT; the key's write formats it once per batch), or
  -- its text
  local r = rv
  local inc, e, p = T[ta + 2 * i - 1], k.e, k.p
  if k.exists and e and k.n and holdX >= k.n and inc ~= '' and (known[inc] or tonumber(inc)) + shiftIn <= e
    and (holdX <= e or (p and holdX <= p)) then
    -- the usual case: a key whose window end, earliest hold and expiry do not move; only 'r' changes (put's
    -- work without its table)
    local w = k.w
    if not w then
      w = {}
      k.w = w
      pending[#pending + 1] = k
    end
    w.r, k.v[2], k.r, k.rs, k.dirty = rv, rv, rv, nil, nil
    if rv >= EXACT then r = R(k) end
  else
    usual = false
    -- int(rv), inline
    r = fmt('%d', rv)
    known[r] = rv
    local fields = {'r', r}
    if not k.exists then
      fields[3] = 's'
      fields[4] = '0'
    end
    if not k.n or holdX < k.n then
      fields[#fields + 1] = 'n'
      fields[#fields + 1] = holdStr
    end
    local at = expiryFields(k, fields, laterExpiry(e, inc, not k.exists), holdX)
    keepP(k, fields)
    -- the key's own fields first: a key created here gets them at the head of its hash
    put(k, fields)
    if at then expireAt(k, at) end
  end
  -- the hold, added to its bucket in the view (written with the key's fields when the batch ends)
  local sum = k.b[bf]
  if sum == nil then sum = bucket(k, bf) end
  if sum then
    k.b[bf], k.bc[bf] = sum + av, k.bc[bf] + 1
  else
    k.b[bf], k.bc[bf] = av, 1
  end
  -- touch(k, bf), inline (a key created above is written already: it is pending again)
  local bw = k.bw
  if not bw then
    bw = {}
    k.bw = bw
  end
  bw[bf] = true
  if not k.w then
    k.w = {}
    pending[#pending + 1] = k
  end
  if k.holds then k.holds = k.holds + 1 end
  rep[b + 2 * i] = ss
  rep[b + 2 * i + 1] = r
  amounts[i] = amount
end
-- the call record's text, made once per batch for each hold expiry, list of amounts and sequence of keys
local list = ''
if u == 0 then
  -- by amount and number of keys: a reservation of the same amount on fewer keys has a shorter list
  local byN = sameLists[n]
  if not byN then
    byN = {}
    sameLists[n] = byN
  end
  list = byN[amounts[1]]
  if not list then
    list = string.rep(amounts[1] .. ',', n)
    byN[amounts[1]] = list
  end
elseif n > 0 then
  list = table.concat(amounts, ',', 1, n) .. ','
end
local kl = keyList(state, n)
local last, text = LASTHOLD, nil
if last[1] == holdStr and last[2] == list and last[3] == kl then
  text = last[4]
else
  text = 'h|' .. holdStr .. '|' .. list .. '|' .. kl
  last[1], last[2], last[3], last[4] = holdStr, list, kl, text
end
local at = physical(holdX)
call('SET', ck, text, 'PXAT', at)
if usual and u == 0 then rp[1], rp[2], rp[3], rp[4], rp[5], rp[6], rp[7] = kc, o, bf, at, sh, ARGV[6], ARGV[7] end
return 1 + 2 * n
`

/**
 * Release. `KEYS`: the call record. `ARGV[6]` how long a tombstone lasts when the call id is unknown (an
 * instant relative to the request's `now`). Status `released` | `none`.
 */
const RELEASE_OP = String.raw`
local ck = KEYS[3]
local st, x, v, pos, xs = callState(ck)
if not st then
  -- never seen (or forgotten): a tombstone, so that the reservation, if it arrives late, changes nothing
  x = tonumber(ARGV[6]) + shiftIn
  if x < now then x = now end
  call('SET', ck, 'r|' .. num(x) .. '|', 'PXAT', physical(x))
  return 0, {serverStr, 'none'}
end
if st ~= 'h' then return 0, {serverStr, 'none'} end
dropHolds(ck, x, xs, v, pos)
if x < now then x = now end
call('SET', ck, 'r|' .. num(x) .. '|', 'PXAT', physical(x))
return 0, {serverStr, 'released'}
`

/**
 * An operation's body as a function of the batch script: its `ARGV[j]` (numbered as in its own script, `j >= 6`)
 * reads the batch's at offset `o`, but its `ARGV[6]` and `ARGV[7]` are `a6` and `a7` (the batch leaves each out when
 * it is the same as the operation's before: a body must read them by their literal index, never through an
 * expression), its call record `KEYS[3]` is the batch's `KEYS[kc]` and its other keys `KEYS[j]`
 * (`j > 3`) the batch's at offset `ko`, so that no operation copies its arguments into tables of its own; `last` is
 * the index of its last argument in the batch's `ARGV`.
 */
export function offsets(body: string): string {
  // every use of ARGV and KEYS must be one of the shapes rewritten below, with a literal index past the common ones
  // (ARGV[1..5], KEYS[1..2] are the batch's, not the operation's): anything else would read the wrong argument
  const uses = body.match(/\b(?:ARGV|KEYS)\b.{0,12}/g) ?? []
  for (const use of uses) {
    const m = /^(?:ARGV\[(?:(\d+)\]|[a-z_]\w*\]|\w+ [+-] )|KEYS\[(?:(\d+)\]|[a-z_]\w*\]|\w+ [+-] )|ARGV, \w)/.exec(use)
    const low = m === null || (m[1] !== undefined && Number(m[1]) < 6) || (m[2] !== undefined && Number(m[2]) < 3)
    if (low) throw new Error(`offsets: an operation's script uses ${JSON.stringify(use)}, a shape it cannot rewrite`)
  }
  if (body.split('ARGV, ').length !== body.split('unpack(ARGV, ').length)
    throw new Error('offsets: an operation passes ARGV whole to a function other than unpack')
  return body
    .replaceAll('ARGV[6]', 'a6')
    .replaceAll('ARGV[7]', 'a7')
    .replaceAll('ARGV[', 'ARGV[o + ')
    .replace(/KEYS\[(?!3\])/g, 'KEYS[ko + ')
    .replaceAll('KEYS[3]', 'KEYS[kc]')
    .replaceAll('unpack(ARGV, ', 'unpack(ARGV, o + ')
}

/** The largest number of operations one batch script runs. */
export const MAX_BATCH = 128

/**
 * Reserves, commits and releases, in order, in one script: each runs as the script of its own (above, with its
 * own `KEYS` and `ARGV` numbered as there) and answers on its own, atomically with the others. The prelude's
 * `TIME` and epoch check run once; the epoch and the call records are read in one `MGET` (again with `GET` when an earlier
 * operation of the batch wrote the same one); a ledger key several operations touch is read once and its own
 * fields written once (the view of `prelude.ts`). An operation that fails (a lost key, a Redis error) answers
 * `error` and its message; the others are not affected.
 *
 * `KEYS`: the epoch, the registry of live keys, the record stream, its metadata, the rollup day index, then the call
 * record of each operation, then the other keys of the operations (an operation's ledger keys and rollup day, its
 * "tail"), each distinct tail once: the operations of a batch mostly name the same keys, and each key costs Redis
 * about 1,500 instructions.
 * `ARGV[1..5]` the common arguments (`ARGV[3]` the first operation's `now`), `ARGV[6]` the number of operations,
 * `ARGV[7]` the stream cap, `ARGV[8]` the record retention in ms (`''` for none), `ARGV[9]` the rollup retention
 * in ms (`''` for none), `ARGV[10]` the index of the first operation's arguments; from `ARGV[11]`, each distinct
 * list of the operations' terms once (what many operations of a batch send alike: limits, window ends, rollup row
 * fields); then per operation: its shape (`<kind>,<key>,<terms>,<keys>,<arguments>`: its kind, `r` reserve, `c`
 * commit, `x` release, `R` and `C` a reserve and a commit that send one amount for all their entries; the index in `KEYS` of its tail's first key, `0` for none; the index in `ARGV` of its terms,
 * `0` for none; its number of keys, call record included; its number of arguments), its `now`, then its arguments
 * (from its `ARGV[6]` on). An operation's shape is mostly the same text as others' of the batch, parsed once. What an operation can read from
 * its keys (its call id, its entry count, its rollup day and the day's start) is not sent: each argument costs
 * Redis about 1,000 instructions (a Redis string, then a Lua string).
 * The reply is flat (no table per operation): the time, status `ok` (or `lost` with the stored epoch, for the
 * whole batch), then per operation the number of its values and its values, as its own script answered them after
 * the time (`status, ...`; `error, message` for one that failed); a negative number `-k` instead stands for the next
 * `k` operations, each of which answered the short answer (`=`, ...) of the operation before them.
 */
export const BATCH_SCRIPT = String.raw`${prelude(String.raw`
local count = tonumber(ARGV[6])
local records = call('MGET', KEYS[1], unpack(KEYS, 6, 5 + count))
local epoch = records[1]
if epoch ~= ARGV[5] then return {serverStr, 'lost', epoch or ''} end
-- the store's keys and settings every commit uses, sent once per batch
local STREAM, META, UIDX = KEYS[3], KEYS[4], KEYS[5]
local CAPMODE, CAPN = sub(ARGV[7], 1, 1), sub(ARGV[7], 2)
local RRET, URET = ARGV[8], tonumber(ARGV[9])
`)}
${BATCH_HELPERS}
-- the terms of the operations (ARGV, read at the index an operation's shape gives; offsets() leaves T alone)
local T = ARGV
-- a commit's rollup row fields by the index of its terms
local rowFields = {}
-- whether a commit of the batch added a record to the stream, and one did without trimming it to the cap (the
-- batch then trims once, at its end: a record's MAXLEN costs about as much as its XTRIM)
local appended, trimDue = false, false
local function reserveOp(o, ko, kc, last, nk, ta, u, rep, b, sh, sn, a6, a7)
${offsets(RESERVE_OP)}end
local function commitOp(o, ko, kc, last, nk, ta, u, rep, b, sh, sn, a6, a7)
${offsets(COMMIT_OP)}end
local function releaseOp(o, ko, kc, last, nk, ta, u, rep, b, sh, sn, a6, a7)
${offsets(RELEASE_OP)}end
-- (R and C: one amount for every entry, sent once)
local ops = {r = reserveOp, c = commitOp, x = releaseOp, R = reserveOp, C = commitOp}
local strides = {r = 1, c = 1, x = 1, R = 0, C = 0}
-- the operations' shapes ('<kind>,<tail's first key>,<terms' first argument>,<keys>,<arguments>', then ',' and the
-- flags: of what is left out, the same as the operation's before, n its now, a its first argument, b its second; r
-- when an earlier operation of the batch named its call record; then '*<count>' when the next count operations have
-- this shape, sent once), parsed once per batch for each text: {body, key offset, terms, keys, arguments, stride,
-- whether its now is left out, the text without the flags, whether its first argument is left out, whether its
-- second is, the number of operations it stands for, whether its call record is read again}
local shapes = {}
-- the batch's reply, flat: the time, 'ok', then per operation the number of its values and its values (its status
-- first); b is the next operation's count
local rep, b = {serverStr, 'ok'}, 3
-- the index of the count of the last operation whose values the reply has, and that count; the index of the count of
-- the run of operations after it that answered the same short answer ('=', as their repeats do), 0 when none
local pb, pc, rn = 0, 0, 0
local ap = tonumber(ARGV[10])
-- the first and second arguments of the operation (its ARGV[6] and ARGV[7]), kept for the next when it leaves its
-- own out; the shape of the operation and how many of the next operations have it too
local a6, a7, shape, left = nil, nil, nil, 0
for i = 1, count do
  local kc = 5 + i
  local ck = KEYS[kc]
  -- (ap: the next argument not read)
  if left > 0 then
    left = left - 1
  else
    local text = ARGV[ap]
    ap = ap + 1
    shape = shapes[text]
    if not shape then
      local sh, kind, ks, ta, nk, na, flags, run = match(text, '^((%a),(%d+),(%d+),(%d+),(%d+)),?(%l*)%*?(%d*)$')
      shape = {ops[kind], tonumber(ks) - 4, tonumber(ta), tonumber(nk), tonumber(na), strides[kind],
        find(flags, 'n', 1, true) ~= nil, sh, find(flags, 'a', 1, true) ~= nil, find(flags, 'b', 1, true) ~= nil,
        tonumber(run) or 1, find(flags, 'r', 1, true) ~= nil}
      shapes[text] = shape
    end
    left = shape[11] - 1
  end
  -- its call record, from the MGET, or read again when an earlier operation of the batch named it (flag r)
  if shape[12] then record = call('GET', ck) else record = records[i + 1] end
  -- the operation's ARGV[j] is ARGV[o + j] (after its now; its now left out: now, shiftIn and shiftOut stay the
  -- operation's before), its ARGV[6] and ARGV[7] are a6 and a7 (left out: the operation's before), its KEYS[3] is
  -- KEYS[kc], its KEYS[j] (j > 3) KEYS[ks - 4 + j], its terms T[ta] on
  local sn, o = shape[7], ap - 6
  if not sn then
    o = ap - 5
    -- setNow, inline
    local reqNow = ARGV[ap]
    reqNow = known[reqNow] or tonumber(reqNow)
    if mode == 's' then
      now, shiftIn, shiftOut = server, server - reqNow, margin
    else
      now, shiftIn, shiftOut = reqNow, 0, server - reqNow + margin
    end
  end
  if shape[9] then o = o - 1 else a6 = ARGV[o + 6] end
  if shape[10] then o = o - 1 else a7 = ARGV[o + 7] end
  local na = shape[5]
  -- (the reservations' run, into the key views before another kind of operation reads them)
  local fn = shape[1]
  if fn ~= reserveOp and RUN.on then settle() end
  if fn ~= commitOp and CREPEAT.on then csettle() end
  -- an operation answers the number of values it wrote into rep at b (its usual reply), or 0 and a reply of its own
  -- (not type(res), a C function call: about 700 instructions per operation)
  local ok, res, own = pcall(fn, o, shape[2], kc, o + 5 + na, shape[4], shape[3], shape[6], rep, b, shape[8], sn, a6,
    a7)
  local c = res
  if not ok or own then
    if not ok then own = {serverStr, 'error', errorText(res)} end
    -- its values after the time
    c = #own - 1
    for j = 2, c + 1 do rep[b + j - 1] = own[j] end
  end
  if not own and c == pc and rep[b + 1] == '=' and rep[pb + 1] == '=' and (c == 1 or rep[b + 2] == rep[pb + 2]) then
    -- the same short answer as the operation before: a run of them is one negative count (-k: k operations
    -- answered the values of the operation before the run; each value costs Redis about 600 instructions)
    if rn > 0 then
      rep[rn] = rep[rn] - 1
    else
      rn = b
      rep[b] = -1
      b = b + 1
    end
  else
    rep[b] = c
    pb, pc, rn = b, c, 0
    b = b + 1 + c
  end
  ap = o + 6 + na
end
-- (past the end: values an operation wrote before it failed)
rep[b] = nil
if RUN.on then settle() end
if CREPEAT.on then csettle() end
flushAll()
if trimDue then call('XTRIM', STREAM, 'MAXLEN', CAPMODE, CAPN) end
return rep
`
