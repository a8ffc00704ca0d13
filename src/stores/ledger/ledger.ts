/**
 * The ledger's state transitions as plain functions over plain data: reserve, commit, release, reset,
 * budget definitions, records, and the sweep of expired holds and keys. No I/O, no clock: the time comes in
 * every request. The memory store calls these directly; the file store journals each request and replays it
 * through the same functions on recovery, so both agree by construction.
 *
 * Each function validates its request first and changes nothing when the request is invalid.
 *
 * @internal Used by the stores; not part of the public API.
 */
import { InvalidInputError } from '../../errors.js'
import { flatString } from './keys.js'
import { addRollups, checkRollupFits, rollupDeltas, selectRollups } from './rollups.js'
import { DEFAULT_ROLLUP_RETENTION_MS, type LedgerOptions, applyRetention, noteDropped, restoreRollups } from './retention.js'
export { DEFAULT_ROLLUP_RETENTION_MS } from './retention.js'
import type {
  Balance,
  BalancesRequest,
  CommitBalance,
  CommitRequest,
  CommitResult,
  HistoryEntry,
  JsonValue,
  PutBudgetRequest,
  PutBudgetResult,
  RecordQuery,
  ReleaseRequest,
  RollupQuery,
  RollupResult,
  RollupRow,
  ReleaseResult,
  ReserveRequest,
  ReserveResult,
  ResetRequest,
  SpendRecord,
  StoredBudget,
} from '../types.js'
import { RELEASE_TOMBSTONE_MS } from '../types.js'

/** Longest accepted ledger key. */
export const MAX_KEY_LENGTH = 512
/** Longest accepted call id. */
export const MAX_CALL_ID_LENGTH = 200
/** Longest accepted scope string (`type:id`). */
export const MAX_SCOPE_LENGTH = 512
/** Most entries in one reserve or commit. */
export const MAX_ENTRIES = 256
/** Most distinct JSON objects a ledger shares between stored definitions and history entries (then it starts over). */
export const INTERN_MAX = 1024
/** Longest JSON text of an object that is shared rather than kept per budget. */
const INTERN_MAX_TEXT = 2048
/** How often (ms of ledger time) the whole state is swept of expired keys and call ids. */
export const SWEEP_INTERVAL_MS = 60_000

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

/** What the ledger remembers of a call id: its holds, its release, or (a number) until when its commit is remembered. */
export type CallState = HeldCall | ReleasedCall | number

function isHeld(call: CallState | undefined): call is HeldCall {
  return typeof call === 'object' && call.keys !== null
}

/**
 * A binary min-heap of (instant, call id) in two parallel arrays: no allocation per entry. Entries are never
 * removed early; a popped entry is checked against the current state and ignored when stale.
 */
export interface ExpiryHeap {
  at: number[]
  ids: string[]
}

/** The whole state of a ledger. */
export interface LedgerState {
  keys: Map<string, KeyState>
  /**
   * Every call id the ledger knows, in one map so that a call costs one lookup: calls with live holds, released
   * calls, and committed calls with until when they are remembered (a repeated commit is a no-op).
   */
  calls: Map<string, CallState>
  /** How many entries of `calls` hold amounts. */
  heldCount: number
  /** When held calls expire. */
  holdExpiries: ExpiryHeap
  /** When finished (committed or released) call ids may be forgotten. */
  finishedExpiries: ExpiryHeap
  budgets: Map<string, StoredBudget>
  /** Audit history per scope: the entry itself while a scope has one (most have), a list from the second on. */
  history: Map<string, HistoryEntry | HistoryEntry[]>
  /**
   * JSON objects of stored definitions and history entries by their text, so equal ones are kept once: a history
   * entry's `new` and the definition it wrote, and the many budgets that share one plan. Stored objects are never
   * changed in place (every store hands out copies), so sharing them is invisible. Bounded by {@link INTERN_MAX}.
   */
  interned: Map<string, JsonValue>
  records: SpendRecord[]
  /** Oldest records are dropped beyond this many (Infinity: keep all). */
  maxRecords: number
  /** Records whose `endedAt` is older than this (ms before the sweep's `now`) are dropped (Infinity: keep all). */
  recordRetentionMs: number
  /** Daily rollups, by day, scope and model (see `rollups.ts`). */
  rollups: Map<string, RollupRow>
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
  return {
    keys: new Map(),
    calls: new Map(),
    heldCount: 0,
    holdExpiries: { at: [], ids: [] },
    finishedExpiries: { at: [], ids: [] },
    budgets: new Map(),
    history: new Map(),
    interned: new Map(),
    records: [],
    maxRecords: options.maxRecords ?? Number.POSITIVE_INFINITY,
    recordRetentionMs: options.recordRetentionMs ?? Number.POSITIVE_INFINITY,
    rollups: new Map(),
    rollupRetentionMs: options.rollupRetentionMs ?? DEFAULT_ROLLUP_RETENTION_MS,
    recordsFrom: null,
    rollupsFrom: null,
    lastSweepAt: Number.NEGATIVE_INFINITY,
  }
}

// ---------------------------------------------------------------------------------------------------------
// Validation (exported: remote stores validate before sending)

function fail(field: string, message: string): never {
  throw new InvalidInputError(field, message)
}

function describe(value: unknown): string {
  if (typeof value === 'string') return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value)
  if (typeof value === 'number') return String(value)
  return value === null ? 'null' : typeof value
}

function checkString(field: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > max) {
    fail(field, `\`${field}\` must be a string of 1 to ${max} characters, got ${describe(value)}`)
  }
  return value
}

function checkTime(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    fail(field, `\`${field}\` must be a finite number of epoch milliseconds, got ${describe(value)}`)
  }
  return value
}

function checkAmount(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    fail(field, `\`${field}\` must be a non-negative safe integer, got ${describe(value)}`)
  }
  return value
}

function isAmount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
}

function isTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value)
}

function isKey(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_KEY_LENGTH
}

// The happy path below allocates nothing: field names are built only when a check fails.
function checkEntries(field: string, value: unknown, min: number, withLimit: boolean): void {
  if (!Array.isArray(value) || value.length < min || value.length > MAX_ENTRIES) {
    fail(field, `\`${field}\` must be an array of ${min} to ${MAX_ENTRIES} entries`)
  }
  for (let i = 0; i < value.length; i++) {
    const entry: unknown = value[i]
    if (typeof entry !== 'object' || entry === null) fail(`${field}[${i}]`, `\`${field}[${i}]\` must be an object`)
    const { key, amount, expiresAt } = entry as Record<string, unknown>
    if (!isKey(key)) checkString(`${field}[${i}].key`, key, MAX_KEY_LENGTH)
    if (!isAmount(amount)) checkAmount(`${field}[${i}].amount`, amount)
    if (withLimit) {
      const limit = (entry as Record<string, unknown>).limit
      if (limit !== null && !isAmount(limit)) checkAmount(`${field}[${i}].limit`, limit)
    }
    if (expiresAt !== null && !isTime(expiresAt)) checkTime(`${field}[${i}].expiresAt`, expiresAt)
    // Duplicate keys: a quadratic scan is cheaper than a Set for the handful of keys a call has.
    for (let j = 0; j < i; j++) {
      if ((value[j] as { key: unknown }).key === key) fail(`${field}[${i}].key`, `\`${field}\` lists the key ${JSON.stringify(key)} twice`)
    }
  }
}

/** Throws `InvalidInputError` unless the request is well formed. */
export function validateReserve(request: ReserveRequest): void {
  if (typeof request !== 'object' || request === null) fail('request', 'the request must be an object')
  checkString('callId', request.callId, MAX_CALL_ID_LENGTH)
  if (!isTime(request.now)) checkTime('now', request.now)
  if (!isTime(request.holdExpiresAt)) checkTime('holdExpiresAt', request.holdExpiresAt)
  checkEntries('entries', request.entries, 1, true)
}

/** Throws `InvalidInputError` unless the request is well formed. */
export function validateCommit(request: CommitRequest): void {
  if (typeof request !== 'object' || request === null) fail('request', 'the request must be an object')
  checkString('callId', request.callId, MAX_CALL_ID_LENGTH)
  if (!isTime(request.now)) checkTime('now', request.now)
  if (!isTime(request.dedupeUntil)) checkTime('dedupeUntil', request.dedupeUntil)
  checkEntries('entries', request.entries, 0, false)
  if (request.record !== undefined) {
    const record = request.record
    if (typeof record !== 'object' || record === null || Array.isArray(record)) fail('record', '`record` must be an object')
    if (record.callId !== request.callId) fail('record.callId', '`record.callId` must equal the request\'s `callId`')
    checkTime('record.startedAt', record.startedAt)
    checkTime('record.endedAt', record.endedAt)
  }
}

/** Throws `InvalidInputError` unless the request is well formed. */
export function validateRelease(request: ReleaseRequest): void {
  if (typeof request !== 'object' || request === null) fail('request', 'the request must be an object')
  checkString('callId', request.callId, MAX_CALL_ID_LENGTH)
  checkTime('now', request.now)
  if (request.holdExpiresAt !== undefined) checkTime('holdExpiresAt', request.holdExpiresAt)
}

/** Throws `InvalidInputError` unless the request is well formed. */
export function validateKeys(request: BalancesRequest | ResetRequest): void {
  checkTime('now', request?.now)
  if (!Array.isArray(request.keys) || request.keys.length > 10_000) fail('keys', '`keys` must be an array of at most 10000 keys')
  for (let i = 0; i < request.keys.length; i++) checkString(`keys[${i}]`, request.keys[i], MAX_KEY_LENGTH)
}

/** Throws `InvalidInputError` unless the scope string is well formed. */
export function validateScope(scope: unknown): string {
  return checkString('scope', scope, MAX_SCOPE_LENGTH)
}

/** Throws `InvalidInputError` unless the request is well formed. */
export function validatePutBudget(request: PutBudgetRequest): void {
  validateScope(request?.scope)
  checkTime('now', request.now)
  if (request.ifRevision !== undefined) checkAmount('ifRevision', request.ifRevision)
  const history = request.history
  if (typeof history !== 'object' || history === null) fail('history', '`history` must be an object')
  if (history.scope !== request.scope) fail('history.scope', '`history.scope` must equal `scope`')
  checkTime('history.at', history.at)
}

// ---------------------------------------------------------------------------------------------------------
// Transitions

function heapPush(heap: ExpiryHeap, at: number, id: string): void {
  let i = heap.at.length
  heap.at.push(at)
  heap.ids.push(id)
  while (i > 0) {
    const parent = (i - 1) >> 1
    if (heap.at[parent]! <= at) break
    heap.at[i] = heap.at[parent]!
    heap.ids[i] = heap.ids[parent]!
    i = parent
  }
  heap.at[i] = at
  heap.ids[i] = id
}

function heapPop(heap: ExpiryHeap): string {
  const top = heap.ids[0]!
  const lastAt = heap.at.pop()!
  const lastId = heap.ids.pop()!
  const n = heap.at.length
  if (n > 0) {
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && heap.at[right]! < heap.at[left]! ? right : left
      if (heap.at[child]! >= lastAt) break
      heap.at[i] = heap.at[child]!
      heap.ids[i] = heap.ids[child]!
      i = child
    }
    heap.at[i] = lastAt
    heap.ids[i] = lastId
  }
  return top
}

/** Ids of heap entries due at `now`, without changing the heap (depth-first over the due part only). */
function heapDue(heap: ExpiryHeap, now: number): string[] {
  const due: string[] = []
  const stack = heap.at.length > 0 && heap.at[0]! <= now ? [0] : []
  while (stack.length > 0) {
    const i = stack.pop()!
    due.push(heap.ids[i]!)
    for (const child of [2 * i + 1, 2 * i + 2]) if (child < heap.at.length && heap.at[child]! <= now) stack.push(child)
  }
  return due
}

/** Drops the holds and forgets the finished call ids that are due at `now`. Runs at the start of every change. */
function expire(state: LedgerState, now: number): void {
  const holds = state.holdExpiries
  while (holds.at.length > 0 && holds.at[0]! <= now) {
    const callId = heapPop(holds)
    const call = state.calls.get(callId)
    if (isHeld(call) && call.holdExpiresAt <= now) {
      dropHolds(state, call, now)
      state.calls.delete(callId)
    }
  }
  const finished = state.finishedExpiries
  while (finished.at.length > 0 && finished.at[0]! <= now) {
    const callId = heapPop(finished)
    const call = state.calls.get(callId)
    if (call === undefined || isHeld(call)) continue
    if ((typeof call === 'number' ? call : call.holdExpiresAt) <= now) state.calls.delete(callId)
  }
  // Finished calls leave stale entries in the hold expiry heap; rebuild it when they outnumber the live ones, so
  // the heap stays proportional to the calls in flight (amortized O(1) per call).
  const heap = state.holdExpiries
  if (heap.at.length > 1024 && heap.at.length > 4 * state.heldCount) rebuildHoldHeap(state)
  if (now >= state.lastSweepAt + SWEEP_INTERVAL_MS) sweepKeys(state, now)
}

/** The key if it still counts at `now`; a key past its expiry with no hold is forgotten. */
function liveKey(state: LedgerState, key: string, now: number): KeyState | undefined {
  const ks = state.keys.get(key)
  if (ks !== undefined && ks.expiresAt !== null && ks.expiresAt <= now && ks.holdCount === 0) {
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

/** Remembers a committed (or released) call id until `until`, replacing its holds or its release. */
function finish(state: LedgerState, callId: string, until: number, committed: boolean): void {
  // A number for a commit, not an object: a busy ledger remembers every call id of its dedupe window.
  state.calls.set(callId, committed ? until : { keys: null, amounts: null, holdExpiresAt: until })
  heapPush(state.finishedExpiries, until, callId)
}

/** Takes a held call's amounts off its keys (the caller replaces or deletes its entry in `calls`). */
function dropHolds(state: LedgerState, call: HeldCall, now: number): void {
  for (let i = 0; i < call.keys.length; i++) {
    const key = call.keys[i]!
    const ks = state.keys.get(key)
    if (ks === undefined) continue
    ks.reserved -= call.amounts[i]!
    ks.holdCount--
    liveKey(state, key, now)
  }
  state.heldCount--
}

/** The hold expiry heap without the entries of calls that no longer hold (O(heap), not O(calls remembered)). */
function rebuildHoldHeap(state: LedgerState): void {
  const old = state.holdExpiries
  const heap: ExpiryHeap = { at: [], ids: [] }
  for (let i = 0; i < old.at.length; i++) {
    const callId = old.ids[i]!
    const call = state.calls.get(callId)
    if (isHeld(call) && call.holdExpiresAt === old.at[i]) heapPush(heap, old.at[i]!, callId)
  }
  state.holdExpiries = heap
}

/** Reserve all entries or none. See {@link ReserveRequest}. */
export function reserve(state: LedgerState, request: ReserveRequest): ReserveResult {
  validateReserve(request)
  const { callId, now, entries } = request
  expire(state, now)
  if (state.calls.has(callId)) {
    return { ok: true, duplicate: true, balances: entries.map((e) => balanceOf(liveKey(state, e.key, now))) }
  }
  const current: (KeyState | undefined)[] = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const ks = liveKey(state, entry.key, now)
    current[i] = ks
    const total = (ks === undefined ? 0 : ks.spent + ks.reserved) + entry.amount
    if (!Number.isSafeInteger(total)) {
      fail(`entries[${i}].amount`, `reserving ${entry.amount} on ${entry.key} would exceed the largest exact amount (${Number.MAX_SAFE_INTEGER})`)
    }
    if (entry.limit !== null && total > entry.limit) {
      // `current` is filled up to `i` only: build every balance explicitly (map would skip the empty slots).
      const balances: Balance[] = new Array(entries.length)
      for (let j = 0; j < entries.length; j++) balances[j] = balanceOf(j <= i ? current[j] : liveKey(state, entries[j]!.key, now))
      return { ok: false, refusedIndex: i, balances }
    }
  }
  const balances: Balance[] = new Array(entries.length)
  const keys: string[] = new Array(entries.length)
  const amounts: number[] = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const existing = current[i]
    const ks = existing ?? ensureKey(state, entry.key, now)
    ks.expiresAt = laterExpiry(ks.expiresAt, entry.expiresAt, existing === undefined)
    ks.reserved += entry.amount
    ks.holdCount++
    balances[i] = { spent: ks.spent, reserved: ks.reserved }
    keys[i] = entry.key
    amounts[i] = entry.amount
  }
  state.calls.set(callId, { keys, amounts, holdExpiresAt: request.holdExpiresAt })
  state.heldCount++
  heapPush(state.holdExpiries, request.holdExpiresAt, callId)
  if (request.holdExpiresAt <= now) expire(state, now)
  return { ok: true, duplicate: false, balances }
}

/** Remove the call's holds and add the actual amounts. See {@link CommitRequest}. */
export function commit(state: LedgerState, request: CommitRequest): CommitResult {
  validateCommit(request)
  const { callId, now, entries } = request
  expire(state, now)
  const known = state.calls.get(callId)
  if (typeof known === 'number') {
    return {
      duplicate: true,
      balances: entries.map((e) => {
        const b = balanceOf(liveKey(state, e.key, now))
        return { before: b.spent, after: b.spent, reserved: b.reserved }
      }),
    }
  }
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const spent = liveKey(state, entry.key, now)?.spent ?? 0
    if (!Number.isSafeInteger(spent + entry.amount)) {
      fail(`entries[${i}].amount`, `adding ${entry.amount} to ${entry.key} would exceed the largest exact amount (${Number.MAX_SAFE_INTEGER})`)
    }
  }
  const deltas = request.record === undefined ? null : rollupDeltas(request.record)
  if (deltas !== null) checkRollupFits(state.rollups, deltas)
  if (isHeld(known)) dropHolds(state, known, now)
  const balances: CommitBalance[] = new Array(entries.length)
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const existing = liveKey(state, entry.key, now)
    const ks = existing ?? ensureKey(state, entry.key, now)
    ks.expiresAt = laterExpiry(ks.expiresAt, entry.expiresAt, existing === undefined)
    const before = ks.spent
    ks.spent = before + entry.amount
    balances[i] = { before, after: ks.spent, reserved: ks.reserved }
  }
  finish(state, callId, Math.max(request.dedupeUntil, now), true)
  if (request.record !== undefined) appendRecord(state, request.record)
  if (deltas !== null) addRollups(state.rollups, deltas)
  return { duplicate: false, balances }
}

function appendRecord(state: LedgerState, record: SpendRecord): void {
  state.records.push(record)
  const excess = state.records.length - state.maxRecords
  // Drop in batches so that a full buffer does not shift the array on every commit.
  if (excess > 0 && excess >= Math.max(1, Math.floor(state.maxRecords / 16))) noteDropped(state, state.records.splice(0, excess))
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
  const call = state.calls.get(callId)
  if (call === undefined) {
    // Never seen: a tombstone, so that the reservation, if it arrives late, changes nothing.
    finish(state, callId, Math.max(request.holdExpiresAt ?? now + RELEASE_TOMBSTONE_MS, now), false)
    return { released: false }
  }
  if (!isHeld(call)) return { released: false }
  dropHolds(state, call, now)
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
  // Holds that are due at `now` but not yet dropped (no change has run at this instant yet).
  const due = new Map<string, { amount: number; holds: number }>()
  for (const callId of heapDue(state.holdExpiries, now)) {
    const call = state.calls.get(callId)
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
    if (ks.expiresAt !== null && ks.expiresAt <= now && holdCount === 0) return { spent: 0, reserved: 0 }
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

/** Write or delete a budget definition and append its history entry. */
export function putBudget(state: LedgerState, request: PutBudgetRequest): PutBudgetResult {
  validatePutBudget(request)
  const current = state.budgets.get(request.scope) ?? null
  if (request.ifRevision !== undefined && (current?.revision ?? 0) !== request.ifRevision) {
    return { ok: false, conflict: true, current }
  }
  // One flat copy of the scope string, shared by the maps and the objects below.
  const scope = current?.scope ?? flatString(request.scope)
  let next: StoredBudget | null = null
  if (request.definition === null) {
    state.budgets.delete(scope)
  } else {
    next = {
      scope,
      definition: internFields(state, request.definition),
      revision: (current?.revision ?? 0) + 1,
      createdAt: current?.createdAt ?? request.now,
      updatedAt: request.now,
    }
    state.budgets.set(scope, next)
  }
  addHistory(state, compactHistory(state, scope, request.history))
  return { ok: true, budget: next }
}

function addHistory(state: LedgerState, entry: HistoryEntry): void {
  const list = state.history.get(entry.scope)
  if (list === undefined) state.history.set(entry.scope, entry)
  else if (Array.isArray(list)) list.push(entry)
  else state.history.set(entry.scope, [list, entry])
}

function historyOf(state: LedgerState, scope: string): HistoryEntry[] {
  const list = state.history.get(scope)
  return list === undefined ? [] : Array.isArray(list) ? [...list] : [list]
}

/**
 * The JSON text of a value when it reads back as the same value, else `undefined` (`-0`, non-finite numbers,
 * `undefined` fields, anything JSON would change).
 */
function exactJson(value: object): string | undefined {
  let exact = true
  const text = JSON.stringify(value, function (this: unknown, key: string, item: unknown) {
    const raw = (this as Record<string, unknown>)[key]
    if (typeof raw === 'number') {
      if (!Number.isFinite(raw) || Object.is(raw, -0)) exact = false
    } else if (typeof raw === 'object' && raw !== null) {
      if (!Array.isArray(raw)) {
        const proto: unknown = Object.getPrototypeOf(raw)
        if ((proto !== Object.prototype && proto !== null) || typeof (raw as { toJSON?: unknown }).toJSON === 'function') exact = false
      }
    } else if (raw !== null && typeof raw !== 'string' && typeof raw !== 'boolean') {
      exact = false
    }
    return item
  })
  return exact && text !== undefined && text.length <= INTERN_MAX_TEXT ? text : undefined
}

/** The shared copy of a JSON object equal to `value` (or `value` itself, now shared). Not for primitives. */
function intern(state: LedgerState, value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null) return value
  const text = exactJson(value)
  if (text === undefined) return value
  const shared = state.interned.get(text)
  if (shared !== undefined) return shared
  if (state.interned.size >= INTERN_MAX) state.interned.clear()
  state.interned.set(text, value)
  return value
}

/** `value` with each object-valued field replaced by its shared copy (the object itself is kept). */
function internFields(state: LedgerState, value: JsonValue): JsonValue {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return intern(state, value)
  for (const key of Object.keys(value)) {
    const item = value[key]
    if (typeof item === 'object' && item !== null) {
      Object.defineProperty(value, key, { value: intern(state, item), enumerable: true, writable: true, configurable: true })
    }
  }
  return value
}

/** The history entry as one compact object (fixed shape, shared scope string and shared `old`/`new` objects). */
function compactHistory(state: LedgerState, scope: string, entry: HistoryEntry): HistoryEntry {
  const keys = Object.keys(entry)
  if (keys.length !== 6 || keys[0] !== 'scope' || keys[1] !== 'action' || keys[2] !== 'at' || keys[3] !== 'old' || keys[4] !== 'new' || keys[5] !== 'reason') {
    return entry
  }
  return { scope, action: entry.action, at: entry.at, old: intern(state, entry.old), new: intern(state, entry.new), reason: entry.reason }
}

/** Read one budget definition. */
export function getBudget(state: LedgerState, scope: string): StoredBudget | null {
  return state.budgets.get(validateScope(scope)) ?? null
}

/** Every stored budget definition. */
export function listBudgets(state: LedgerState): StoredBudget[] {
  return [...state.budgets.values()]
}

/** Audit history of one scope, oldest first. */
export function getHistory(state: LedgerState, scope: string): HistoryEntry[] {
  return historyOf(state, validateScope(scope))
}

/** Spend records by `endedAt`, oldest first. */
export function queryRecords(state: LedgerState, query: RecordQuery): SpendRecord[] {
  const from = query.from ?? Number.NEGATIVE_INFINITY
  const to = query.to ?? Number.POSITIVE_INFINITY
  if (Number.isNaN(from) || Number.isNaN(to)) fail('from', '`from` and `to` must be numbers of epoch milliseconds')
  if (query.limit !== undefined) checkAmount('limit', query.limit)
  const out = state.records.filter((r) => r.endedAt >= from && r.endedAt < to)
  out.sort((a, b) => a.endedAt - b.endedAt)
  return query.limit === undefined ? out : out.slice(0, query.limit)
}

/** Forgets keys past their expiry that hold nothing; runs at most once per {@link SWEEP_INTERVAL_MS} of ledger time. */
function sweepKeys(state: LedgerState, now: number): void {
  state.lastSweepAt = now
  applyRetention(state, now)
  for (const [key, ks] of state.keys) {
    if (ks.expiresAt !== null && ks.expiresAt <= now && ks.holdCount === 0) state.keys.delete(key)
  }
}

// ---------------------------------------------------------------------------------------------------------
// Snapshots (for durable stores)

/** Held calls, then committed and released call ids (each in the order of the call map). */
function callLists(state: LedgerState): { held: JsonValue[]; finished: JsonValue[] } {
  const held: JsonValue[] = []
  const committed: JsonValue[] = []
  const released: JsonValue[] = []
  for (const [callId, call] of state.calls) {
    if (typeof call === 'number') committed.push([callId, call, true])
    else if (call.keys === null) released.push([callId, call.holdExpiresAt, false])
    else held.push([callId, call.keys, call.amounts, call.holdExpiresAt])
  }
  return { held, finished: [...committed, ...released] }
}

/** The ledger as JSON, for snapshots. Deterministic for a given state. */
export function snapshotLedger(state: LedgerState): JsonValue {
  return {
    version: 2,
    lastSweepAt: Number.isFinite(state.lastSweepAt) ? state.lastSweepAt : null,
    keys: [...state.keys].map(([key, ks]) => [key, ks.spent, ks.expiresAt]),
    ...callLists(state),
    budgets: [...state.budgets.values()] as unknown as JsonValue,
    history: [...state.history.values()].flat() as unknown as JsonValue,
    records: state.records as unknown as JsonValue,
    rollups: [...state.rollups.values()] as unknown as JsonValue,
    recordsFrom: state.recordsFrom,
    rollupsFrom: state.rollupsFrom,
  }
}

/** Rebuild a ledger from {@link snapshotLedger} output. Throws `InvalidInputError` on a malformed snapshot. */
export function restoreLedger(snapshot: JsonValue, options: LedgerOptions = {}): LedgerState {
  const s = snapshot as Record<string, unknown>
  if (typeof s !== 'object' || s === null || s.version !== 2) fail('snapshot', 'not a ledger snapshot of version 2')
  const state = createLedger(options)
  state.lastSweepAt = typeof s.lastSweepAt === 'number' ? s.lastSweepAt : Number.NEGATIVE_INFINITY
  for (const [key, spent, expiresAt] of s.keys as [string, number, number | null][]) {
    state.keys.set(key, { spent, reserved: 0, holdCount: 0, expiresAt })
  }
  for (const [callId, keys, amounts, holdExpiresAt] of s.held as [string, string[], number[], number][]) {
    state.calls.set(callId, { keys, amounts, holdExpiresAt })
    state.heldCount++
    heapPush(state.holdExpiries, holdExpiresAt, callId)
    for (let i = 0; i < keys.length; i++) {
      const ks = state.keys.get(keys[i]!)
      if (ks === undefined) fail('snapshot', `held call ${callId} names a key that is not in the snapshot`)
      ks.reserved += amounts[i]!
      ks.holdCount++
    }
  }
  for (const [callId, until, committed] of s.finished as [string, number, boolean][]) finish(state, callId, until, committed)
  for (const budget of s.budgets as StoredBudget[]) state.budgets.set(budget.scope, budget)
  for (const entry of s.history as HistoryEntry[]) addHistory(state, entry)
  state.records = [...(s.records as SpendRecord[])]
  restoreRollups(state, s)
  return state
}
