/**
 * Lua helpers of the batch script (`scripts.ts`), after its prelude and before the operations' bodies: the views of
 * the record metadata and of the rollup rows, a record's sums, the key lists of call records and the amounts a call
 * record holds, the scratch tables the operations share.
 *
 * @internal
 */
export const BATCH_HELPERS = String.raw`
-- The record metadata's view (field -> value, false when absent; ms, seq and late numbers once a commit set
-- them), read once per batch; mset changes a field in the view at once and in Redis with the batch.
local META_FIELDS, metaLoaded = {'ms', 'seq', 'late', 'u0', 'uf', 'rf', 'tt'}, false
local function metaView()
  if not metaLoaded then
    hread(META, META_FIELDS)
    metaLoaded = true
  end
  return hview[META]
end
local function mset(f, x)
  tableOf(hview, META)[f] = x
  tableOf(hpend, META)[f] = x
end
-- A record's six rollup sums ('calls,inputTokens,outputTokens,cost,saved,estimatedCalls') as numbers, parsed once
-- per batch for each text (read only).
local sumsOf = {}
local function sums(text)
  local d = sumsOf[text]
  if not d then
    local d1, d2, d3, d4, d5, d6 = match(text, '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
    d = {tonumber(d1), tonumber(d2), tonumber(d3), tonumber(d4), tonumber(d5), tonumber(d6)}
    d[7] = d[1] + d[2] + d[3] + d[4] + d[5] + d[6]
    sumsOf[text] = d
  end
  return d
end
-- The batch's view of rollup day h (row field -> table of its six sums, false when absent), after reading the
-- given fields it lacks (one HMGET) and parsing each once.
local function rows(h, fields)
  local view = tableOf(hview, h)
  local miss
  for j = 1, #fields do
    if view[fields[j]] == nil then
      miss = miss or {}
      miss[#miss + 1] = fields[j]
    end
  end
  if miss then
    local got = call('HMGET', h, unpack(miss))
    for i = 1, #miss do
      local c = got[i]
      if c then
        local a1, a2, a3, a4, a5, a6 = match(c, '^(%d+),(%d+),(%d+),(%d+),(%d+),(%d+)$')
        c = {tonumber(a1), tonumber(a2), tonumber(a3), tonumber(a4), tonumber(a5), tonumber(a6)}
        c[7] = c[1] + c[2] + c[3] + c[4] + c[5] + c[6]
      end
      view[miss[i]] = c
    end
  end
  return view
end
-- The key list of a call record for the keys 'state[1..n]' (their kpart, in order), made once per batch for each
-- sequence of keys (a tree of the keys' views).
local keyLists = {}
local function keyList(state, n)
  local node = keyLists
  for i = 1, n do
    local k = state[i]
    local nx = node[k]
    if not nx then
      nx = {}
      node[k] = nx
    end
    node = nx
  end
  local list = node[1]
  if not list then
    local parts = {}
    for i = 1, n do parts[i] = kpart(state[i]) end
    list = table.concat(parts)
    node[1] = list
  end
  return list
end
-- the scratch tables of the reservations and commits (one operation runs at a time)
local STATE, AMOUNTS = {}, {}
-- The last reservation that went the usual way on every key with one amount for every entry (kind R): {the KEYS
-- index of its call record (its place in the batch), its ARGV offset, its bucket, its call record's PEXPIREAT}; the
-- next operation may repeat it (see the reservation). limsOf: by list of terms, each key's limit or the largest
-- exact amount, as numbers.
local REPEAT, limsOf = {}, {}
-- A run of reservations repeating one another (see the reservation), not yet in the key views: its keys (the
-- views), its bucket, the sum of its amounts and its number of holds, the least room under a limit and the largest
-- reserved when it started. settle() adds it to the views; the batch calls it before any operation that is not a
-- reservation and before its writes, a reservation before it goes the whole way.
local RUN = {on = false, keys = {}}
local function settle()
  local run = RUN
  run.on = false
  local sum, count, bf, keys = run.sum, run.count, run.bf, run.keys
  if count == 0 then return end
  for i = 1, run.n do
    local k = keys[i]
    local rv = k.r + sum
    touch(k, bf)
    k.w.r, k.v[2], k.r, k.rs = rv, rv, rv, nil
    local kb, kn = k.b, k.bc
    kb[bf], kn[bf] = kb[bf] + sum, kn[bf] + count
    if k.holds then k.holds = k.holds + count end
  end
end
-- The last commit that went the usual way on every key, gave back a hold on each (its bucket keeping others), with
-- one amount for every entry (kind C), a spend record and no new rollup row: {the KEYS index of its call record, its
-- ARGV offset, its bucket, the rollup day's view, its row fields, its call record's text, the amounts it held by
-- entry, its hold expiry's text}; the next operation may repeat it (see the commit).
-- The hash part of CREPEAT is the run of commits repeating one another, not yet in the key views and rollup rows
-- (as RUN for the reservations): its keys, the sums of the amounts added to each spent and taken off each reserved,
-- its number of holds given back, the sums added to each row (d), and, from when it started, the largest spent,
-- the fewest holds of the bucket and the largest row total. csettle() adds it to the views.
local CREPEAT = {on = false, keys = {}, d = {}}
-- Adds the sums of the run's last alike records (dn records of the sums dl; each product at most the run's total: an
-- exact integer) to its row sums d, once per change of the records' sums text instead of once per commit. A method
-- of the run's table: the commit reaches it through CREPEAT, which it holds already (its function is at Lua's limit
-- of 60 upvalues).
function CREPEAT.addAlike(run)
  local d, dl, k = run.d, run.dl, run.dn
  d[1], d[2], d[3], d[4], d[5], d[6] = d[1] + dl[1] * k, d[2] + dl[2] * k, d[3] + dl[3] * k, d[4] + dl[4] * k,
    d[5] + dl[5] * k, d[6] + dl[6] * k
  run.dl = nil
end
local function csettle()
  local run = CREPEAT
  run.on = false
  local c = run.c
  if c == 0 then return end
  local sa, sh, bf, keys = run.sa, run.sh, run[3], run.keys
  for i = 1, run.n do
    local k = keys[i]
    local kb, kn = k.b, k.bc
    kb[bf], kn[bf] = kb[bf] - sh, kn[bf] - c
    if k.holds then k.holds = k.holds - c end
    local sv, rv = k.s + sa, k.r - sh
    touch(k, bf)
    local w, v = k.w, k.v
    w.s, w.r, v[1], v[2] = sv, rv, sv, rv
    -- (sv is below EXACT: a number, as the whole way leaves it; rv any, its text made again when answered)
    k.s, k.ss, k.r, k.rs = sv, sv, rv, nil
  end
  local uv, fields, d = run[4], run[5], run.d
  if run.dl then run:addAlike() end
  for j = 1, run.S do
    local r = uv[fields[j]]
    r[1], r[2], r[3], r[4], r[5], r[6], r[7] = r[1] + d[1], r[2] + d[2], r[3] + d[3], r[4] + d[4], r[5] + d[5],
      r[6] + d[6], r[7] + d[7]
  end
end
-- the sums of a row not there yet (read only)
local NOROW = {0, 0, 0, 0, 0, 0, 0}
-- call record texts: a reservation's, the same as the previous reservation's when its hold expiry, list of amounts
-- and key list are (the calls of a batch mostly share them; LASTHOLD = {expiry, amounts, keys, text}); the lists of
-- one amount for every entry, by number of entries then that amount; a commit's by dedupe end
local LASTHOLD, sameLists, doneTexts = {}, {}, {}
-- A commit's dedupe mark: its call record ck becomes 'c|<until>|', kept until then (the request's dedupe end, its
-- argument text 'dedupe', shifted to the server's clock, and not before now). Answers the text and its PEXPIREAT.
local function markDone(ck, dedupe)
  local x = (known[dedupe] or tonumber(dedupe)) + shiftIn
  if x < now then x = now end
  local text = doneTexts[x]
  if not text then
    text = 'c|' .. num(x) .. '|'
    doneTexts[x] = text
  end
  local at = physical(x)
  call('SET', ck, text, 'PXAT', at)
  return text, at
end
-- The amounts call record text v (from position pos) holds, by entry, when its keys are the commit's 'state[1..n]'
-- in that order (the usual case: one string.match for the amounts, one comparison for the keys); nil otherwise.
-- The answer of the previous call is given again (read only) when v and the key list are the same: the commits of
-- a batch mostly settle reservations made with one text.
local amountPatterns = {}
local heldV, heldList, heldGot
local function sameHolds(state, n, v, pos)
  if n > 30 then return nil end
  local list = keyList(state, n)
  if v == heldV and list == heldList then return heldGot end
  local pat = amountPatterns[n]
  if not pat then
    pat = '^' .. string.rep('([^,|]*),', n) .. '|()'
    amountPatterns[n] = pat
  end
  local got = {match(v, pat, pos)}
  local q = got[n + 1]
  if not q then return nil end
  if #v - q + 1 ~= #list or find(v, list, q, true) ~= q then return nil end
  got[n + 1] = nil
  for i = 1, n do
    local a = got[i]
    got[i] = known[a] or tonumber(a)
  end
  heldV, heldList, heldGot = v, list, got
  return got
end`
