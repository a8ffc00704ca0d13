/**
 * The ledger's state: balances per key, what it remembers of each call id, budget definitions, history and spend
 * records.
 *
 * @internal Used by the ledger.
 * @packageDocumentation
 */
import type { HistoryEntry, JsonValue } from '../types.js'
import { DEFAULT_ROLLUP_RETENTION_MS, type LedgerOptions } from './retention.js'
import type { ExpiryHeap } from './heap.js'
import { ManagerCalls } from './manager-calls.js'
import { RollupTable } from './rollup-table.js'
import { RecordTable } from './record-table.js'
import { emptyHeap, heapPush } from './heap.js'

/** Balance of one ledger key. Holds are kept per call (see {@link HeldCall}); the key keeps their sum. */
export interface KeyState {
  spent: number
  /** Sum of the live holds on this key. */
  reserved: number
  /** How many live holds are on this key (a key with holds is never forgotten). */
  holdCount: number
  expiresAt: number | null
}

/** A call that holds amounts and has not finished: `amounts[i]` is held on `keys[i]`. */
export interface HeldCall {
  keys: string[]
  amounts: number[]
  holdExpiresAt: number
}

/**
 * A released call, remembered until `holdExpiresAt` (a repeated reserve is a no-op; a later commit is still
 * applied). Shaped like {@link HeldCall} so that reading the call map stays monomorphic.
 */
export interface ReleasedCall {
  keys: null
  amounts: null
  holdExpiresAt: number
}

/**
 * What the ledger remembers of a call id: its holds, its release, or (a number) until when its commit is remembered,
 * kept as an offset from `callEpoch` (see {@link committedUntil}).
 */
export type CallState = HeldCall | ReleasedCall | number

/** Keeps a held or released call: in `managerCalls` when its id is of a manager's form, else in `calls`. */
export function keepCall(state: LedgerState, callId: string, call: HeldCall | ReleasedCall): void {
  if (!state.managerCalls.setOpen(callId, call)) state.calls.set(callId, call)
}

/**
 * What the ledger keeps of `callId`, in `calls` or (an id of a manager's form) in `managerCalls`, in one look-up: its
 * holds, its release, the offset of until when its commit is remembered in `calls`, `true` for a commit remembered in
 * `managerCalls`, or `undefined` (not known).
 */
export function findCall(state: LedgerState, callId: string, idPrefix?: string): CallState | true | undefined {
  if (state.calls.size > 0) {
    const call = state.calls.get(callId)
    if (call !== undefined) return call
  }
  return state.managerCalls.find(callId, idPrefix)
}

/** Whether a call still holds amounts. */
export function isHeld(call: CallState | true | undefined): call is HeldCall {
  return typeof call === 'object' && call.keys !== null
}

/**
 * A stored budget as the ledger keeps it: the fields of `StoredBudget` (in its order), then the scope's audit
 * history, so that a scope costs one map entry. The budget is handed out as a plain `StoredBudget`
 * (`storedBudget` in `definitions.ts`), never the slot itself.
 */
export interface BudgetSlot {
  scope: string
  definition: JsonValue
  revision: number
  createdAt: number
  /** `null` while equal to `createdAt` (never updated, the common case): one number box less per budget. */
  updatedAt: number | null
  /**
   * The `new` of the scope's first history entry when that entry is the plain creation of this budget
   * (`{ action: 'create', at: createdAt, old: null, reason: null }`, the common case), kept instead of the entry,
   * which is rebuilt when read; `undefined` otherwise.
   */
  created: JsonValue | undefined
  /** The scope's other history entries, oldest first: none, the entry itself, or a list from the second on. */
  history: HistoryEntry | HistoryEntry[] | null
}

/** The whole state of a ledger. */
export interface LedgerState {
  keys: Map<string, KeyState>
  /**
   * Every call id the ledger knows, in one map so that a call costs one lookup: calls with live holds, released
   * calls, and committed calls with until when they are remembered (a repeated commit is a no-op).
   */
  calls: Map<string, CallState>
  /**
   * Call ids of the form `BudgetManager` makes, kept without a map entry each (see `manager-calls.ts`); an id is in
   * `calls` or here, never both.
   */
  managerCalls: ManagerCalls<HeldCall | ReleasedCall>
  /**
   * The instant the `until` of committed calls is kept relative to in `calls`: a small integer there is kept
   * unboxed (a timestamp is not). Moved forward by the key sweep as time passes (`rebaseCalls`).
   */
  callEpoch: number
  /** The `until` of committed calls whose offset from `callEpoch` would not read back exactly (`NaN` in `calls`). */
  oddUntil: Map<string, number>
  /** How many entries of `calls` hold amounts. */
  heldCount: number
  /** When held calls expire. */
  holdExpiries: ExpiryHeap
  /** When finished (committed or released) call ids may be forgotten. */
  finishedExpiries: ExpiryHeap
  /** Stored budgets, each with its scope's audit history (see {@link BudgetSlot}). */
  budgets: Map<string, BudgetSlot>
  /**
   * Audit history of the scopes without a stored budget (deleted ones): the entry itself while a scope has one, a
   * list from the second on. A scope's history moves into its slot when its budget is stored again.
   */
  history: Map<string, HistoryEntry | HistoryEntry[]>
  /**
   * JSON objects of stored definitions and history entries by their text, so equal ones are kept once: a history
   * entry's `new` and the definition it wrote, and the many budgets that share one plan. Stored objects are never
   * changed in place (every store hands out copies), so sharing them is invisible. Bounded by {@link INTERN_MAX}.
   */
  interned: Map<string, JsonValue>
  /** Spend records in commit order, kept in columns (see `record-table.ts`). */
  records: RecordTable
  /** Oldest records are dropped beyond this many (Infinity: keep all). */
  maxRecords: number
  /** Records whose `endedAt` is older than this (ms before the sweep's `now`) are dropped (Infinity: keep all). */
  recordRetentionMs: number
  /** Daily rollups, by day, scope and model (see `rollups.ts`). */
  rollups: RollupTable
  /** Rollup days older than this (ms before the sweep's `now`) are dropped (Infinity: keep all). */
  rollupRetentionMs: number
  /** Records with `endedAt` at or after this are all kept; `null` until a record is dropped. */
  recordsFrom: number | null
  /** Rollup days starting at or after this are all kept; `null` until a rollup day is dropped. */
  rollupsFrom: number | null
  lastSweepAt: number
}

/** A fresh, empty ledger. */
export function createLedger(options: LedgerOptions = {}): LedgerState {
  const budgets = new Map<string, BudgetSlot>()
  return {
    keys: new Map(),
    calls: new Map(),
    managerCalls: new ManagerCalls(),
    callEpoch: Number.NaN,
    oddUntil: new Map(),
    heldCount: 0,
    holdExpiries: emptyHeap(),
    finishedExpiries: emptyHeap(),
    budgets,
    history: new Map(),
    interned: new Map(),
    records: new RecordTable(),
    maxRecords: options.maxRecords ?? Number.POSITIVE_INFINITY,
    recordRetentionMs: options.recordRetentionMs ?? Number.POSITIVE_INFINITY,
    // A new rollup row shares the scope string of the stored budget of its scope, when there is one.
    rollups: new RollupTable((scope) => budgets.get(scope)?.scope),
    rollupRetentionMs: options.rollupRetentionMs ?? DEFAULT_ROLLUP_RETENTION_MS,
    recordsFrom: null,
    rollupsFrom: null,
    lastSweepAt: Number.NEGATIVE_INFINITY,
  }
}

/** The largest offset from `callEpoch` kept (a Smi on every V8 platform); farther instants are kept as they are. */
const SMALL_OFFSET = 2 ** 30

/** Remembers a committed (or released) call id until `until`, replacing its holds or its release. */
export function finish(state: LedgerState, callId: string, until: number, committed: boolean): void {
  // An id of a manager's form, kept without an entry or a heap entry (its holds or its release are dropped).
  if (committed && state.managerCalls.set(callId, until)) {
    forgetCall(state, callId)
    return
  }
  if (committed) {
    // A number for a commit, not an object: a busy ledger remembers every call id of its dedupe window.
    state.managerCalls.deleteOpen(callId)
    state.calls.set(callId, untilOffset(state, callId, until))
  } else keepCall(state, callId, { keys: null, amounts: null, holdExpiresAt: until })
  heapPush(state.finishedExpiries, until, callId)
}

/** What `calls` keeps for a committed call remembered until `until`: its offset from `callEpoch`, or `NaN`. */
function untilOffset(state: LedgerState, callId: string, until: number): number {
  if (state.oddUntil.size > 0) state.oddUntil.delete(callId)
  if (Number.isNaN(state.callEpoch) && Number.isSafeInteger(until)) state.callEpoch = until
  const offset = until - state.callEpoch
  if (offset + state.callEpoch === until) return offset
  state.oddUntil.set(callId, until)
  return Number.NaN
}

/** Until when a committed call is remembered, from what `calls` keeps for it (see {@link untilOffset}). */
export function committedUntil(state: LedgerState, callId: string, kept: number): number {
  return Number.isNaN(kept) ? state.oddUntil.get(callId)! : state.callEpoch + kept
}

/** Forgets a finished call id. */
export function forgetCall(state: LedgerState, callId: string): void {
  if (state.calls.size > 0) state.calls.delete(callId)
  state.managerCalls.deleteOpen(callId)
  if (state.oddUntil.size > 0) state.oddUntil.delete(callId)
}

/**
 * Moves `callEpoch` to `now` once the offsets kept from it grow past a Smi (after about 12 days of ledger time), so
 * that the committed calls of a long-running ledger stay unboxed. O(calls remembered), at most once in that time.
 */
export function rebaseCalls(state: LedgerState, now: number): void {
  if (!(Math.abs(now - state.callEpoch) > SMALL_OFFSET / 2) || !Number.isSafeInteger(now)) return
  const before = state.callEpoch
  state.callEpoch = now
  for (const [callId, kept] of state.calls) {
    if (typeof kept === 'number' && !Number.isNaN(kept)) {
      state.calls.set(callId, untilOffset(state, callId, before + kept))
    }
  }
}
