/**
 * The batch wire format, version 2 (`POST /v2/batch`), shared by `httpStore` (which writes it) and the budget
 * server (which reads it). Version 1 (`POST /v1/batch`, `{ "operations": [{ "path", "key", "body" }] }`) repeats
 * every member name of every operation; version 2 writes the hot operations positionally, so the server parses
 * about half the text and builds each request object with one fixed shape:
 *
 * - a reserve: `["r", key, callId, now, holdExpiresAt, entryKey, amount, limit, expiresAt, entryKey, ...]`;
 * - a commit: `["c", key, callId, now, dedupeUntil, record or null, entryKey, amount, expiresAt, entryKey, ...]`;
 * - any other store operation: `[path, key, body]`, e.g. `["/v1/release", "k1", { "callId": ... }]`.
 *
 * `key` is the operation's idempotency key, or `null`. Body: `{ "ops": [...] }`. Answer (200):
 * `{ "v": 2, "results": [[status, body], [status, body, retryAfter], ...] }`, each body exactly the JSON a lone
 * request would get. A positional operation stands for exactly the object a lone request would send (same keys,
 * same order), so its idempotency fingerprint is the same whichever way it travels; the client writes one only
 * for a request already in that shape, and sends anything else as `[path, key, body]`.
 *
 * @internal Used by `httpStore`'s transport and by the server's batch endpoint.
 */

/** The batch endpoint of each version this library speaks, newest first. */
export const BATCH_PATHS = { 2: '/v2/batch', 1: '/v1/batch' } as const

/** The code of a positional reserve and commit. */
export const RESERVE_CODE = 'r'
export const COMMIT_CODE = 'c'
/** Items before the entries, and items per entry, of a positional reserve and commit. */
export const RESERVE_HEAD = 5
export const RESERVE_ENTRY = 4
export const COMMIT_HEAD = 6
export const COMMIT_ENTRY = 3

const RESERVE_PATH = '/v1/reserve'
const COMMIT_PATH = '/v1/commit'

/** A number as `JSON.stringify` writes it. */
const num = (value: number): string => (Number.isFinite(value) ? String(value) : 'null')

/** Whether `value` is an object that `JSON.stringify` writes from its own keys, which are exactly `keys`. */
function hasExactly(value: unknown, keys: readonly string[], optional?: string): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  if (proto !== Object.prototype && proto !== null) return false
  const own = Object.keys(value)
  if (own.length !== keys.length && (optional === undefined || own.length !== keys.length + 1)) return false
  for (let i = 0; i < keys.length; i++) if (own[i] !== keys[i]) return false
  return own.length === keys.length || own[keys.length] === optional
}

const RESERVE_KEYS = ['callId', 'now', 'holdExpiresAt', 'entries']
const RESERVE_ENTRY_KEYS = ['key', 'amount', 'limit', 'expiresAt']
const COMMIT_KEYS = ['callId', 'now', 'entries', 'dedupeUntil']
const COMMIT_ENTRY_KEYS = ['key', 'amount', 'expiresAt']

const isNumberOrNull = (value: unknown): value is number | null => value === null || typeof value === 'number'

/** A reserve in the positional form, or `null` when `payload` is not exactly in the shape the form stands for. */
function reserveText(keyText: string, payload: unknown): string | null {
  if (!hasExactly(payload, RESERVE_KEYS)) return null
  const { callId, now, holdExpiresAt, entries } = payload
  if (typeof callId !== 'string' || typeof now !== 'number' || typeof holdExpiresAt !== 'number') return null
  if (!Array.isArray(entries)) return null
  let out = `["${RESERVE_CODE}",${keyText},${JSON.stringify(callId)},${num(now)},${num(holdExpiresAt)}`
  for (const entry of entries as unknown[]) {
    if (!hasExactly(entry, RESERVE_ENTRY_KEYS)) return null
    const { key, amount, limit, expiresAt } = entry
    if (typeof key !== 'string' || typeof amount !== 'number' || !isNumberOrNull(limit) || !isNumberOrNull(expiresAt))
      return null
    out += `,${JSON.stringify(key)},${num(amount)},${limit === null ? 'null' : num(limit)},${expiresAt === null ? 'null' : num(expiresAt)}`
  }
  return `${out}]`
}

/** A commit in the positional form, or `null` when `payload` is not exactly in the shape the form stands for. */
function commitText(keyText: string, payload: unknown): string | null {
  if (!hasExactly(payload, COMMIT_KEYS, 'record')) return null
  const { callId, now, entries, dedupeUntil, record } = payload
  if (typeof callId !== 'string' || typeof now !== 'number' || typeof dedupeUntil !== 'number') return null
  if (!Array.isArray(entries)) return null
  let recordText = 'null'
  if ('record' in payload) {
    // Any object (its text is the same in both forms); `null` stands for no record, so a null record is not this form.
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return null
    // a toJSON may write it as something else (null, nothing): the lone text then says so, this form could not
    const text = JSON.stringify(record) as string | undefined
    if (text === undefined || !text.startsWith('{')) return null
    recordText = text
  }
  let out = `["${COMMIT_CODE}",${keyText},${JSON.stringify(callId)},${num(now)},${num(dedupeUntil)},${recordText}`
  for (const entry of entries as unknown[]) {
    if (!hasExactly(entry, COMMIT_ENTRY_KEYS)) return null
    const { key, amount, expiresAt } = entry
    if (typeof key !== 'string' || typeof amount !== 'number' || !isNumberOrNull(expiresAt)) return null
    out += `,${JSON.stringify(key)},${num(amount)},${expiresAt === null ? 'null' : num(expiresAt)}`
  }
  return `${out}]`
}

/**
 * One operation of a version 2 batch: `payload` is the request object, `text` its JSON (what a lone request sends).
 * A reserve or commit exactly in the shape of the positional form is written positionally; anything else (and any
 * other operation) as `[path, key, body]`.
 */
export function encodeOperation(path: string, key: string | null, payload: unknown, text: string): string {
  const keyText = key === null ? 'null' : JSON.stringify(key)
  const positional =
    path === RESERVE_PATH ? reserveText(keyText, payload) : path === COMMIT_PATH ? commitText(keyText, payload) : null
  return positional ?? `[${JSON.stringify(path)},${keyText},${text}]`
}

/** The request object a positional reserve stands for (the server validates it as any reserve body). */
export function decodeReserve(op: readonly unknown[]): Record<string, unknown> {
  const entries: Record<string, unknown>[] = []
  for (let j = RESERVE_HEAD; j < op.length; j += RESERVE_ENTRY)
    entries.push({ key: op[j], amount: op[j + 1], limit: op[j + 2], expiresAt: op[j + 3] })
  return { callId: op[2], now: op[3], holdExpiresAt: op[4], entries }
}

/** The request object a positional commit stands for (the server validates it as any commit body). */
export function decodeCommit(op: readonly unknown[]): Record<string, unknown> {
  const entries: Record<string, unknown>[] = []
  for (let j = COMMIT_HEAD; j < op.length; j += COMMIT_ENTRY)
    entries.push({ key: op[j], amount: op[j + 1], expiresAt: op[j + 2] })
  const record = op[5]
  return record === null
    ? { callId: op[2], now: op[3], entries, dedupeUntil: op[4] }
    : { callId: op[2], now: op[3], entries, dedupeUntil: op[4], record }
}
