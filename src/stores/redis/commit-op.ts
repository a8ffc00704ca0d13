/**
 * The commit of the Redis store's batch script (`scripts.ts` puts it in the batch): the longest of its operations,
 * with the repeat of the commit just before it (`CREPEAT`, ADR 0055 eighth round) and the record and rollup writes.
 *
 * @internal
 */
/**
 * Commit. `KEYS`: call record, then the hash of every entry; with a rollup, then the day's rollup hash (the day is
 * its name after `{prefix}:u:`, its start is computed from `endedAt`). The record stream, its metadata and the
 * rollup day index are keys of the batch (`STREAM`, `META`, `UIDX`), as are the stream cap (`~<n>` approximate,
 * `=<n>` exact, `=0` no stream), the record retention and the rollup retention.
 * `ARGV[6]` dedupeUntil, `ARGV[7]` the record's endedAt (`''` for no record), then per entry its amount (`u` 1), or
 * one amount for every entry (`u` 0, kind `C`); then (at `ra`), when `S > 0`: the six sums in one
 * (`calls,inputTokens,outputTokens,cost,saved,estimatedCalls`), then the record's stream fields (name, JSON value)
 * to the end. Terms (`T[ta]` on, shared by the batch's operations that
 * send the same): the number `S` of rollup rows (`0` for none), per entry its expiresAt (`''` for none), then the
 * `S` row fields.
 *
 * Rollups: one hash per UTC day (`{prefix}:u:<day>`), one field per scope and model (the JSON text of
 * `[scope, model, modelServed]`) whose value is `calls,inputTokens,outputTokens,cost,saved,estimatedCalls`:
 * one `HMGET` (with the overflow check, before any write) and one `HSET` per commit; the first row of a day
 * adds it to the index (`{prefix}:ud`, a sorted set by day start, no expiry) and sets the hash's `PEXPIREAT`.
 * The metadata hash keeps `u0` (the oldest indexed day, so that the eviction costs nothing until it is due),
 * `uf` (rollup coverage) and `rf` (record coverage when no stream is kept).
 * Status `dup` | `overflow` (then the index) | `rollupOverflow` (then the row field) | `ok`; then
 * `after, reserved` per entry (the client knows `before`: `after` less the amount, or `after` for `dup`).
 */
export const COMMIT_OP = String.raw`
local ck = KEYS[3]
local S = T[ta]
S = known[S] or tonumber(S)
local n = nk - 1
if S > 0 then n = n - 1 end
local out
local state = STATE
-- A repeat of the commit just before it (CREPEAT): the same shape (so the same keys, terms and number of record
-- fields), the same now (sn: the client leaves it out when it is the operation's before), one amount for every entry (its own), a call record holding these keys in this
-- order (by its own amounts) in the same bucket (the same hold expiry text), with a spend record. The previous one
-- went the usual way on every key, gave back a hold on each (its bucket keeping others), added to rows that were
-- there and nothing ran since: its checks and writes are this one's, on the same key views, rollup rows and
-- metadata, except the largest exact amounts and sums and that each bucket keeps another hold, checked again (when
-- one fails, the commit goes the whole way, below).
local rc = CREPEAT
if rc[1] == kc - 1 and record and u == 0 and ARGV[7] ~= '' and ARGV[8] ~= '0' and sh == rc[9] and sn then
  local held = rc[7]
  if record ~= rc[6] then
    -- another call record: its holds, when it is one of the same bucket on these keys (sameHolds, as below)
    local st, ts, pos = match(record, '^(.)|([^|]*)|()')
    held = st == 'h' and ts == rc[8] and sameHolds(state, n, record, pos)
  end
  -- one amount held on every entry (a reservation of kind R: the usual case; false when not, then the commit goes
  -- the whole way), noted in the table of held amounts (the same table for the commits of one call record text)
  local h1 = held and held.u
  if held and h1 == nil then
    h1 = held[1] or 0
    for i = 2, n do if held[i] ~= h1 then h1 = false end end
    held.u = h1
  end
  -- (the held amount goes back as an integer reply, which the clients read exactly only below EXACT)
  if h1 and h1 < EXACT then
    local av, bf = known[ARGV[8]] or tonumber(ARGV[8]), rc[3]
    local d = sumsOf[ARGV[9]] or sums(ARGV[9])
    local uv, fields, dt = rc[4], rc[5], d[7]
    local D = rc.d
    if not rc.on then
      -- a run starts (the views are exact: nothing is deferred): the largest spent and row total, the fewest holds
      -- in the bucket; each key's window must not be over at this now (every commit of the run has it)
      local smax, cmin, rtop, live = 0, MAX, 0, true
      local keys = rc.keys
      for i = 1, n do
        local k = state[i]
        keys[i] = k
        if k.s > smax then smax = k.s end
        local c = k.bc[bf]
        if c < cmin then cmin = c end
        if k.e <= now then live = false end
      end
      for j = 1, S do
        local t = uv[fields[j]][7]
        if t > rtop then rtop = t end
      end
      if live then
        rc.on, rc.n, rc.S, rc.sa, rc.sh, rc.c, rc.smax, rc.cmin, rc.rtop = true, n, S, 0, 0, 0, smax, cmin, rtop
        D[1], D[2], D[3], D[4], D[5], D[6], D[7], rc.dl = 0, 0, 0, 0, 0, 0, 0, nil
      end
    end
    -- every key's s + sum + av < EXACT, its bucket keeps another hold, every row's total + its sums <= MAX (integers
    -- below 2^53: exact)
    -- (no run when a key's window is over: nothing to add to)
    local sa, c = rc.on and rc.sa + av, rc.c
    if rc.on and rc.smax + sa < EXACT and rc.cmin - c >= 2 and rc.rtop + D[7] + dt <= MAX then
      -- the record: its stream id after the metadata's (numbers since the previous commit), no MAXLEN (the batch
      -- trims once at its end), as below
      local m = hview[META]
      -- (the previous commit's when the same text: math.floor is a C call)
      local endedMs = rc.em
      if ARGV[7] ~= rc.et then
        endedMs = math.floor(known[ARGV[7]] or tonumber(ARGV[7]))
        rc.et, rc.em = ARGV[7], endedMs
      end
      local idMs, seq, late = m.ms, m.seq, m.late
      if endedMs > idMs then
        idMs = endedMs
        seq = 0
      else
        seq = seq + 1
      end
      if idMs == 0 and seq == 0 then seq = 1 end
      if idMs - endedMs > late then late = idMs - endedMs end
      trimDue = true
      call('XADD', STREAM, fmt('%d-%d', idMs, seq), unpack(ARGV, 10, last))
      local mp = hpend[META]
      m.ms, m.seq, m.late, mp.ms, mp.seq, mp.late = idMs, seq, late, idMs, seq, late
      -- the reply '=' and the amount held: the previous commit's values with this amount added to each after and
      -- the held amount taken off each reserved (the client does it: every value is an integer of at most MAX, exact in
      -- a double; the spent ones below EXACT)
      rep[b + 1], rep[b + 2] = '=', h1
      -- markDone(ck, ARGV[6]), or the previous commit's text and PEXPIREAT when its dedupe end was the same text (the
      -- same now: the same clock)
      if ARGV[6] == rc.dd then
        call('SET', ck, rc.dt, 'PXAT', rc.da)
      else
        rc.dd, rc.dt, rc.da = ARGV[6], markDone(ck, ARGV[6])
      end
      -- the run counts this commit once its own writes are done
      rc.sa, rc.sh, rc.c = sa, rc.sh + h1, c + 1
      if S > 0 then
        -- D[7] at once (the check above reads it); the six sums once per change of the record's sums text (the same
        -- table d), times the number of alike records (dn; each product at most D[7]: an exact integer)
        local dl = rc.dl
        if dl == d then
          rc.dn = rc.dn + 1
        else
          if dl then rc:addAlike() end
          rc.dl, rc.dn = d, 1
        end
        D[7] = D[7] + dt
      end
      rc[1], rc[2], rc[6], rc[7] = kc, o, record, held
      return 2
    end
  end
end
-- (the run this commit does not join, into the key views and rows before it reads them)
if rc.on then csettle() end
-- readCall(ck), inline
local st, t, v, pos, ts
if record then
  v = record
  st, ts, pos = match(v, '^(.)|([^|]*)|()')
  t = known[ts] or tonumber(ts)
end
if st == 'c' and t > now then
  out = {serverStr, 'dup'}
  for i = 1, n do
    local k = live(KEYS[3 + i])
    out[#out + 1] = k.ss
    out[#out + 1] = R(k)
  end
  return 0, out
end
local held = st == 'h'
-- the bucket of the call's holds
local bf = held and 'b:' .. ts
for i = 1, n do
  local h = KEYS[3 + i]
  -- live(h), inline as in the reservation
  local k = cache[h]
  if not k or (k.exists and ((k.n and k.n <= now) or (k.e and k.e <= now))) then k = live(h, bf) end
  state[i] = k
  local amount = ARGV[8 + (i - 1) * u]
  if k.s + (known[amount] or tonumber(amount)) > MAX then return 0, {serverStr, 'overflow', tostring(i - 1)} end
end
-- The metadata (record ids, rollup eviction and coverage): the batch's view of it, read once per batch when there
-- is a record; this commit's changes go to the view at once (mset) and to Redis with the batch.
local m
if ARGV[7] ~= '' then m = metaLoaded and hview[META] or metaView() end
-- Rollups: evict the days past their retention (only when the oldest is due), then read the rows this record
-- adds to and check their sums, before any write of the commit.
local ra = 9 + (n - 1) * u
local uh, ui, uday, ustart, uret, uv, d, fields, u0, unew
if S > 0 then
  uh, ui = KEYS[4 + n], UIDX
  uday = sub(uh, #base + 3)
  ustart = math.floor(tonumber(ARGV[7]) / 86400000) * 86400000
  uret = URET
  u0 = tonumber(m.u0)
  if uret and u0 and u0 + 86400000 + uret <= now then
    local cut = num(now - uret - 86400000)
    local old = call('ZRANGEBYSCORE', ui, '-inf', cut, 'WITHSCORES')
    for i = 1, #old, 1000 do
      local names = {}
      for j = i, math.min(i + 998, #old), 2 do names[#names + 1] = base .. 'u:' .. old[j] end
      for j = 1, #names do hforget(names[j]) end
      call('DEL', unpack(names))
    end
    if #old > 0 then
      call('ZREMRANGEBYSCORE', ui, '-inf', cut)
      local from = tonumber(old[#old]) + 86400000
      if not tonumber(m.uf) or from > tonumber(m.uf) then mset('uf', num(from)) end
    end
    local first = call('ZRANGE', ui, 0, 0, 'WITHSCORES')
    u0 = tonumber(first[2])
    mset('u0', first[2] or '')
  end
  d = sumsOf[ARGV[ra]] or sums(ARGV[ra])
  -- the row fields, a table per list of terms (the batch's commits mostly share it)
  fields = rowFields[ta]
  if not fields then
    fields = {}
    for j = 1, S do fields[j] = T[ta + n + j] end
    rowFields[ta] = fields
  end
  -- the rows, from the batch's view (read once per batch): a row's sums stay numbers in the view (a table) until
  -- the view is written, so a row several commits of a batch add to is parsed once and formatted once
  uv = rows(uh, fields)
  -- (sums are never negative: no sum passes MAX when the totals of the six, [7], do not; each sum is checked only
  -- when they do)
  local dt = d[7]
  for j = 1, S do
    local c = uv[fields[j]]
    if not c then
      unew = true
      c = NOROW
    end
    if c[7] + dt > MAX then
      for q = 1, 6 do
        if c[q] + d[q] > MAX then return 0, {serverStr, 'rollupOverflow', fields[j], tostring(q)} end
      end
    end
  end
  -- a new row of a day the index knows, whose hash is gone before its retention is over: evicted or lost
  if unew and call('EXISTS', uh) == 0 and call('ZSCORE', ui, uday) and (not uret or ustart + 86400000 + uret > now) then
    error({err = 'LOST ledger key rollups ' .. uday})
  end
end
-- The holds this call took: by entry when the call record lists this commit's keys in its order (the usual case,
-- one string.match), else by ledger key.
local byIndex, amounts = nil, nil
if held then
  byIndex = sameHolds(state, n, v, pos)
  if not byIndex then
    local keys
    keys, amounts = decodeHolds(v, pos)
    -- holds on keys this commit does not list (rare: a commit normally lists the keys it reserved on); before
    -- the record is written, so that a lost key found here (an error) has written no record
    local listed = {}
    for i = 1, n do listed[lkey(state[i])] = true end
    for i = 1, #keys do
      local lk = keys[i]
      if not listed[lk] then releaseOn(hk(lk), bf, t, amounts[lk]) end
    end
  end
end
local capMode, cap = CAPMODE, CAPN
if ARGV[7] ~= '' and cap == '0' then
  -- no stream: every record is dropped at once, so records are complete only after the latest one
  local rf = math.floor(tonumber(ARGV[7])) + 1
  if not tonumber(m.rf) or rf > tonumber(m.rf) then mset('rf', num(rf)) end
elseif ARGV[7] ~= '' then
  local endedMs = math.floor(known[ARGV[7]] or tonumber(ARGV[7]))
  -- the metadata's numbers (a commit of this batch leaves numbers in the view)
  local lastMs, seq, late = m.ms, m.seq, m.late
  if type(lastMs) ~= 'number' then lastMs = tonumber(lastMs or '-1') end
  if type(seq) ~= 'number' then seq = tonumber(seq or '0') end
  if type(late) ~= 'number' then late = tonumber(late or '0') end
  local idMs
  if endedMs > lastMs then
    idMs = endedMs
    seq = 0
  else
    idMs = lastMs
    seq = seq + 1
  end
  if idMs == 0 and seq == 0 then seq = 1 end
  if idMs - endedMs > late then late = idMs - endedMs end
  if appended and RRET == '' then
    -- after the batch's first record: the stream is trimmed to its cap once, when the batch ends
    trimDue = true
    call('XADD', STREAM, fmt('%d-%d', idMs, seq), unpack(ARGV, ra + 1, last))
  else
    appended = true
    call('XADD', STREAM, 'MAXLEN', capMode, cap, fmt('%d-%d', idMs, seq), unpack(ARGV, ra + 1, last))
  end
  if RRET ~= '' then
    -- records older than the retention: note the latest endedAt dropped (the record coverage), then trim
    local minId = math.ceil(now - tonumber(RRET))
    local old = minId > 0 and call('XRANGE', STREAM, '-', fmt('(%d-0', minId), 'COUNT', 1000) or {}
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
      local dropped = call('XTRIM', STREAM, 'MINID', fmt('%d', minId))
      local rf = math.floor(top) + 1
      if not tonumber(m.rf) or rf > tonumber(m.rf) then mset('rf', num(rf)) end
      mset('tt', int((tonumber(m.tt) or 0) + dropped))
    end
  end
  -- mset, inline (m is the view)
  local mp = hpend[META] or tableOf(hpend, META)
  m.ms, m.seq, m.late, mp.ms, mp.seq, mp.late = idMs, seq, late, idMs, seq, late
end
if S > 0 then
  local w = hpend[uh] or tableOf(hpend, uh)
  for j = 1, S do
    local f = fields[j]
    local c = uv[f]
    if c then
      c[1], c[2], c[3], c[4], c[5], c[6], c[7] = c[1] + d[1], c[2] + d[2], c[3] + d[3], c[4] + d[4], c[5] + d[5],
        c[6] + d[6], c[7] + d[7]
    else
      c = {d[1], d[2], d[3], d[4], d[5], d[6], d[7]}
      uv[f] = c
    end
    w[f] = c
  end
  -- a new row is written at once (so that the hash exists for its PEXPIREAT); others with the batch
  if unew then hflush(uh) end
end
if unew then
  -- the first row of a scope and model on this day: index the day, set its expiry
  if call('ZADD', ui, num(ustart), uday) == 1 and (not u0 or ustart < u0) then mset('u0', num(ustart)) end
  if uret then call('PEXPIREAT', uh, physical(ustart + 86400000 + uret)) end
end
-- whether every key gave back its hold (its bucket keeps others) and took the usual path (then the next commit
-- may repeat this one)
local usual = byIndex ~= nil
for i = 1, n do
  local k = state[i]
  local holding
  if byIndex then holding = byIndex[i] elseif amounts then holding = amounts[lkey(k)] end
  if holding and k.exists then
    -- unhold(k, bf, t, holding), inline
    local sw = k.sw
    if t > now and (not sw or t > sw) then
      local sum = k.b[bf]
      if sum == nil then sum = bucket(k, bf) end
      if sum then
        local c = k.bc[bf] - 1
        if c > 0 then
          k.b[bf], k.bc[bf] = sum - holding, c
        else
          k.b[bf], k.bc[bf] = false, nil
          usual = false
        end
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
        k.r = k.r - holding
        k.rs = nil
        if k.holds then k.holds = k.holds - 1 end
        k.dirty = true
      else
        usual = false
      end
    else
      usual = false
    end
    if k.dirty and k.e and k.e <= now then k = forgetIfOver(k) end
  else
    usual = false
  end
  local amount = ARGV[8 + (i - 1) * u]
  -- the reply's values: the texts Redis holds when unchanged, else numbers (integer replies; the key's write
  -- formats them once per batch)
  local before, reserved = k.ss, k.rs or k.r
  if not k.rs and k.r >= EXACT then reserved = R(k) end
  local after = before
  local inc, e = T[ta + i], k.e
  if k.exists and e and inc ~= '' and (known[inc] or tonumber(inc)) + shiftIn <= e then
    -- the usual case: a key whose window end and expiry do not move; only 's' (and 'r' when a hold was removed)
    -- change (put's work without its table)
    local w = k.w
    if not w then
      w = {}
      k.w = w
      pending[#pending + 1] = k
    end
    if amount ~= '0' then
      local sv = k.s + (known[amount] or tonumber(amount))
      if sv >= EXACT then after = int(sv) else after = sv end
      w.s, k.v[1], k.s, k.ss = sv, sv, sv, after
    end
    if k.dirty then w.r, k.v[2], k.dirty = reserved, reserved, nil end
  else
    usual = false
    if type(reserved) == 'number' then reserved = R(k) end
    if amount ~= '0' then after = int(k.s + tonumber(amount)) end
    local kf = {'s', after}
    if k.dirty or not k.exists then
      kf[3] = 'r'
      kf[4] = reserved
    end
    local at = expiryFields(k, kf, laterExpiry(e, inc, not k.exists), nil)
    keepP(k, kf)
    put(k, kf)
    if at then expireAt(k, at) end
  end
  rep[b + 2 * i] = after
  rep[b + 2 * i + 1] = reserved
end
-- (the reply, written into the batch's at b: 'ok', then after and reserved per entry)
rep[b + 1] = 'ok'
local dt, da = markDone(ck, ARGV[6])
if usual and u == 0 and not unew and ARGV[8] ~= '0' and ARGV[7] ~= '' and cap ~= '0' and RRET == '' then
  rc[1], rc[2], rc[3], rc[4], rc[5], rc[6], rc[7], rc[8], rc[9] = kc, o, bf, uv, fields, record, byIndex, ts, sh
  rc.dd, rc.dt, rc.da = ARGV[6], dt, da
end
return 1 + 2 * n
`
