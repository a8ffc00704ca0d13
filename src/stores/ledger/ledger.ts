/**
 * The ledger's state transitions as plain functions over plain data: reserve, commit, release, reset, balances,
 * records, and the sweep of expired holds and keys. No I/O, no clock: the time comes in every request. The memory
 * store calls these directly; the file store journals each request and replays it through the same functions on
 * recovery, so both agree by construction. The state, validation, the expiry heaps, budget definitions and
 * snapshots are in the modules next to this one, re-exported here.
 *
 * Each function validates its request first and changes nothing when the request is invalid.
 *
 * @internal Used by the stores; not part of the public API.
 */
import type {
  Balance,
  BalancesRequest,
  CommitBalance,
  CommitRequest,
  CommitResult,
  RecordQuery,
  ReleaseRequest,
  ReleaseResult,
  ReserveEntry,
  ReserveRequest,
  ReserveResult,
  ResetRequest,
  RollupQuery,
  RollupResult,
  SpendRecord,
} from '../types.js'
import { RELEASE_TOMBSTONE_MS } from '../types.js'
import { emptyHeap, heapDue, heapPop, heapPush } from './heap.js'
import { committedUntil, findCall, finish, forgetCall, isHeld, keepCall, rebaseCalls } from './state.js'
import type { HeldCall, KeyState, LedgerState } from './state.js'
import { RESERVED, RESERVED_BEFORE, reserveResultOf } from '../sync-ledger.js'
import { checkAmount, fail, validateCommit, validateKeys, validateRelease, validateReserve } from './validation.js'
import { selectRollups } from './rollups.js'
import { applyRetention, noteDropped } from './retention.js'

export type { ExpiryHeap } from './heap.js'
export * from './state.js'
export * from './validation.js'
export { getBudget, getHistory, INTERN_MAX, listBudgets, putBudget } from './definitions.js'
export { restoreLedger, snapshotLedger } from './snapshot.js'
export { DEFAULT_ROLLUP_RETENTION_MS } from './retention.js'

/** How often (ms of ledger time) the whole state is swept of expired keys and call ids. */
export const SWEEP_INTERVAL_MS = 60_000

/** Drops the holds and forgets the finished call ids that are due at `now`. Runs at the start of every change. */
function expire(state: LedgerState, now: number): void {
  state.managerCalls.advance(now)
  const holds = state.holdExpiries
  while (holds.at.length > 0 && holds.at[0]! <= now) {
    const callId = heapPop(holds)
    const call = findCall(state, callId)
    if (isHeld(call) && call.holdExpiresAt <= now) {
      dropHolds(state, call, now)
      forgetCall(state, callId)
    }
  }
  const finished = state.finishedExpiries
  while (finished.at.length > 0 && finished.at[0]! <= now) {
    const callId = heapPop(finished)
    const call = findCall(state, callId)
    if (call === undefined || call === true || isHeld(call)) continue
    if ((typeof call === 'number' ? committedUntil(state, callId, call) : call.holdExpiresAt) <= now)
      forgetCall(state, callId)
  }
  // Finished calls leave stale entries in the hold expiry heap; rebuild it when they outnumber the live ones, so
  // the heap stays proportional to the calls in flight (amortized O(1) per call).
  const heap = state.holdExpiries
  if (heap.at.length > 1024 && heap.at.length > 4 * state.heldCount) rebuildHoldHeap(state)
  if (now >= state.lastSweepAt + SWEEP_INTERVAL_MS) sweepKeys(state, now)
}

/** Whether a key is to be forgotten at `now`: past its expiry, with `holdCount` holds left (none). */
function isForgotten(ks: KeyState, now: number, holdCount = ks.holdCount): boolean {
  return holdCount === 0 && ks.expiresAt !== null && ks.expiresAt <= now
}

/** The key if it still counts at `now`; a key past its expiry with no hold is forgotten. */
function liveKey(state: LedgerState, key: string, now: number): KeyState | undefined {
  const ks = state.keys.get(key)
  if (ks !== undefined && isForgotten(ks, now)) {
    state.keys.delete(key)
    return undefined
  }
  return ks
}

function ensureKey(state: LedgerState, key: string, now: number): KeyState {
  let ks = liveKey(state, key, now)
  if (ks === undefined) {
    ks = { spent: 0, reserved: 0, holdCount: 0, expiresAt: null }
    state.keys.set(key, ks)
  }
  return ks
}

function laterExpiry(current: number | null, incoming: number | null, isNew: boolean): number | null {
  if (isNew) return incoming
  if (current === null || incoming === null) return null
  return Math.max(current, incoming)
}

function balanceOf(ks: KeyState | undefined): Balance {
  return ks === undefined ? { spent: 0, reserved: 0 } : { spent: ks.spent, reserved: ks.reserved }
}

/**
 * The last hold made (by any ledger of this process) and the key states it holds (`heldStates[i]` is its ledger's
 * `keys.get(hold.keys[i])`), so that ending it (usually the next change: a sequential caller commits the call it
 * has just reserved) reads its keys without looking them up again: 8 of the 15 `Map#get` of a withBudget call. They
 * stay the map's objects while the hold lasts, since a key with holds is never forgotten (see {@link isForgotten}),
 * the only way a key leaves the map; a held call's object belongs to one ledger. Let go of when the hold ends or the
 * next hold replaces it.
 */
let heldCall: HeldCall | undefined
const heldStates: (KeyState | undefined)[] = []

/** The key states of `call`'s hold when it is the last hold made (see {@link heldStates}). */
function statesOf(call: HeldCall): (KeyState | undefined)[] | undefined {
  return call === heldCall ? heldStates : undefined
}

/** Takes a held call's amounts off its keys (the caller replaces or deletes its entry in `calls`). */
function dropHolds(state: LedgerState, call: HeldCall, now: number): void {
  const states = statesOf(call)
  if (states !== undefined) heldCall = undefined
  for (let i = 0; i < call.keys.length; i++) {
    const key = call.keys[i]!
    const ks = states !== undefined ? states[i] : state.keys.get(key)
    if (ks === undefined) continue
    ks.reserved -= call.amounts[i]!
    ks.holdCount--
    // What `liveKey` would do, without looking the key up again.
    if (isForgotten(ks, now)) state.keys.delete(key)
  }
  state.heldCount--
  if (states !== undefined) for (let i = 0; i < call.keys.length; i++) states[i] = undefined
}

/** The hold expiry heap without the entries of calls that no longer hold (O(heap), not O(calls remembered)). */
function rebuildHoldHeap(state: LedgerState): void {
  const old = state.holdExpiries
  const heap = emptyHeap()
  for (let i = 0; i < old.at.length; i++) {
    const callId = old.ids[i]!
    const call = findCall(state, callId)
    if (isHeld(call) && call.holdExpiresAt === old.at[i]) heapPush(heap, old.at[i]!, callId)
  }
  state.holdExpiries = heap
}

/**
 * The keys and amounts of the last hold made (by any ledger of this process). A caller that reserves the same
 * entries again and again (withBudget with a static context) gets the same two arrays for each of its held calls
 * instead of two new ones: they are never changed once made, and snapshots copy them.
 */
let lastHold: { keys: string[]; amounts: number[] } = { keys: [], amounts: [] }

/** The keys and amounts of a hold of `entries`: the last ones when they are equal, else new ones (kept as the last). */
function holdOf(entries: readonly ReserveEntry[]): { keys: string[]; amounts: number[] } {
  const n = entries.length
  const last = lastHold
  let same = last.keys.length === n
  for (let i = 0; i < n && same; i++) same = entries[i]!.key === last.keys[i] && entries[i]!.amount === last.amounts[i]
  if (same) return last
  const keys: string[] = new Array(n)
  const amounts: number[] = new Array(n)
  for (let i = 0; i < n; i++) {
    keys[i] = entries[i]!.key
    amounts[i] = entries[i]!.amount
  }
  lastHold = { keys, amounts }
  return lastHold
}

const NO_KEYS: readonly string[] = []

/** The key states `applyReserve` read, by entry (cleared after each use, so that it keeps none alive). */
const current: (KeyState | undefined)[] = []

/**
 * {@link dropHolds} for a call that ends before its hold expires (committed or released), and its hold expiry taken
 * off the heap when it is the heap's last entry (a caller that reserves and ends calls one by one keeps the heap
 * empty instead of rebuilding it); any other entry of it stays until due or rebuilt.
 */
function endHold(state: LedgerState, callId: string, call: HeldCall, now: number): void {
  dropHolds(state, call, now)
  const heap = state.holdExpiries
  const last = heap.ids.length - 1
  if (last >= 0 && heap.ids[last] === callId) {
    heap.ids.pop()
    heap.at.pop()
  }
}

/** Reserve all entries or none. See {@link ReserveRequest}. */
export function reserve(state: LedgerState, request: ReserveRequest): ReserveResult {
  validateReserve(request)
  const n = request.entries.length
  const out = new Float64Array(2 * n)
  return reserveResultOf(applyReserve(state, request, out), out, n)
}

/**
 * {@link reserve} with the balances written flat into `out` (spent and reserved of entry `i` at `2 * i` and
 * `2 * i + 1`; at least two numbers per entry) instead of objects: the memory store's synchronous path. Answers
 * `RESERVED`, `RESERVED_BEFORE` (see `sync-ledger.ts`), or the index of the entry that refused the call. `idPrefix`:
 * see `SyncLedger.reserve`.
 */
export function reserveInto(state: LedgerState, request: ReserveRequest, out: Float64Array, idPrefix?: string): number {
  validateReserve(request)
  if (out.length < 2 * request.entries.length) fail('entries', 'more entries than the balances can hold')
  return applyReserve(state, request, out, idPrefix)
}

function writeBalance(out: Float64Array, i: number, ks: KeyState | undefined): void {
  out[2 * i] = ks === undefined ? 0 : ks.spent
  out[2 * i + 1] = ks === undefined ? 0 : ks.reserved
}

/** Lets go of the key states a reservation read (a loop: `Array#fill` over a few slots was 1.6% of a withBudget call). */
function clearCurrent(n: number): void {
  for (let i = 0; i < n; i++) current[i] = undefined
}

/** The reservation of a validated request; see {@link reserveInto}. */
function applyReserve(state: LedgerState, request: ReserveRequest, out: Float64Array, idPrefix?: string): number {
  const { callId, now, entries } = request
  expire(state, now)
  if (findCall(state, callId, idPrefix) !== undefined) {
    for (let i = 0; i < entries.length; i++) writeBalance(out, i, liveKey(state, entries[i]!.key, now))
    return RESERVED_BEFORE
  }
  const refused = readKeys(state, entries, now)
  if (refused >= 0) {
    for (let j = 0; j < entries.length; j++)
      writeBalance(out, j, j <= refused ? current[j] : liveKey(state, entries[j]!.key, now))
    clearCurrent(entries.length)
    return refused
  }
  // The previous hold's key states are replaced by this one's (the ledger still has them in its map).
  heldCall = undefined
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const existing = current[i]
    const ks = existing ?? ensureKey(state, entry.key, now)
    ks.expiresAt = laterExpiry(ks.expiresAt, entry.expiresAt, existing === undefined)
    ks.reserved += entry.amount
    ks.holdCount++
    writeBalance(out, i, ks)
    heldStates[i] = ks
  }
  clearCurrent(entries.length)
  const { keys, amounts } = holdOf(entries)
  const call: HeldCall = { keys, amounts, holdExpiresAt: request.holdExpiresAt }
  heldCall = call
  keepCall(state, callId, call)
  state.heldCount++
  heapPush(state.holdExpiries, request.holdExpiresAt, callId)
  if (request.holdExpiresAt <= now) expire(state, now)
  return RESERVED
}

/**
 * Reads the key state of each entry into `current` and checks its limit: the index of the first entry the
 * reservation would take over its limit, else -1. Throws when a total without a limit would not be exact.
 */
function readKeys(state: LedgerState, entries: readonly ReserveEntry[], now: number): number {
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const ks = liveKey(state, entry.key, now)
    current[i] = ks
    const total = (ks === undefined ? 0 : ks.spent + ks.reserved) + entry.amount
    // A limit is a safe integer, so a total past the largest exact amount is over it: a refusal, not an error.
    if (!Number.isSafeInteger(total) && entry.limit === null) {
      clearCurrent(entries.length)
      fail(
        `entries[${i}].amount`,
        `reserving ${entry.amount} on ${entry.key} would exceed the largest exact amount (${Number.MAX_SAFE_INTEGER})`,
      )
    }
    if (entry.limit !== null && total > entry.limit) return i
  }
  return -1
}

/** Remove the call's holds and add the actual amounts. See {@link CommitRequest}. */
export function commit(state: LedgerState, request: CommitRequest): CommitResult {
  validateCommit(request)
  const n = request.entries.length
  const out = new Float64Array(3 * n)
  const duplicate = applyCommit(state, request, out)
  const balances: CommitBalance[] = new Array(n)
  for (let i = 0; i < n; i++) balances[i] = { before: out[3 * i]!, after: out[3 * i + 1]!, reserved: out[3 * i + 2]! }
  return { duplicate, balances }
}

/**
 * {@link commit} with the balances written flat into `out` (before, after and reserved of entry `i` at `3 * i`,
 * `3 * i + 1` and `3 * i + 2`; at least three numbers per entry) instead of objects: the memory store's
 * synchronous path. Returns whether the call id was already committed. `tail`: see `SyncLedger.commit`.
 */
export function commitInto(state: LedgerState, request: CommitRequest, out: Float64Array, tail?: object): boolean {
  validateCommit(request)
  if (out.length < 3 * request.entries.length) fail('entries', 'more entries than the balances can hold')
  return applyCommit(state, request, out, tail)
}

/** The commit of a validated request; see {@link commitInto}. */
function applyCommit(state: LedgerState, request: CommitRequest, out: Float64Array, tail?: object): boolean {
  const { callId, now, entries } = request
  expire(state, now)
  const known = findCall(state, callId)
  if (typeof known === 'number' || known === true) {
    for (let i = 0; i < entries.length; i++) {
      const ks = liveKey(state, entries[i]!.key, now)
      out[3 * i] = out[3 * i + 1] = ks === undefined ? 0 : ks.spent
      out[3 * i + 2] = ks === undefined ? 0 : ks.reserved
    }
    return true
  }
  // `current` (module scratch) holds the key states read until the commit is applied or refused.
  try {
    // The key states of the call's own hold, when it is the last one made: the first entries are usually its keys.
    let held: (KeyState | undefined)[] | undefined
    let heldKeys: readonly string[] = NO_KEYS
    if (isHeld(known)) {
      held = statesOf(known)
      if (held !== undefined) heldKeys = known.keys
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      // What `liveKey` would answer: a key this call holds is in the map and not forgotten.
      const ks = i < heldKeys.length && entry.key === heldKeys[i] ? held![i] : liveKey(state, entry.key, now)
      current[i] = ks
      const spent = ks === undefined ? 0 : ks.spent
      if (!Number.isSafeInteger(spent + entry.amount)) {
        fail(
          `entries[${i}].amount`,
          `adding ${entry.amount} to ${entry.key} would exceed the largest exact amount (${Number.MAX_SAFE_INTEGER})`,
        )
      }
    }
    // The rollups are added first: they check their sums before changing anything, so a refusal changes nothing.
    if (request.record !== undefined) state.rollups.add(request.record)
    if (isHeld(known)) {
      endHold(state, callId, known, now)
    }
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      // The key state read above, unless ending the hold forgot it (a forgotten key is deleted when it is found so).
      const read = current[i]
      const existing = read !== undefined && !isForgotten(read, now) ? read : liveKey(state, entry.key, now)
      const ks = existing ?? ensureKey(state, entry.key, now)
      ks.expiresAt = laterExpiry(ks.expiresAt, entry.expiresAt, existing === undefined)
      const before = ks.spent
      ks.spent = before + entry.amount
      out[3 * i] = before
      out[3 * i + 1] = ks.spent
      out[3 * i + 2] = ks.reserved
    }
  } finally {
    clearCurrent(entries.length)
  }
  finish(state, callId, Math.max(request.dedupeUntil, now), true)
  if (request.record !== undefined) appendRecord(state, request.record, tail)
  return false
}

function appendRecord(state: LedgerState, record: SpendRecord, tail: object | undefined): void {
  const records = state.records
  // The commit has just looked its call id up: an id of a manager's form gives its prefix and counter from there.
  const calls = state.managerCalls
  const stem = calls.stemIfLast(record.callId)
  records.push(record, stem, stem === undefined ? undefined : calls.lastCounter, tail)
  const excess = records.length - state.maxRecords
  // Drop in batches so that a full buffer does not shift the columns on every commit; each call-id namespace
  // (a server tenant) keeps its fair share of the cap. The records dropped move the record coverage.
  if (excess > 0 && excess >= Math.max(1, Math.floor(state.maxRecords / 16))) {
    noteDropped(state, records.trim(state.maxRecords))
  }
}

/** Daily rollups and how far back the records and rollups are complete. Reads only. */
export function queryRollups(state: LedgerState, query: RollupQuery): RollupResult {
  return { rows: selectRollups(state.rollups, query), recordsFrom: state.recordsFrom, rollupsFrom: state.rollupsFrom }
}

/** Drop the call's holds. See {@link ReleaseRequest}. */
export function release(state: LedgerState, request: ReleaseRequest): ReleaseResult {
  validateRelease(request)
  const { callId, now } = request
  expire(state, now)
  const call = findCall(state, callId)
  if (call === true) return { released: false }
  if (call === undefined) {
    // Never seen: a tombstone, so that the reservation, if it arrives late, changes nothing.
    finish(state, callId, Math.max(request.holdExpiresAt ?? now + RELEASE_TOMBSTONE_MS, now), false)
    return { released: false }
  }
  if (!isHeld(call)) return { released: false }
  endHold(state, callId, call, now)
  finish(state, callId, Math.max(call.holdExpiresAt, now), false)
  return { released: true }
}

/** Current balances of keys. */
export function balances(state: LedgerState, request: BalancesRequest): Balance[] {
  validateKeys(request)
  expire(state, request.now)
  return request.keys.map((key) => balanceOf(liveKey(state, key, request.now)))
}

/**
 * Balances of keys at `now` without changing the state: the same answer as {@link balances}. For stores whose
 * reads must not change what a replay of their journal rebuilds (the file store).
 */
export function peekBalances(state: LedgerState, request: BalancesRequest): Balance[] {
  validateKeys(request)
  const { now } = request
  // Holds that are due at `now` but not yet dropped (no change has run at this instant yet). A call id can have
  // two heap entries at one instant (held, forgotten, held again until the same expiry): each hold counts once.
  const due = new Map<string, { amount: number; holds: number }>()
  for (const callId of new Set(heapDue(state.holdExpiries, now))) {
    const call = findCall(state, callId)
    if (!isHeld(call) || call.holdExpiresAt > now) continue
    for (let i = 0; i < call.keys.length; i++) {
      const d = due.get(call.keys[i]!) ?? { amount: 0, holds: 0 }
      d.amount += call.amounts[i]!
      d.holds++
      due.set(call.keys[i]!, d)
    }
  }
  return request.keys.map((key) => {
    const ks = state.keys.get(key)
    if (ks === undefined) return { spent: 0, reserved: 0 }
    const d = due.get(key)
    const holdCount = ks.holdCount - (d?.holds ?? 0)
    if (isForgotten(ks, now, holdCount)) return { spent: 0, reserved: 0 }
    return { spent: ks.spent, reserved: ks.reserved - (d?.amount ?? 0) }
  })
}

/** Set keys' spend to zero, keeping holds. */
export function reset(state: LedgerState, request: ResetRequest): void {
  validateKeys(request)
  expire(state, request.now)
  for (const key of request.keys) {
    const ks = liveKey(state, key, request.now)
    if (ks !== undefined) ks.spent = 0
  }
}

/** Spend records by `endedAt`, oldest first. */
export function queryRecords(state: LedgerState, query: RecordQuery): SpendRecord[] {
  const from = query.from ?? Number.NEGATIVE_INFINITY
  const to = query.to ?? Number.POSITIVE_INFINITY
  if (Number.isNaN(from) || Number.isNaN(to)) fail('from', '`from` and `to` must be numbers of epoch milliseconds')
  if (query.limit !== undefined) checkAmount('limit', query.limit)
  const records = state.records
  const found: number[] = []
  for (let i = 0; i < records.length; i++) {
    const endedAt = records.endedAt(i)
    if (endedAt >= from && endedAt < to) found.push(i)
  }
  // Stable: records that ended at the same instant stay in the order they were written.
  found.sort((a, b) => records.endedAt(a) - records.endedAt(b) || a - b)
  const n = query.limit === undefined ? found.length : Math.min(query.limit, found.length)
  const out: SpendRecord[] = new Array(n)
  for (let i = 0; i < n; i++) out[i] = records.at(found[i]!)
  return out
}

/** Forgets keys past their expiry that hold nothing; runs at most once per {@link SWEEP_INTERVAL_MS} of ledger time. */
function sweepKeys(state: LedgerState, now: number): void {
  state.lastSweepAt = now
  applyRetention(state, now)
  rebaseCalls(state, now)
  state.managerCalls.sweep()
  for (const [key, ks] of state.keys) {
    if (isForgotten(ks, now)) state.keys.delete(key)
  }
}
