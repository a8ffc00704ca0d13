/**
 * `querySpend` over raw records and daily rollups. While the store still has every record the query needs, the
 * report is the exact aggregate of those records. When some were evicted, the whole UTC days before the point
 * where records are complete come from the store's daily rollups (exact sums kept far longer), the rest from the
 * records; a query that rollups cannot answer (a part of a day, grouped or filtered by something rollups do not
 * keep) is answered from the records that are left and marked `partial: true`, as is one reaching past the
 * rollups' own retention.
 *
 * @packageDocumentation
 */
import { DAY_MS, dayStart, rollupScope } from '../stores/ledger/rollups.js'
import type { RollupQuery, RollupResult, RollupRow, SpendRecord } from '../stores/types.js'
import { formatNano, nanoToUsd } from './money.js'
import {
  type SpendGroup,
  type SpendGroupBy,
  type SpendQuery,
  type SpendReport,
  aggregateSpend,
  filterRecords,
} from './records.js'
import { parseScope } from './scopes.js'

/** Group-by dimensions a rollup row has. */
const ROLLUP_DIMENSIONS: readonly SpendGroupBy[] = ['day', 'month', 'model', 'modelServed']

function millis(value: Date | number | undefined): number | undefined {
  return value instanceof Date ? value.getTime() : value
}

/** The rollup scope a query reads, or `null` when rollups cannot answer its filters and grouping. */
function rollupScopeOf(query: SpendQuery): string | null {
  const groupBy = query.groupBy ?? []
  if (!groupBy.every((by) => ROLLUP_DIMENSIONS.includes(by))) return null
  const tags = query.tags ?? []
  const scope = query.scope === undefined ? undefined : parseScope(query.scope, 'query.scope')
  if (tags.length > 1 || (tags.length === 1 && scope !== undefined && scope.type !== 'global')) return null
  if (tags.length === 1) return rollupScope('tag', tags[0]!)
  if (scope === undefined || scope.type === 'global') return 'global'
  // A model scope is the global rows of that model (requested or served), as the `model` filter.
  if (scope.type === 'model') return query.model === undefined || query.model === scope.id ? 'global' : null
  return rollupScope(scope.type, scope.id)
}

interface Sums {
  nano: bigint
  saved: bigint
  calls: number
  inputTokens: number
  outputTokens: number
  estimatedCalls: number
}

function sumsOf(report: {
  costNanoUsd: string
  savedNanoUsd: string
  calls: number
  inputTokens: number
  outputTokens: number
  estimatedCalls: number
}): Sums {
  return {
    nano: BigInt(report.costNanoUsd),
    saved: BigInt(report.savedNanoUsd),
    calls: report.calls,
    inputTokens: report.inputTokens,
    outputTokens: report.outputTokens,
    estimatedCalls: report.estimatedCalls,
  }
}

function addSums(into: Sums, more: Sums): void {
  into.nano += more.nano
  into.saved += more.saved
  into.calls += more.calls
  into.inputTokens += more.inputTokens
  into.outputTokens += more.outputTokens
  into.estimatedCalls += more.estimatedCalls
}

function totalsOf(sums: Sums): Omit<SpendGroup, 'key'> {
  return {
    cost: nanoToUsd(sums.nano),
    exact: { cost: formatNano(sums.nano), saved: formatNano(sums.saved) },
    costNanoUsd: sums.nano.toString(),
    saved: nanoToUsd(sums.saved),
    savedNanoUsd: sums.saved.toString(),
    calls: sums.calls,
    inputTokens: sums.inputTokens,
    outputTokens: sums.outputTokens,
    estimatedCalls: sums.estimatedCalls,
  }
}

function rowKey(row: RollupRow, groupBy: readonly SpendGroupBy[]): Partial<Record<SpendGroupBy, string>> {
  const key: Partial<Record<SpendGroupBy, string>> = {}
  for (const by of groupBy)
    key[by] =
      by === 'day' ? row.day : by === 'month' ? row.day.slice(0, 7) : by === 'model' ? row.model : row.modelServed
  return key
}

/** The report of rollup rows plus the report of records, group by group. */
function combine(
  rows: readonly RollupRow[],
  fromRecords: SpendReport,
  groupBy: readonly SpendGroupBy[],
  partial: boolean,
): SpendReport {
  const total = sumsOf(fromRecords)
  const groups = new Map<string, { key: Partial<Record<SpendGroupBy, string>>; sums: Sums }>()
  const group = (key: Partial<Record<SpendGroupBy, string>>): Sums => {
    const id = JSON.stringify(groupBy.map((by) => key[by]))
    let entry = groups.get(id)
    if (entry === undefined) {
      entry = { key, sums: { nano: 0n, saved: 0n, calls: 0, inputTokens: 0, outputTokens: 0, estimatedCalls: 0 } }
      groups.set(id, entry)
    }
    return entry.sums
  }
  for (const g of fromRecords.groups) addSums(group(g.key), sumsOf(g))
  for (const row of rows) {
    const sums = {
      nano: BigInt(row.costNanoUsd),
      saved: BigInt(row.savedNanoUsd),
      calls: row.calls,
      inputTokens: row.inputTokens,
      outputTokens: row.outputTokens,
      estimatedCalls: row.estimatedCalls,
    }
    addSums(total, sums)
    if (groupBy.length > 0) addSums(group(rowKey(row, groupBy)), sums)
  }
  const sorted = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return { ...totalsOf(total), groups: sorted.map(([, g]) => ({ key: g.key, ...totalsOf(g.sums) })), partial }
}

/** How {@link spendReport} reads the store (the manager's store calls, with their error handling). */
export interface SpendSources {
  /** The store's records of a time range. */
  readRecords(range: { from?: number; to?: number }): Promise<SpendRecord[]>
  /** The store's daily rollups, or `undefined` for a store without them. */
  readRollups: ((query: RollupQuery) => Promise<RollupResult>) | undefined
}

/**
 * Spend for a query, exact while the store's records or rollups cover it; `partial: true` when the store evicted
 * something the answer would need.
 */
export async function spendReport(query: SpendQuery, { readRecords, readRollups }: SpendSources): Promise<SpendReport> {
  const from = millis(query.from)
  const to = millis(query.to)
  const fromRecordsOnly = async (start: number | undefined, partial: boolean): Promise<SpendReport> => {
    const range: { from?: number; to?: number } = {}
    if (start !== undefined) range.from = start
    if (to !== undefined) range.to = to
    return { ...aggregateSpend(filterRecords(await readRecords(range), query), query), partial }
  }
  // Validates the query (throws InvalidInputError) before anything is read.
  aggregateSpend([], query)
  if (readRollups === undefined) return fromRecordsOnly(from, false)
  // An empty range: only the coverage.
  const coverage = await readRollups({ from: 0, to: 0 })
  const recordsFrom = coverage.recordsFrom
  if (recordsFrom === null || (from !== undefined && from >= recordsFrom)) return fromRecordsOnly(from, false)
  // Records are complete from `split` (a UTC midnight) on; the days before it come from the rollups.
  const split = Math.ceil(recordsFrom / DAY_MS) * DAY_MS
  const scope = rollupScopeOf(query)
  const aligned =
    (from === undefined || from === dayStart(from)) && (to === undefined || to >= split || to === dayStart(to))
  if (scope === null || !aligned) return fromRecordsOnly(from, true)
  const rollupTo = to === undefined ? split : Math.min(to, split)
  const result = await readRollups({ ...(from === undefined ? {} : { from }), to: rollupTo, scopes: [scope] })
  const model =
    query.model ??
    (query.scope !== undefined && parseScope(query.scope, 'query.scope').type === 'model'
      ? parseScope(query.scope, 'query.scope').id
      : undefined)
  const rows =
    model === undefined ? result.rows : result.rows.filter((r) => r.model === model || r.modelServed === model)
  const partial = result.rollupsFrom !== null && (from === undefined || from < result.rollupsFrom)
  const rest =
    to !== undefined && to <= split ? { ...aggregateSpend([], query), partial } : await fromRecordsOnly(split, partial)
  return combine(rows, rest, query.groupBy ?? [], partial)
}
