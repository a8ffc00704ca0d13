/**
 * The synchronous side door of an in-process store: a store whose reserve and commit are synchronous transitions of
 * memory (the memory store) hands the manager the same operations without a promise, so a call admitted and
 * committed against it waits for nothing. The `BudgetStore` protocol is unchanged: the door is a non-enumerable
 * property under a module-private symbol, so a copy or wrapper of the store (`{ ...store }`, a tenant view, a test
 * double) does not carry it, and it is not used once the store's own `reserve` or `commit` was replaced.
 *
 * @internal Used by the memory store and the manager; not part of the public API.
 */
import type { Balance, BudgetStore, CommitRequest, ReserveRequest, ReserveResult } from './types.js'

/** Reserve and commit answered synchronously (a failure is thrown, as the promise would have rejected). */
export interface SyncLedger {
  /**
   * The reservation, its balances written flat into `out` (spent and reserved of entry `i` at `2 * i` and
   * `2 * i + 1`; the caller makes room for two per entry). Answers {@link RESERVED}, {@link RESERVED_BEFORE} (nothing changed),
   * else the index of the entry that refused the call. `idPrefix`, when given, is how the request's call id starts,
   * vouched for by the caller (a manager's `<16 base-36 characters>-`, for an id it made): the store may take it
   * for the id's first characters without reading them.
   */
  reserve(request: ReserveRequest, out: Float64Array, idPrefix?: string): number
  /**
   * The commit, its balances written flat into `out` (before, after and reserved of entry `i` at `3 * i`,
   * `3 * i + 1`, `3 * i + 2`; the caller makes room for three per entry) rather than as objects. Returns
   * `duplicate`. `tail`, when given, is a token of the record's fields after `endedAt`: every record committed with
   * the same token has the same fields there, in the same order, with the same values (`Object.is`), so the store
   * may keep them once without comparing.
   */
  commit(request: CommitRequest, out: Float64Array, tail?: object): boolean
}

/** `SyncLedger.reserve`'s answer when the reservation was made now. */
export const RESERVED = -1
/** `SyncLedger.reserve`'s answer when the call id was reserved (or finished) before: nothing changed. */
export const RESERVED_BEFORE = -2

interface Door {
  ledger: SyncLedger
  /** The store's own methods when the door was made: the door is used only while they are still in place. */
  reserve: BudgetStore['reserve']
  commit: BudgetStore['commit']
}

const SYNC_LEDGER = Symbol('llm-budget.syncLedger')

/** Gives `store` its synchronous side door (returns `store`). */
export function withSyncLedger<S extends BudgetStore>(store: S, ledger: SyncLedger): S {
  const door: Door = { ledger, reserve: store.reserve, commit: store.commit }
  Object.defineProperty(store, SYNC_LEDGER, { value: door, enumerable: false })
  return store
}

/** The synchronous side door of a store, when it has its own (not inherited or copied) and its methods are its own. */
export function syncLedgerOf(store: BudgetStore): SyncLedger | undefined {
  if (!Object.prototype.hasOwnProperty.call(store, SYNC_LEDGER)) return undefined
  const door = (store as unknown as Record<symbol, Door>)[SYNC_LEDGER]!
  return door.reserve === store.reserve && door.commit === store.commit ? door.ledger : undefined
}

/** The answer of {@link SyncLedger.reserve} and its flat balances as a store's `ReserveResult`. */
export function reserveResultOf(answer: number, flat: Float64Array, n: number): ReserveResult {
  const balances: Balance[] = new Array(n)
  for (let i = 0; i < n; i++) balances[i] = { spent: flat[2 * i]!, reserved: flat[2 * i + 1]! }
  if (answer >= 0) return { ok: false, refusedIndex: answer, balances }
  return { ok: true, duplicate: answer === RESERVED_BEFORE, balances }
}

/** Flat balance arrays free for the next synchronous operation (a listener's call made meanwhile takes another). */
const free: Float64Array[] = []

/** A flat balances array with room for `size` numbers, a free one when there is one; give it back with {@link giveFlat}. */
export function takeFlat(size: number): Float64Array {
  const flat = free.pop()
  if (flat === undefined) return new Float64Array(Math.max(size, 24))
  if (flat.length >= size) return flat
  // Too small for this call: a larger one takes its place once given back (the pool's arrays only grow).
  return new Float64Array(Math.max(size, 2 * flat.length))
}

/** Gives back an array {@link takeFlat} handed out, once its numbers are read. */
export function giveFlat(flat: Float64Array): void {
  if (free.length < 4) free.push(flat)
}
