/**
 * Validation of ledger requests (exported: remote stores validate before sending). Each check throws an
 * `InvalidInputError` naming the field and changes nothing.
 *
 * @internal Used by the stores.
 * @packageDocumentation
 */
import { InvalidInputError } from '../../errors.js'
import type {
  BalancesRequest,
  CommitRequest,
  PutBudgetRequest,
  ReleaseRequest,
  ReserveRequest,
  ResetRequest,
  SpendRecord,
} from '../types.js'

/** Longest accepted ledger key. */
export const MAX_KEY_LENGTH = 512
/** Longest accepted call id. */
export const MAX_CALL_ID_LENGTH = 200
/** Longest accepted scope string (`type:id`). */
export const MAX_SCOPE_LENGTH = 512
/** Most entries in one reserve or commit. */
export const MAX_ENTRIES = 256

/** Throws an `InvalidInputError` for `field`. */
export function fail(field: string, message: string): never {
  throw new InvalidInputError(field, message)
}

function describe(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 40 ? `a string of ${value.length} characters` : JSON.stringify(value)
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

/** A non-negative safe integer, or an `InvalidInputError`. */
export function checkAmount(field: string, value: unknown): number {
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

/**
 * The keys of the last reserve's and the last commit's entries that were checked free of duplicates. A manager sends
 * the same keys (the same strings, from its kept plan) call after call: while an entry's key is the one at its index
 * here, and so was every key before it, it cannot repeat one of them (they are distinct), so the quadratic scan is
 * skipped (it compared strings of one length by content, 8% of a withBudget call). Each keeps at most
 * {@link MAX_ENTRIES} key strings alive.
 */
const distinctKeys: [unknown[], unknown[]] = [[], []]

// The happy path below allocates nothing: field names are built only when a check fails.
function checkEntries(field: string, value: unknown, min: number, withLimit: boolean): void {
  if (!Array.isArray(value) || value.length < min || value.length > MAX_ENTRIES) {
    fail(field, `\`${field}\` must be an array of ${min} to ${MAX_ENTRIES} entries`)
  }
  const distinct = distinctKeys[withLimit ? 0 : 1]
  // Whether every key so far is the one at its index in `distinct`.
  let known = true
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
    if (known) known = key === distinct[i]
    if (known) continue
    // Duplicate keys: a quadratic scan is cheaper than a Set for the handful of keys a call has.
    for (let j = 0; j < i; j++) {
      if ((value[j] as { key: unknown }).key === key)
        fail(`${field}[${i}].key`, `\`${field}\` lists the key ${JSON.stringify(key)} twice`)
    }
  }
  if (known) return
  distinct.length = value.length
  for (let i = 0; i < value.length; i++) distinct[i] = (value[i] as { key: unknown }).key
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
    checkRecord('record', record)
    if (record.callId !== request.callId) fail('record.callId', "`record.callId` must equal the request's `callId`")
  }
}

/** Throws `InvalidInputError` unless `record` is an object with a call id and finite `startedAt`/`endedAt`. */
export function checkRecord(field: string, record: unknown): asserts record is SpendRecord {
  if (typeof record !== 'object' || record === null || Array.isArray(record))
    fail(field, `\`${field}\` must be an object`)
  const r = record as Partial<Record<keyof SpendRecord, unknown>>
  checkString(`${field}.callId`, r.callId, MAX_CALL_ID_LENGTH)
  checkTime(`${field}.startedAt`, r.startedAt)
  checkTime(`${field}.endedAt`, r.endedAt)
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
  if (!Array.isArray(request.keys) || request.keys.length > 10_000)
    fail('keys', '`keys` must be an array of at most 10000 keys')
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
