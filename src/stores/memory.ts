/**
 * `memoryStore()`: the default store. One process, no persistence. Every operation is a synchronous
 * read-modify-write of the in-memory ledger (no `await` inside an operation), so concurrent calls in one
 * process are atomic. The manager reserves and commits through its synchronous side door (`sync-ledger.ts`).
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import * as ledger from './ledger/ledger.js'
import { DEFAULT_MAX_RECORDS, maxRecordsSchema } from './ledger/max-records.js'
import { StorageError } from '../errors.js'
import { cloneJson } from '../internal/clone.js'
import { parseOptions } from '../internal/options.js'
import { withSyncLedger } from './sync-ledger.js'
import type { BudgetStore, CommitRequest, ReserveRequest } from './types.js'

/** Options of {@link memoryStore}. */
export interface MemoryStoreOptions {
  /**
   * Most spend records kept for `querySpend`; the oldest are dropped beyond it, so a long-running process
   * does not grow without bound. Balances are never dropped; totals stay exact through the daily rollups. Default
   * `100_000`; `Infinity` keeps all. A record takes about 1.3 KB.
   */
  maxRecords?: number
  /**
   * Spend records whose `endedAt` is older than this many milliseconds are dropped (checked once a minute of store
   * time). Default `Infinity` (only `maxRecords` applies).
   */
  recordRetentionMs?: number
  /**
   * Daily rollups (per UTC day, scope and model) older than this many milliseconds are dropped. Default 400 days.
   * A rollup row takes about 265 bytes; a call adds to one row per scope it names (global, user, team, ...).
   */
  rollupRetentionMs?: number
}

const retention = maxRecordsSchema
const optionsSchema = z.object({
  maxRecords: maxRecordsSchema.optional(),
  recordRetentionMs: retention.optional(),
  rollupRetentionMs: retention.optional(),
})

/**
 * An in-memory budget store for one process: the default of `BudgetManager`, and the store for tests.
 *
 * @example
 * ```ts
 * const budgets = new BudgetManager({ store: memoryStore({ maxRecords: 10_000 }) })
 * ```
 */
export function memoryStore(options: MemoryStoreOptions = {}): BudgetStore {
  const parsed = parseOptions('memoryStore()', optionsSchema, options)
  const state = ledger.createLedger({
    maxRecords: parsed.maxRecords ?? DEFAULT_MAX_RECORDS,
    recordRetentionMs: parsed.recordRetentionMs ?? Number.POSITIVE_INFINITY,
    rollupRetentionMs: parsed.rollupRetentionMs ?? ledger.DEFAULT_ROLLUP_RETENTION_MS,
  })
  let closed = false
  const assertOpen = (): void => {
    if (closed) throw new StorageError('memory', 'the store is closed', { retryable: false })
  }
  // Runs one synchronous ledger transition and hands back its result (or its error) as a promise.
  const apply = <Q, T>(transition: (s: ledger.LedgerState, request: Q) => T, request: Q): Promise<T> => {
    try {
      assertOpen()
      return Promise.resolve(transition(state, request))
    } catch (error) {
      return Promise.reject(error)
    }
  }
  const run = <T>(operation: () => T): Promise<T> => apply(operation, undefined)
  // The manager's synchronous path: the same transitions, answered without a promise.
  const reserveInto = (request: ReserveRequest, out: Float64Array, idPrefix?: string): number => {
    assertOpen()
    return ledger.reserveInto(state, request, out, idPrefix)
  }
  const commitInto = (request: CommitRequest, out: Float64Array, tail?: object): boolean => {
    assertOpen()
    return ledger.commitInto(state, request, out, tail)
  }
  const store: BudgetStore = {
    name: 'memory',
    reserve: (request) => apply(ledger.reserve, request),
    commit: (request) => apply(ledger.commit, request),
    release: (request) => apply(ledger.release, request),
    balances: (request) => run(() => ledger.balances(state, request)),
    reset: (request) => run(() => ledger.reset(state, request)),
    // Definitions, history and records cross the boundary as copies (sharing strings, which are immutable), so
    // callers cannot change stored state.
    getBudget: (scope) => run(() => cloneJson(ledger.getBudget(state, scope))),
    putBudget: (request) => run(() => cloneJson(ledger.putBudget(state, cloneJson(request)))),
    listBudgets: () => run(() => cloneJson(ledger.listBudgets(state))),
    getHistory: (scope) => run(() => cloneJson(ledger.getHistory(state, scope))),
    queryRecords: (query) => run(() => cloneJson(ledger.queryRecords(state, query))),
    queryRollups: (query) => run(() => ledger.queryRollups(state, query)),
    close: () => {
      closed = true
      return Promise.resolve()
    },
  }
  return withSyncLedger(store, {
    reserve: reserveInto,
    commit: commitInto,
  })
}
