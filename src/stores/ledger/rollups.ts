/**
 * Daily rollups: per UTC day, scope and model, the exact sums of the spend records committed (calls, tokens, cost,
 * saved, estimated calls). Kept far longer than the raw records, so spend totals stay exact after records are
 * evicted. The ledger keeps its rows in a `RollupTable` (`rollup-table.ts`), added to on every commit with a record;
 * the PostgreSQL and Redis stores compute the same rows with {@link rollupDeltas}.
 *
 * @internal Used by the stores; not part of the public API.
 */
import { InvalidInputError } from '../../errors.js'
import type { JsonValue, RollupQuery, RollupRow, SpendRecord } from '../types.js'
import type { RollupTable } from './rollup-table.js'

/** One day in milliseconds. */
export const DAY_MS = 86_400_000

/** The context fields of a record that name a scope (besides `tags`, `provider` and `global`). */
export const ROLLUP_CONTEXT_SCOPES = ['user', 'team', 'org', 'key', 'endUser', 'deployment'] as const

/**
 * The record field naming the budget-server tenant a record belongs to. The server's tenant view sets it on every
 * record it commits (and strips it from what it reads back); a record with it rolls up into `<tenant>/<scope>`
 * rows, so tenants sharing one store never share a rollup row. Records without it roll up into the bare scopes.
 */
export const TENANT_FIELD = 'tenant'

/** Longest scope a rollup query may name. */
export const MAX_ROLLUP_SCOPE_LENGTH = 1024

/** The scope types of rollup rows besides `global`: the context scopes, the provider and tags. */
export const ROLLUP_SCOPE_TYPES = [...ROLLUP_CONTEXT_SCOPES, 'provider', 'tag'] as const

/** What a missing model is rolled up as. */
export const NO_MODEL = '(none)'

// The last day formatted: commits come in time order, so nearly every call asks for the same day again.
let lastDayStart = Number.NaN
let lastDay = ''

/** The UTC day of an instant, `YYYY-MM-DD`. */
export function dayOf(ms: number): string {
  const start = dayStart(ms)
  if (start !== lastDayStart) {
    lastDay = new Date(start).toISOString().slice(0, 10)
    lastDayStart = start
  }
  return lastDay
}

/** The UTC midnight at or before an instant, epoch ms. */
export function dayStart(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS
}

/** The rollup scope string of a scope: `global`, or `type:id`. */
export function rollupScope(type: string, id: string): string {
  return type === 'global' ? 'global' : `${type}:${id}`
}

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

function count(value: JsonValue | undefined): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0
}

function objectOf(value: JsonValue | undefined): Record<string, JsonValue> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : {}
}

/**
 * Every scope a record counts in: `global`, its context's scopes, its provider and each of its tags (once); each
 * prefixed with `<tenant>/` when the record names a tenant ({@link TENANT_FIELD}).
 */
export function rollupScopes(record: SpendRecord): string[] {
  const scopes = bareRollupScopes(record)
  const tenant = str(record[TENANT_FIELD])
  return tenant === undefined ? scopes : scopes.map((scope) => `${tenant}/${scope}`)
}

function bareRollupScopes(record: SpendRecord): string[] {
  const context = objectOf(record.context)
  const scopes = ['global']
  for (const field of ROLLUP_CONTEXT_SCOPES) {
    const id = str(context[field])
    if (id !== undefined) scopes.push(rollupScope(field, id))
  }
  const provider = str(record.provider)
  if (provider !== undefined) scopes.push(rollupScope('provider', provider))
  const tags = context.tags
  if (Array.isArray(tags)) {
    for (const tag of new Set(tags)) if (typeof tag === 'string' && tag.length > 0) scopes.push(rollupScope('tag', tag))
  }
  return scopes
}

/** The rows one record adds to: one per scope, all with the same day, model and sums. */
export function rollupDeltas(record: SpendRecord): RollupRow[] {
  const usage = objectOf(record.usage)
  const model = str(record.model) ?? str(record.modelServed) ?? NO_MODEL
  const modelServed = str(record.modelServed) ?? str(record.model) ?? NO_MODEL
  const day = dayOf(record.endedAt)
  const sums = {
    calls: 1,
    inputTokens: count(usage.inputTokens),
    outputTokens: count(usage.outputTokens),
    costNanoUsd: count(record.costNanoUsd),
    savedNanoUsd: count(record.savedNanoUsd),
    estimatedCalls: record.estimated === true ? 1 : 0,
  }
  return rollupScopes(record).map((scope) => ({ day, scope, model, modelServed, ...sums }))
}

/**
 * Drops the rows of days that start before `cutoff` (epoch ms). Returns the start of the day after the latest
 * dropped one (the new lower bound of complete rollups), or `null` when nothing was dropped.
 */
export function evictRollups(rows: RollupTable, cutoff: number): number | null {
  const latest = rows.evict(dayOf(dayStart(cutoff)))
  return latest === null ? null : Date.parse(`${latest}T00:00:00Z`) + DAY_MS
}

/** Throws `InvalidInputError` unless the query is well formed. */
export function validateRollupQuery(query: RollupQuery): void {
  if (typeof query !== 'object' || query === null)
    throw new InvalidInputError('query', 'the rollup query must be an object')
  for (const field of ['from', 'to'] as const) {
    const value = query[field]
    if (value !== undefined && (typeof value !== 'number' || Number.isNaN(value))) {
      throw new InvalidInputError(field, `\`${field}\` must be a number of epoch milliseconds`)
    }
  }
  if (query.scopes !== undefined) {
    if (!Array.isArray(query.scopes) || query.scopes.length > 1000)
      throw new InvalidInputError('scopes', '`scopes` must be an array of at most 1000 scope strings')
    for (const scope of query.scopes) {
      if (typeof scope !== 'string' || scope.length === 0 || scope.length > MAX_ROLLUP_SCOPE_LENGTH)
        throw new InvalidInputError(
          'scopes',
          `\`scopes\` entries must be strings of 1 to ${MAX_ROLLUP_SCOPE_LENGTH} characters`,
        )
    }
  }
}

/** True when a row's scope is one of `scopes` (exact, or `type:*` for every scope of a type). */
export function scopeSelected(scope: string, scopes: readonly string[] | undefined): boolean {
  if (scopes === undefined) return true
  for (const wanted of scopes) {
    if (wanted === scope) return true
    if (wanted.endsWith(':*') && scope.startsWith(wanted.slice(0, -1))) return true
  }
  return false
}

/** Orders rows by day, scope, model and served model. */
export function compareRows(a: RollupRow, b: RollupRow): number {
  return a.day < b.day
    ? -1
    : a.day > b.day
      ? 1
      : a.scope < b.scope
        ? -1
        : a.scope > b.scope
          ? 1
          : a.model < b.model
            ? -1
            : a.model > b.model
              ? 1
              : a.modelServed < b.modelServed
                ? -1
                : a.modelServed > b.modelServed
                  ? 1
                  : 0
}

/** Keeps an instant within years 1 to 9999, where `YYYY-MM-DD` strings sort like the days they name. */
function clampDay(ms: number): number {
  return Math.min(253_402_214_400_000, Math.max(-62_135_596_800_000, ms))
}

/** The days a query selects: `from` inclusive and `to` exclusive, as `YYYY-MM-DD` (`null`: unbounded). */
export function rollupDayBounds(query: RollupQuery): { from: string | null; to: string | null } {
  return {
    from: query.from === undefined ? null : dayOf(clampDay(Math.ceil(query.from / DAY_MS) * DAY_MS)),
    to: query.to === undefined ? null : dayOf(clampDay(Math.ceil(query.to / DAY_MS) * DAY_MS)),
  }
}

/** Copies of the rows a query selects, sorted. Reads only. */
export function selectRollups(rows: RollupTable, query: RollupQuery): RollupRow[] {
  validateRollupQuery(query)
  const { from, to } = rollupDayBounds(query)
  const out: RollupRow[] = []
  for (const row of rows.rows()) {
    if (from !== null && row.day < from) continue
    if (to !== null && row.day >= to) continue
    if (!scopeSelected(row.scope, query.scopes)) continue
    out.push(row)
  }
  return out.sort(compareRows)
}
