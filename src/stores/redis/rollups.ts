/**
 * Daily rollups in the Redis store: the arguments a commit passes to its script (the rows are computed here,
 * exactly as the ledger computes them, with `rollupDeltas`), and the rows read back from the day hashes. The
 * key layout is described with `COMMIT_SCRIPT` in `scripts.ts`.
 *
 * @internal
 */
import { InvalidInputError } from '../../errors.js'
import { compareRows, rollupDeltas, scopeSelected } from '../ledger/rollups.js'
import type { RollupResult, RollupRow, SpendRecord } from '../types.js'
import { PRELUDE } from './prelude.js'

const SUMS = ['calls', 'inputTokens', 'outputTokens', 'costNanoUsd', 'savedNanoUsd', 'estimatedCalls'] as const

/**
 * The rollup arguments of a commit with a record: its day (the script reads it from the day hash's name and
 * computes the day's start from `endedAt`), the number of rows, the six sums in one argument
 * (`calls,inputTokens,outputTokens,cost,saved,estimatedCalls`), and one field per row (the JSON text of
 * `[scope, model, modelServed]`).
 */
export function rollupArgs(record: SpendRecord): { day: string; rows: number; sums: string; fields: string[] } {
  const deltas = rollupDeltas(record)
  const first = deltas[0]!
  const fields: string[] = []
  for (const row of deltas) fields.push(JSON.stringify([row.scope, row.model, row.modelServed]))
  return { day: first.day, rows: deltas.length, sums: SUMS.map((sum) => String(first[sum])).join(','), fields }
}

/** The error of a commit whose record would take a rollup sum past 2^53 - 1 (the script wrote nothing). */
export function rollupOverflowError(values: string[]): InvalidInputError {
  const [scope, model] = JSON.parse(values[2] ?? '[]') as string[]
  const sum = SUMS[Number(values[3]) - 1] ?? 'sum'
  return new InvalidInputError(
    'record',
    `the daily rollup ${scope ?? ''} ${model ?? ''} would exceed the largest exact ${sum} (${Number.MAX_SAFE_INTEGER})`,
  )
}

/** The rows and coverage of the rollup script's reply, keeping the selected scopes, sorted. */
export function readRollups(values: string[], scopes: readonly string[] | undefined): RollupResult {
  const rows: RollupRow[] = []
  let i = 4
  while (i < values.length) {
    const day = values[i]!
    const pairs = Number(values[i + 1])
    i += 2
    for (let j = 0; j < pairs; j++, i += 2) {
      const [scope, model, modelServed] = JSON.parse(values[i]!) as [string, string, string]
      if (!scopeSelected(scope, scopes)) continue
      const sums = values[i + 1]!.split(',').map(Number)
      const row = { day, scope, model, modelServed } as RollupRow
      SUMS.forEach((sum, q) => (row[sum] = sums[q] ?? 0))
      rows.push(row)
    }
  }
  const coverage = (value: string | undefined): number | null =>
    value === undefined || value === '' ? null : Number(value)
  return { rows: rows.sort(compareRows), rollupsFrom: coverage(values[2]), recordsFrom: coverage(values[3]) }
}

/**
 * Daily rollups. `KEYS`: rollup day index, record stream, record metadata. `ARGV[6]` lowest day start (a
 * `ZRANGEBYSCORE` bound), `ARGV[7]` highest, `ARGV[8]` the rollup retention in ms (`''` for none),
 * `ARGV[9]` the stream cap.
 * Status `ok`; then the rollup coverage (`''` for none), the record coverage (`''` for none), then per day:
 * the day, its number of field/value pairs, the pairs. A day in the index whose hash is gone is an error
 * (`LOST`) unless its retention is over (then it counts as evicted).
 */
export const ROLLUPS_SCRIPT = String.raw`${PRELUDE}
local ui, st = KEYS[3], KEYS[4]
local m = call('HMGET', KEYS[5], 'uf', 'rf', 'tt')
local uf, rf = tonumber(m[1]), tonumber(m[2])
if call('EXISTS', st) == 1 then
  -- records trimmed by the cap (entries added, minus those kept and those dropped for their age): every one
  -- had a smaller id than the first kept, so records that ended after the first kept id's instant are all there
  local info = call('XINFO', 'STREAM', st)
  local len, added
  for i = 1, #info, 2 do
    if info[i] == 'length' then len = info[i + 1] end
    if info[i] == 'entries-added' then added = info[i + 1] end
  end
  local capped
  if added then capped = added - len - (tonumber(m[3]) or 0) > 0 else capped = len >= tonumber(ARGV[9]) end
  if capped then
    local first = call('XRANGE', st, '-', '+', 'COUNT', 1)
    if first[1] then
      local id = first[1][1]
      local dash = find(id, '-', 1, true)
      local from = tonumber(sub(id, 1, dash - 1))
      if sub(id, dash + 1) ~= '0' then from = from + 1 end
      if not rf or from > rf then rf = from end
    end
  end
end
local uret = tonumber(ARGV[8])
local days = call('ZRANGEBYSCORE', ui, ARGV[6], ARGV[7], 'WITHSCORES')
local rows = {}
for i = 1, #days, 2 do
  local all = call('HGETALL', base .. 'u:' .. days[i])
  local start = tonumber(days[i + 1])
  if #all == 0 then
    if not uret or start + 86400000 + uret > now then error({err = 'LOST ledger key rollups ' .. days[i]}) end
    if not uf or start + 86400000 > uf then uf = start + 86400000 end
  else
    rows[#rows + 1] = days[i]
    rows[#rows + 1] = tostring(#all / 2)
    for j = 1, #all do rows[#rows + 1] = all[j] end
  end
end
local out = {serverStr, 'ok', uf and num(uf) or '', rf and num(rf) or ''}
for i = 1, #rows do out[#out + 1] = rows[i] end
return out
`
