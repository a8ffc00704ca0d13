/**
 * A tenant's view of a shared store: every key, call id and scope is prefixed with `<tenant>/` on the way in
 * and stripped on the way out, and lists are filtered to the tenant's own entries. Spend records are marked with
 * the tenant (the `tenant` field, set whatever the client sent), so the store rolls them up into `<tenant>/<scope>`
 * rows, and rollup queries name only those. A tenant can neither name nor see another tenant's data, whatever it
 * sends. The coverage of a rollup answer (`recordsFrom`, `rollupsFrom`) is the shared store's: conservative for
 * every tenant (a report may say partial because another tenant's records were evicted, never the reverse).
 *
 * @internal Used by the handler.
 */
import { MAX_CALL_ID_LENGTH, MAX_KEY_LENGTH, MAX_SCOPE_LENGTH } from './ledger/ledger.js'
import { MAX_ROLLUP_SCOPE_LENGTH, ROLLUP_SCOPE_TYPES, TENANT_FIELD, validateRollupQuery } from './ledger/rollups.js'
import { InvalidInputError } from '../errors.js'
import type { BudgetStore, HistoryEntry, RollupRow, SpendRecord, StoredBudget } from './types.js'

/** Timing hook: the handler passes one to measure time spent in the store. */
export type StoreTimer = <T>(operation: string, run: () => Promise<T>) => Promise<T>

/** How many prefixed keys the views sharing one {@link PrefixedKeyBudget} remember together. */
export const MAX_PREFIXED_KEYS = 8_192

/** Longest key remembered (longer ones are joined on every call), so the cache stays within a few MB. */
export const MAX_REMEMBERED_KEY_LENGTH = 256

/** The number of prefixed keys remembered by the views that share it (one per handler). */
export interface PrefixedKeyBudget {
  size: number
}

/**
 * A view's prefixed reserve and commit keys, by key as sent. The same few keys (a user's, a team's, an org's)
 * come back on every call: the remembered string is already flat and hashed (a prefix joined to a key on every
 * call was flattened and hashed again by the store's maps), and usually the very string the store keys its
 * balances by. Bounded together with the other views of the same budget: a view that finds the budget spent
 * forgets its own keys and starts again; {@link PrefixedKeys.clear} gives a dropped view's share back.
 */
export class PrefixedKeys {
  readonly #keys = new Map<string, string>()
  readonly #budget: PrefixedKeyBudget

  constructor(budget: PrefixedKeyBudget) {
    this.#budget = budget
  }

  /** `prefix + key`, remembered when the budget allows. */
  get(prefix: string, key: string): string {
    let out = this.#keys.get(key)
    if (out !== undefined) return out
    out = prefix + key
    if (key.length > MAX_REMEMBERED_KEY_LENGTH) return out
    if (this.#budget.size >= MAX_PREFIXED_KEYS) this.clear()
    if (this.#budget.size < MAX_PREFIXED_KEYS) {
      this.#keys.set(key, out)
      this.#budget.size++
      // Looking the joined string up flattens and hashes it once here, instead of leaving a two-part string
      // that every later use goes through (measured: remembering it unflattened cost more than it saved).
      this.#keys.has(out)
    }
    return out
  }

  /** Forgets every key of this view. */
  clear(): void {
    this.#budget.size -= this.#keys.size
    this.#keys.clear()
  }
}

/**
 * Wraps `store` so that `tenant` sees only its own namespace. `keys` (optional) remembers the prefixed reserve
 * and commit keys between calls.
 */
export function tenantStore(store: BudgetStore, tenant: string, time: StoreTimer, keys?: PrefixedKeys): BudgetStore {
  const prefix = `${tenant}/`
  const add = (field: string, value: string, max: number): string => {
    if (value.length + prefix.length > max) {
      throw new InvalidInputError(
        field,
        `\`${field}\` must be at most ${max - prefix.length} characters on this server (the tenant prefix takes ${prefix.length}), got ${value.length}`,
      )
    }
    return prefix + value
  }
  // The entries of a reserve or commit, each key prefixed; the field name is built only for an error.
  const addKeys = <E extends { key: string }>(entries: readonly E[]): E[] => {
    const out = new Array<E>(entries.length)
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!
      out[i] = {
        ...e,
        key:
          e.key.length + prefix.length > MAX_KEY_LENGTH
            ? add(`entries[${i}].key`, e.key, MAX_KEY_LENGTH)
            : keys === undefined
              ? prefix + e.key
              : keys.get(prefix, e.key),
      }
    }
    return out
  }
  const strip = (value: string): string => value.slice(prefix.length)
  const mine = (value: string): boolean => value.startsWith(prefix)
  const outBudget = (b: StoredBudget): StoredBudget => ({ ...b, scope: strip(b.scope) })
  const outHistory = (h: HistoryEntry): HistoryEntry => ({ ...h, scope: strip(h.scope) })
  const outRecord = (r: SpendRecord): SpendRecord => {
    const { [TENANT_FIELD]: _tenant, ...rest } = r
    return { ...rest, callId: strip(r.callId) } as SpendRecord
  }
  const outRollup = (row: RollupRow): RollupRow => ({ ...row, scope: strip(row.scope) })
  // Every rollup scope of this tenant, for a query that names none.
  const allScopes = [`${prefix}global`, ...ROLLUP_SCOPE_TYPES.map((type) => `${prefix}${type}:*`)]
  return {
    name: store.name,
    ...(store.clock === undefined ? {} : { clock: store.clock }),
    reserve: (r) =>
      time('reserve', () =>
        store.reserve({ ...r, callId: add('callId', r.callId, MAX_CALL_ID_LENGTH), entries: addKeys(r.entries) }),
      ),
    commit: (r) => {
      const callId = add('callId', r.callId, MAX_CALL_ID_LENGTH)
      const request = { ...r, callId, entries: addKeys(r.entries) }
      if (r.record !== undefined) {
        // The tenant field comes first, named (`TENANT_FIELD` is 'tenant'): in V8 a key added after a spread gave
        // every record a hidden class of its own, so each missed the store's property caches; a computed key in
        // the literal is defined through V8's slow path. It is set again after the copy: the client's own
        // `tenant` field never wins.
        TENANT_FIELD satisfies 'tenant'
        const record: SpendRecord = {
          tenant,
          ...r.record,
          // the record's call id is usually the commit's: one prefixed string for both, flattened and hashed once
          callId: r.record.callId === r.callId ? callId : add('record.callId', r.record.callId, MAX_CALL_ID_LENGTH),
        }
        record[TENANT_FIELD] = tenant
        request.record = record
      }
      return time('commit', () => store.commit(request))
    },
    release: (r) => time('release', () => store.release({ ...r, callId: add('callId', r.callId, MAX_CALL_ID_LENGTH) })),
    balances: (r) =>
      time('balances', () =>
        store.balances({ ...r, keys: r.keys.map((k, i) => add(`keys[${i}]`, k, MAX_KEY_LENGTH)) }),
      ),
    reset: (r) =>
      time('reset', () => store.reset({ ...r, keys: r.keys.map((k, i) => add(`keys[${i}]`, k, MAX_KEY_LENGTH)) })),
    getBudget: async (scope) => {
      const b = await time('getBudget', () => store.getBudget(add('scope', scope, MAX_SCOPE_LENGTH)))
      return b === null ? null : outBudget(b)
    },
    putBudget: async (r) => {
      const scope = add('scope', r.scope, MAX_SCOPE_LENGTH)
      const result = await time('putBudget', () => store.putBudget({ ...r, scope, history: { ...r.history, scope } }))
      return result.ok
        ? { ok: true, budget: result.budget === null ? null : outBudget(result.budget) }
        : { ok: false, conflict: true, current: result.current === null ? null : outBudget(result.current) }
    },
    listBudgets: async () =>
      (await time('listBudgets', () => store.listBudgets())).filter((b) => mine(b.scope)).map(outBudget),
    getHistory: async (scope) =>
      (await time('getHistory', () => store.getHistory(add('scope', scope, MAX_SCOPE_LENGTH)))).map(outHistory),
    queryRecords: async (query) => {
      // The store's limit counts every tenant's records: query without it, filter, then apply it.
      const { limit, ...rest } = query
      const all = await time('queryRecords', () => store.queryRecords(rest))
      const own = all.filter((r) => mine(r.callId)).map(outRecord)
      return limit === undefined ? own : own.slice(0, limit)
    },
    ...(store.queryRollups === undefined
      ? {}
      : {
          queryRollups: async (query) => {
            validateRollupQuery(query)
            const scopes =
              query.scopes === undefined
                ? allScopes
                : query.scopes.map((scope, i) => add(`scopes[${i}]`, scope, MAX_ROLLUP_SCOPE_LENGTH))
            const result = await time('queryRollups', () => store.queryRollups!({ ...query, scopes }))
            return { ...result, rows: result.rows.filter((row) => mine(row.scope)).map(outRollup) }
          },
        }),
    // The shared store outlives every tenant view.
    close: () => Promise.resolve(),
  }
}
