/**
 * Fast acceptance checks for the hot store bodies (reserve and commit). Each answers `true` only for a body
 * that the route's zod schema accepts and would return unchanged: exactly the schema's keys, in the schema's
 * order, every value of the right type and range, no key that zod would drop (`__proto__`). The route then uses
 * the body as it is; for anything else (a wrong type, an extra key, another key order) it falls back to the zod
 * schema, which either returns its cleaned copy or produces the typed error. So zod still decides every body it
 * did before; this only spares it the bodies whose answer is already known.
 *
 * @internal Used by the store routes.
 */
import { MAX_ENTRIES } from '../stores/ledger/ledger.js'
import {
  MAX_ID_LENGTH,
  commitEntrySchema,
  commitSchema,
  recordSchema,
  reserveEntrySchema,
  reserveSchema,
} from './schemas.js'

const isId = (value: unknown): boolean => typeof value === 'string' && value.length > 0 && value.length <= MAX_ID_LENGTH
const isTime = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)
const isAmount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Whether `value`'s own keys are exactly `keys` in that order, optionally followed by `optional`. Objects from
 * `JSON.parse` have only own enumerable keys, in the order zod's output would have them when this holds.
 */
function hasKeys(value: Record<string, unknown>, keys: readonly string[], optional: string | null): boolean {
  let i = 0
  for (const key in value) {
    if (i < keys.length) {
      if (key !== keys[i]) return false
    } else if (i > keys.length || key !== optional) return false
    i++
  }
  return i >= keys.length
}

/** An object zod copies key for key: a plain prototype, and no own `__proto__` key (which zod drops). */
function isOrdinaryObject(value: object): boolean {
  return Object.getPrototypeOf(value) === Object.prototype && !Object.hasOwn(value, '__proto__')
}

/**
 * A JSON value that `z.json()` returns unchanged: JSON types only, and no own `__proto__` key (which zod drops).
 * Nesting is bounded: bodies deeper than `MAX_JSON_DEPTH` are refused before routing.
 */
function isPlainJson(value: unknown): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value)
    case 'object': {
      if (value === null) return true
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i])) return false
        return true
      }
      if (!isOrdinaryObject(value)) return false
      for (const key in value) if (!isPlainJson((value as Record<string, unknown>)[key])) return false
      return true
    }
    default:
      return false
  }
}

// The keys, in the order zod's output has them, read from the schemas themselves (the optional `record` last).
const RESERVE_KEYS = Object.keys(reserveSchema.shape)
const RESERVE_ENTRY_KEYS = Object.keys(reserveEntrySchema.shape)
const COMMIT_KEYS = Object.keys(commitSchema.shape).filter((key) => key !== 'record')
const COMMIT_ENTRY_KEYS = Object.keys(commitEntrySchema.shape)
const RECORD_KEYS = Object.keys(recordSchema.shape)

/** `true` when `reserveSchema` accepts `body` and would return it unchanged. */
export function isPlainReserve(body: unknown): boolean {
  if (!isPlainObject(body) || !hasKeys(body, RESERVE_KEYS, null)) return false
  if (!isId(body.callId) || !isTime(body.now) || !isTime(body.holdExpiresAt)) return false
  const entries = body.entries
  if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) return false
  for (let i = 0; i < entries.length; i++) {
    const entry: unknown = entries[i]
    if (!isPlainObject(entry) || !hasKeys(entry, RESERVE_ENTRY_KEYS, null)) return false
    if (!isId(entry.key) || !isAmount(entry.amount)) return false
    if (entry.limit !== null && !isAmount(entry.limit)) return false
    if (entry.expiresAt !== null && !isTime(entry.expiresAt)) return false
  }
  return true
}

/** `true` when `commitSchema` accepts `body` and would return it unchanged. */
export function isPlainCommit(body: unknown): boolean {
  if (!isPlainObject(body) || !hasKeys(body, COMMIT_KEYS, 'record')) return false
  if (!isId(body.callId) || !isTime(body.now) || !isTime(body.dedupeUntil)) return false
  const entries = body.entries
  if (!Array.isArray(entries) || entries.length > MAX_ENTRIES) return false
  for (let i = 0; i < entries.length; i++) {
    const entry: unknown = entries[i]
    if (!isPlainObject(entry) || !hasKeys(entry, COMMIT_ENTRY_KEYS, null)) return false
    if (!isId(entry.key) || !isAmount(entry.amount)) return false
    if (entry.expiresAt !== null && !isTime(entry.expiresAt)) return false
  }
  if (!('record' in body)) return true
  const record = body.record
  if (!isPlainObject(record) || !isOrdinaryObject(record)) return false
  // zod's output lists the shape's keys first, then the others in their order: the same order only when the
  // shape's keys come first here too.
  let i = 0
  for (const key in record) {
    if (i < RECORD_KEYS.length) {
      if (key !== RECORD_KEYS[i]) return false
    } else if (!isPlainJson(record[key])) return false
    i++
  }
  return i >= RECORD_KEYS.length && isId(record.callId) && isTime(record.startedAt) && isTime(record.endedAt)
}
