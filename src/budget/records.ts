/**
 * Spend records: filters, exact aggregation (`querySpend`) and export as CSV or JSON Lines. Records carry
 * numbers, ids, model and tags only, never prompt or response content.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import type { JsonValue, SpendRecord } from '../stores/types.js'
import { formatNano, nanoToUsd } from './money.js'
import { type Scope, type ScopeInput, parseScope } from './scopes.js'

/** Dimensions to group spend by. */
export type SpendGroupBy =
  | 'day'
  | 'month'
  | 'model'
  | 'modelServed'
  | 'provider'
  | 'user'
  | 'team'
  | 'org'
  | 'key'
  | 'endUser'
  | 'tag'
  | 'deployment'
  | 'status'

/** Every way spend can be grouped, in the order reports list them. */
export const SPEND_GROUP_BY: readonly SpendGroupBy[] = [
  'day',
  'month',
  'model',
  'modelServed',
  'provider',
  'user',
  'team',
  'org',
  'key',
  'endUser',
  'tag',
  'deployment',
  'status',
]

/** Which records to aggregate and how. */
export interface SpendQuery {
  /** Inclusive lower bound on the call's end time. */
  from?: Date | number | undefined
  /** Exclusive upper bound on the call's end time. */
  to?: Date | number | undefined
  /** Only calls that counted against this scope (`team:search`, `{ type: 'user', id: 'alice' }`, `global`). */
  scope?: ScopeInput | undefined
  /** Only calls of this model (requested or served). */
  model?: string | undefined
  /** Only calls carrying every one of these tags. */
  tags?: readonly string[] | undefined
  /** Group by these dimensions (a call with several tags counts in each tag's group). */
  groupBy?: readonly SpendGroupBy[] | undefined
}

/** Totals of a set of records. `cost` is a USD number; `exact.cost` the exact decimal string. */
export interface SpendTotals {
  cost: number
  exact: { cost: string; saved: string }
  /** Integer nano-USD, as a decimal string (may exceed 2^53 over long periods). */
  costNanoUsd: string
  /** What the response cache saved, USD: the sum of cache hits' `saved` (what those calls would have cost). */
  saved: number
  /** `saved` in integer nano-USD, as a decimal string. */
  savedNanoUsd: string
  calls: number
  inputTokens: number
  outputTokens: number
  /** Calls whose cost is an estimate. */
  estimatedCalls: number
}

/** One group of a {@link SpendReport}. */
export interface SpendGroup extends SpendTotals {
  /** The group's values, e.g. `{ day: '2026-11-29', model: 'gpt-4o' }`. */
  key: Partial<Record<SpendGroupBy, string>>
}

/** The answer of `querySpend`: totals plus groups (sorted by key). Totals always equal the sum of the records. */
export interface SpendReport extends SpendTotals {
  groups: SpendGroup[]
  /**
   * True when the store evicted spend the query asks for (records past their retention, for a part of a day or
   * a grouping its daily rollups do not keep, or rollups past theirs): the totals are then a lower bound.
   */
  partial: boolean
}

function contextOf(record: SpendRecord): Record<string, JsonValue> {
  const context = record.context
  return typeof context === 'object' && context !== null && !Array.isArray(context)
    ? (context as Record<string, JsonValue>)
    : {}
}

function tagsOf(record: SpendRecord): string[] {
  const tags = contextOf(record).tags
  return Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : []
}

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined
}

function matchesScope(record: SpendRecord, scope: Scope): boolean {
  const context = contextOf(record)
  switch (scope.type) {
    case 'global':
      return true
    case 'tag':
      return tagsOf(record).includes(scope.id)
    case 'model':
      return record.model === scope.id || record.modelServed === scope.id
    case 'provider':
      return record.provider === scope.id
    default:
      return context[scope.type] === scope.id
  }
}

/** @internal Validates a query's filters. */
function checkQuery(query: SpendQuery): { scope: Scope | undefined; groupBy: readonly SpendGroupBy[] } {
  if (typeof query !== 'object' || query === null) throw new InvalidInputError('query', '`querySpend` takes an object')
  const scope = query.scope === undefined ? undefined : parseScope(query.scope, 'query.scope')
  const groupBy = query.groupBy ?? []
  if (!Array.isArray(groupBy))
    throw new InvalidInputError('groupBy', `\`groupBy\` must be an array of ${SPEND_GROUP_BY.join(', ')}`)
  for (const g of groupBy) {
    if (!SPEND_GROUP_BY.includes(g))
      throw new InvalidInputError(
        'groupBy',
        `\`groupBy\` entries must be ${SPEND_GROUP_BY.join(', ')}; got ${JSON.stringify(String(g).slice(0, 40))}`,
      )
  }
  if (query.tags !== undefined && !Array.isArray(query.tags))
    throw new InvalidInputError('tags', '`tags` must be an array of strings')
  return { scope, groupBy }
}

/** Records matching the query's scope, model and tag filters (time is filtered by the store). */
export function filterRecords(records: readonly SpendRecord[], query: SpendQuery): SpendRecord[] {
  const { scope } = checkQuery(query)
  const from = query.from instanceof Date ? query.from.getTime() : query.from
  const to = query.to instanceof Date ? query.to.getTime() : query.to
  return records.filter((record) => {
    if (from !== undefined && record.endedAt < from) return false
    if (to !== undefined && record.endedAt >= to) return false
    if (scope !== undefined && !matchesScope(record, scope)) return false
    if (query.model !== undefined && record.model !== query.model && record.modelServed !== query.model) return false
    if (query.tags !== undefined && query.tags.length > 0) {
      const tags = tagsOf(record)
      for (const tag of query.tags) if (!tags.includes(tag)) return false
    }
    return true
  })
}

interface Accumulator {
  nano: bigint
  saved: bigint
  calls: number
  inputTokens: number
  outputTokens: number
  estimatedCalls: number
}

function emptyAccumulator(): Accumulator {
  return { nano: 0n, saved: 0n, calls: 0, inputTokens: 0, outputTokens: 0, estimatedCalls: 0 }
}

function add(acc: Accumulator, record: SpendRecord): void {
  const nano = record.costNanoUsd
  acc.nano += BigInt(typeof nano === 'number' && Number.isSafeInteger(nano) ? nano : 0)
  const saved = record.savedNanoUsd
  if (typeof saved === 'number' && Number.isSafeInteger(saved) && saved > 0) acc.saved += BigInt(saved)
  acc.calls++
  const usage = record.usage
  if (typeof usage === 'object' && usage !== null && !Array.isArray(usage)) {
    const u = usage as Record<string, JsonValue>
    if (typeof u.inputTokens === 'number') acc.inputTokens += u.inputTokens
    if (typeof u.outputTokens === 'number') acc.outputTokens += u.outputTokens
  }
  if (record.estimated === true) acc.estimatedCalls++
}

function totals(acc: Accumulator): SpendTotals {
  return {
    cost: nanoToUsd(acc.nano),
    exact: { cost: formatNano(acc.nano), saved: formatNano(acc.saved) },
    costNanoUsd: acc.nano.toString(),
    saved: nanoToUsd(acc.saved),
    savedNanoUsd: acc.saved.toString(),
    calls: acc.calls,
    inputTokens: acc.inputTokens,
    outputTokens: acc.outputTokens,
    estimatedCalls: acc.estimatedCalls,
  }
}

function dimension(record: SpendRecord, by: SpendGroupBy): string[] {
  const context = contextOf(record)
  switch (by) {
    case 'day':
      return [new Date(record.endedAt).toISOString().slice(0, 10)]
    case 'month':
      return [new Date(record.endedAt).toISOString().slice(0, 7)]
    case 'model':
      return [str(record.model) ?? str(record.modelServed) ?? '(none)']
    case 'modelServed':
      return [str(record.modelServed) ?? str(record.model) ?? '(none)']
    case 'provider':
      return [str(record.provider) ?? '(none)']
    case 'status':
      return [str(record.status) ?? '(none)']
    case 'tag': {
      const tags = tagsOf(record)
      return tags.length === 0 ? ['(none)'] : tags
    }
    default:
      return [str(context[by]) ?? '(none)']
  }
}

/**
 * Aggregates records exactly: sums integer nano-USD with bigint, so totals equal the sum of records to the
 * last nano-dollar. Days and months are UTC.
 */
export function aggregateSpend(records: readonly SpendRecord[], query: SpendQuery = {}): SpendReport {
  const { groupBy } = checkQuery(query)
  const total = emptyAccumulator()
  const groups = new Map<string, { key: Partial<Record<SpendGroupBy, string>>; acc: Accumulator }>()
  for (const record of records) {
    add(total, record)
    if (groupBy.length === 0) continue
    let combos: Partial<Record<SpendGroupBy, string>>[] = [{}]
    for (const by of groupBy) {
      const values = dimension(record, by)
      const next: Partial<Record<SpendGroupBy, string>>[] = []
      for (const combo of combos) for (const value of values) next.push({ ...combo, [by]: value })
      combos = next
    }
    for (const key of combos) {
      const id = JSON.stringify(groupBy.map((by) => key[by]))
      let group = groups.get(id)
      if (group === undefined) {
        group = { key, acc: emptyAccumulator() }
        groups.set(id, group)
      }
      add(group.acc, record)
    }
  }
  const sorted = [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return { ...totals(total), groups: sorted.map(([, g]) => ({ key: g.key, ...totals(g.acc) })), partial: false }
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value)
  // Spreadsheet formula injection: a cell starting with = + - @ or a tab/CR is read as text.
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text)) text = `'${text}`
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

const RECORD_COLUMNS = [
  'callId',
  'startedAt',
  'endedAt',
  'model',
  'modelServed',
  'provider',
  'user',
  'team',
  'org',
  'key',
  'endUser',
  'tags',
  'status',
  'estimated',
  'cost',
  'costNanoUsd',
  'inputTokens',
  'outputTokens',
  'cacheReadTokens',
  'cacheWriteTokens',
  'priceSource',
  'catalogVersion',
] as const

/** Spend records as CSV (one row per call, ISO times, exact costs), with a header row. */
export function recordsToCsv(records: readonly SpendRecord[]): string {
  const lines = [RECORD_COLUMNS.join(',')]
  for (const record of records) {
    const context = contextOf(record)
    const usage = (
      typeof record.usage === 'object' && record.usage !== null && !Array.isArray(record.usage) ? record.usage : {}
    ) as Record<string, JsonValue>
    const row: unknown[] = [
      record.callId,
      new Date(record.startedAt).toISOString(),
      new Date(record.endedAt).toISOString(),
      record.model,
      record.modelServed,
      record.provider,
      context.user,
      context.team,
      context.org,
      context.key,
      context.endUser,
      tagsOf(record).join(';'),
      record.status,
      record.estimated,
      record.cost,
      record.costNanoUsd,
      usage.inputTokens,
      usage.outputTokens,
      usage.cacheReadTokens,
      usage.cacheWriteTokens,
      record.priceSource,
      record.catalogVersion,
    ]
    lines.push(row.map(csvCell).join(','))
  }
  return `${lines.join('\n')}\n`
}

/** A spend report's groups as CSV: one column per group-by dimension, then the totals. */
export function reportToCsv(report: SpendReport, groupBy: readonly SpendGroupBy[]): string {
  const header = [...groupBy, 'cost', 'calls', 'inputTokens', 'outputTokens', 'estimatedCalls']
  const lines = [header.join(',')]
  for (const group of report.groups) {
    lines.push(
      [
        ...groupBy.map((by) => group.key[by]),
        group.exact.cost,
        group.calls,
        group.inputTokens,
        group.outputTokens,
        group.estimatedCalls,
      ]
        .map(csvCell)
        .join(','),
    )
  }
  return `${lines.join('\n')}\n`
}

/** Spend records as JSON Lines (one JSON object per line). */
export function recordsToJsonLines(records: readonly SpendRecord[]): string {
  let out = ''
  for (const record of records) out += `${JSON.stringify(record)}\n`
  return out
}
