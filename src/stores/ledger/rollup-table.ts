/**
 * The ledger's daily rollup rows, kept for a cheap commit: rows are grouped by (UTC day, model, served model), and
 * within a group by scope type and id, so a commit finds its rows by the ids its record already holds (no key
 * strings built, no delta objects) and checks and adds the six sums field by field. The rows are the same
 * {@link RollupRow}s that `rollups.ts` describes, kept without the day and models their group already holds (24
 * bytes less per row) and handed out whole; a record with a `tenant` rolls up into `<tenant>/<scope>` rows, found by
 * their scope string.
 *
 * @internal Used by the ledger; not part of the public API.
 */
import { InvalidInputError } from '../../errors.js'
import type { JsonValue, RollupRow, SpendRecord } from '../types.js'
import { flatString } from './keys.js'
import { NO_MODEL, ROLLUP_CONTEXT_SCOPES, TENANT_FIELD, dayOf, rollupScope } from './rollups.js'

/** The scope types a group keeps rows of, by index: `global`, the context scopes, `provider`, `tag`. */
const TYPES = ['global', ...ROLLUP_CONTEXT_SCOPES, 'provider', 'tag'] as const
const PROVIDER = TYPES.indexOf('provider')
const TAG = TYPES.indexOf('tag')

/** A row as kept: its group holds its day and models. */
type StoredRow = Omit<RollupRow, 'day' | 'model' | 'modelServed'>

/**
 * The rows of one day, model and served model. A class, so that every group has one shape from the start (its
 * `byType` array too, made with its final elements kind): a fresh ledger's first groups then meet the optimized
 * `add` of an earlier ledger without deoptimizing it ("wrong map").
 */
class Group {
  /** Rows of records without a tenant, by scope type (index in {@link TYPES}) and id (`''` for `global`). */
  readonly byType: (Map<string, StoredRow> | undefined)[] = new Array<Map<string, StoredRow> | undefined>(
    TYPES.length,
  ).fill(undefined)
  /** Rows of records with a tenant, by their scope string (`<tenant>/<scope>`). */
  tenants: Map<string, StoredRow> | undefined = undefined

  constructor(
    readonly day: string,
    readonly model: string,
    readonly modelServed: string,
  ) {}
}

/** The sums one record adds to each of its rows. */
interface Sums {
  inputTokens: number
  outputTokens: number
  costNanoUsd: number
  savedNanoUsd: number
  estimatedCalls: number
}

function str(value: JsonValue | undefined): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

function count(value: JsonValue | undefined): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : 0
}

function objectOf(value: JsonValue | undefined): Record<string, JsonValue> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined
}

/** The first sum that adding `d` (one call) to `row` would take past 2^53 - 1, or `null`. */
function overflow(row: StoredRow, d: Sums): string | null {
  if (!Number.isSafeInteger(row.calls + 1)) return 'calls'
  if (!Number.isSafeInteger(row.inputTokens + d.inputTokens)) return 'inputTokens'
  if (!Number.isSafeInteger(row.outputTokens + d.outputTokens)) return 'outputTokens'
  if (!Number.isSafeInteger(row.costNanoUsd + d.costNanoUsd)) return 'costNanoUsd'
  if (!Number.isSafeInteger(row.savedNanoUsd + d.savedNanoUsd)) return 'savedNanoUsd'
  if (!Number.isSafeInteger(row.estimatedCalls + d.estimatedCalls)) return 'estimatedCalls'
  return null
}

/** A kept row as a whole {@link RollupRow}. */
function whole(group: Group, row: StoredRow): RollupRow {
  return {
    day: group.day,
    scope: row.scope,
    model: group.model,
    modelServed: group.modelServed,
    calls: row.calls,
    inputTokens: row.inputTokens,
    outputTokens: row.outputTokens,
    costNanoUsd: row.costNanoUsd,
    savedNanoUsd: row.savedNanoUsd,
    estimatedCalls: row.estimatedCalls,
  }
}

/**
 * The rows of the last record's scopes and what found them: a record with the same group, the same frozen context
 * object (its scope ids cannot change), provider and tenant counts in the same rows. Rows are only ever removed with
 * their group, so a kept group's rows stay its rows.
 */
interface KeptRows {
  group: Group
  context: Record<string, JsonValue> | undefined
  provider: string | undefined
  tenant: string | undefined
  rows: StoredRow[]
}

/** True when a record context cannot change: no context, or a frozen one whose `tags` (if an array) is frozen too. */
function unchanging(context: Record<string, JsonValue> | undefined): boolean {
  if (context === undefined) return true
  if (!Object.isFrozen(context)) return false
  const tags = context.tags
  return !Array.isArray(tags) || Object.isFrozen(tags)
}

function overflowError(day: string, row: StoredRow, model: string, sum: string): InvalidInputError {
  return new InvalidInputError(
    'record',
    `the daily rollup ${day} ${row.scope} ${model} would exceed the largest exact ${sum} (${Number.MAX_SAFE_INTEGER})`,
  )
}

/** Adds one record's sums to a row. */
function add(row: StoredRow, sums: Sums): void {
  row.calls += 1
  row.inputTokens += sums.inputTokens
  row.outputTokens += sums.outputTokens
  row.costNanoUsd += sums.costNanoUsd
  row.savedNanoUsd += sums.savedNanoUsd
  row.estimatedCalls += sums.estimatedCalls
}

/** Adds one record's sums to every row, or to none (`InvalidInputError`) when a sum would pass 2^53 - 1. */
function addToRows(rows: readonly StoredRow[], sums: Sums, day: string, model: string): void {
  for (let i = 0; i < rows.length; i++) {
    const sum = overflow(rows[i]!, sums)
    if (sum !== null) throw overflowError(day, rows[i]!, model, sum)
  }
  for (let i = 0; i < rows.length; i++) add(rows[i]!, sums)
}

// The rows a commit touches, found in its first pass and updated in its second (a commit runs synchronously).
const found: (StoredRow | undefined)[] = []
const foundType: number[] = []
const foundId: string[] = []

/** Daily rollup rows, by day, scope, model and served model. */
export class RollupTable {
  readonly #groups = new Map<string, Group>()
  #last: Group | undefined
  #size = 0
  /** The rows the last record added to, while they are the next record's (see {@link RollupTable.add}). */
  #kept: KeptRows | undefined
  readonly #sharedScope: ((scope: string) => string | undefined) | undefined

  /**
   * `sharedScope` may hand back a kept string equal to a row's scope (the ledger's stored budget of that scope), so
   * that a new row shares it instead of keeping its own copy (strings are immutable: sharing is invisible).
   */
  constructor(sharedScope?: (scope: string) => string | undefined) {
    this.#sharedScope = sharedScope
  }

  /** How many rows there are. */
  get size(): number {
    return this.#size
  }

  /** Every row, each a new object (with its group's day and models, in the fields' order of {@link RollupRow}). */
  *rows(): IterableIterator<RollupRow> {
    for (const group of this.#groups.values()) {
      for (const rows of group.byType) if (rows !== undefined) for (const row of rows.values()) yield whole(group, row)
      if (group.tenants !== undefined) for (const row of group.tenants.values()) yield whole(group, row)
    }
  }

  #group(day: string, model: string, modelServed: string): Group {
    const last = this.#last
    if (last !== undefined && last.day === day && last.model === model && last.modelServed === modelServed) return last
    const key = `${day}\u0001${model}\u0001${modelServed}`
    let group = this.#groups.get(key)
    if (group === undefined) {
      group = new Group(day, model, modelServed)
      this.#groups.set(flatString(key), group)
    }
    this.#last = group
    return group
  }

  /**
   * Adds one record to the rows of every scope it counts in (see `rollupScopes`). Throws `InvalidInputError` and
   * changes nothing when a sum would pass 2^53 - 1.
   */
  add(record: SpendRecord): void {
    const context = objectOf(record.context)
    const usage = objectOf(record.usage)
    const model = str(record.model) ?? str(record.modelServed) ?? NO_MODEL
    const modelServed = str(record.modelServed) ?? str(record.model) ?? NO_MODEL
    const sums: Sums = {
      inputTokens: usage === undefined ? 0 : count(usage.inputTokens),
      outputTokens: usage === undefined ? 0 : count(usage.outputTokens),
      costNanoUsd: count(record.costNanoUsd),
      savedNanoUsd: count(record.savedNanoUsd),
      estimatedCalls: record.estimated === true ? 1 : 0,
    }
    const day = dayOf(record.endedAt)
    const group = this.#group(day, model, modelServed)
    const tenant = str(record[TENANT_FIELD])
    const provider = str(record.provider)
    const kept = this.#kept
    if (
      kept !== undefined &&
      kept.group === group &&
      kept.context === context &&
      kept.provider === provider &&
      kept.tenant === tenant
    ) {
      addToRows(kept.rows, sums, day, model)
      return
    }
    let n = 0
    // Every (type, id) the record counts in, in `rollupScopes` order; tags once each.
    foundType[n] = 0
    foundId[n++] = ''
    if (context !== undefined) {
      for (let t = 0; t < ROLLUP_CONTEXT_SCOPES.length; t++) {
        const id = str(context[ROLLUP_CONTEXT_SCOPES[t]!])
        if (id === undefined) continue
        foundType[n] = t + 1
        foundId[n++] = id
      }
    }
    if (provider !== undefined) {
      foundType[n] = PROVIDER
      foundId[n++] = provider
    }
    const tags = context?.tags
    if (Array.isArray(tags)) {
      const first = n
      for (const tag of tags) {
        if (typeof tag !== 'string' || tag.length === 0) continue
        let seen = false
        for (let j = first; j < n && !seen; j++) seen = foundId[j] === tag
        if (seen) continue
        foundType[n] = TAG
        foundId[n++] = tag
      }
    }
    for (let i = 0; i < n; i++) {
      const row =
        tenant === undefined
          ? group.byType[foundType[i]!]?.get(foundId[i]!)
          : group.tenants?.get(this.#scope(foundType[i]!, foundId[i]!, tenant))
      found[i] = row
      if (row === undefined) continue
      const sum = overflow(row, sums)
      if (sum !== null) {
        found.length = 0
        throw overflowError(day, row, model, sum)
      }
    }
    // Kept only for a context that cannot change: a mutable one could name other scopes at the next commit.
    const rows: StoredRow[] | undefined = unchanging(context) ? new Array(n) : undefined
    for (let i = 0; i < n; i++) {
      const row = found[i]
      if (row !== undefined) {
        add(row, sums)
        found[i] = undefined
        if (rows !== undefined) rows[i] = row
        continue
      }
      const type = foundType[i]!
      const id = foundId[i]!
      const scope = this.#scope(type, id, tenant)
      const fresh: StoredRow = {
        scope,
        calls: 1,
        inputTokens: sums.inputTokens,
        outputTokens: sums.outputTokens,
        costNanoUsd: sums.costNanoUsd,
        savedNanoUsd: sums.savedNanoUsd,
        estimatedCalls: sums.estimatedCalls,
      }
      this.#insert(group, type, id, tenant, fresh)
      if (rows !== undefined) rows[i] = fresh
    }
    this.#kept = rows === undefined ? undefined : { group, context, provider, tenant, rows }
  }

  /** The flat scope string of a row: `global`, `type:id`, or `<tenant>/<scope>`. */
  #scope(type: number, id: string, tenant: string | undefined): string {
    const bare = type === 0 ? 'global' : rollupScope(TYPES[type]!, id)
    const scope = tenant === undefined ? bare : `${tenant}/${bare}`
    return this.#sharedScope?.(scope) ?? flatString(scope)
  }

  #insert(group: Group, type: number, id: string, tenant: string | undefined, row: StoredRow): void {
    if (tenant === undefined) {
      let rows = group.byType[type]
      if (rows === undefined) {
        rows = new Map()
        group.byType[type] = rows
      }
      rows.set(id, row)
    } else {
      group.tenants ??= new Map()
      group.tenants.set(row.scope, row)
    }
    this.#size++
  }

  /** Adds a whole row (a snapshot's), summed into the row of the same day, scope and models when there is one. */
  addRow(row: RollupRow): void {
    const group = this.#group(row.day, row.model, row.modelServed)
    const copy: StoredRow = {
      scope: flatString(row.scope),
      calls: row.calls,
      inputTokens: row.inputTokens,
      outputTokens: row.outputTokens,
      costNanoUsd: row.costNanoUsd,
      savedNanoUsd: row.savedNanoUsd,
      estimatedCalls: row.estimatedCalls,
    }
    // A snapshot's row names its scope as a string: rows of records without a tenant are found by type and id.
    const colon = row.scope.indexOf(':')
    const type = row.scope === 'global' ? 0 : colon === -1 ? -1 : TYPES.indexOf(row.scope.slice(0, colon) as never)
    const bareRow = type === 0 || (type > 0 && !row.scope.slice(0, colon).includes('/'))
    const existing = bareRow
      ? group.byType[type]?.get(type === 0 ? '' : row.scope.slice(colon + 1))
      : group.tenants?.get(row.scope)
    if (existing === undefined) {
      if (bareRow) this.#insert(group, type, type === 0 ? '' : row.scope.slice(colon + 1), undefined, copy)
      else this.#insert(group, -1, '', row.scope, copy)
      return
    }
    existing.calls += row.calls
    existing.inputTokens += row.inputTokens
    existing.outputTokens += row.outputTokens
    existing.costNanoUsd += row.costNanoUsd
    existing.savedNanoUsd += row.savedNanoUsd
    existing.estimatedCalls += row.estimatedCalls
  }

  /**
   * Drops the rows of days that start before `cutoff` (epoch ms). Returns the start of the day after the latest
   * dropped one, or `null` when nothing was dropped.
   */
  evict(cutoffDay: string): string | null {
    let latest: string | null = null
    for (const [key, group] of this.#groups) {
      if (group.day >= cutoffDay) continue
      this.#groups.delete(key)
      for (const rows of group.byType) if (rows !== undefined) this.#size -= rows.size
      if (group.tenants !== undefined) this.#size -= group.tenants.size
      if (this.#last === group) this.#last = undefined
      if (this.#kept?.group === group) this.#kept = undefined
      if (latest === null || group.day > latest) latest = group.day
    }
    return latest
  }
}
