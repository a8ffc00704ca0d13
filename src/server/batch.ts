/**
 * The batch endpoints: several store operations in one request, as `httpStore` sends the operations issued in one
 * event-loop tick. The server hands them to the store in order, each applied atomically and exactly as if it had
 * come alone (the same validation, its own `key` as its `Idempotency-Key`, its own answer); one operation's
 * failure does not touch the others.
 *
 * Version 1, `POST /v1/batch`: `{ "operations": [{ "path": "/v1/reserve", "body": { ... }, "key": "..." }, ...] }`,
 * answered (200) with `{ "results": [{ "status": 200, "body": { ... } }, ...] }`, a result that may be retried also
 * carrying `retryAfter` (seconds). Version 2, `POST /v2/batch`: the positional form of `../stores/http/wire.ts`
 * (`{ "ops": [["r", key, callId, ...], ...] }`), answered with `{ "v": 2, "results": [[200, { ... }], ...] }`. Each
 * operation's answer body is the same in both, and the same as a lone request's. A body of the other version, or
 * a version this server does not speak, is refused as a whole with a typed error.
 *
 * @internal Used by the handler.
 */
import { truncate } from '../internal/describe.js'
import { MAX_ENTRIES } from '../stores/ledger/ledger.js'
import {
  BATCH_PATHS,
  COMMIT_CODE,
  COMMIT_ENTRY,
  COMMIT_HEAD,
  decodeCommit,
  decodeReserve,
  RESERVE_CODE,
  RESERVE_ENTRY,
  RESERVE_HEAD,
} from '../stores/http/wire.js'
import type { Answer, RunOperation } from './core.js'
import { errorBody, HttpError, JSON_HEADERS } from './errors.js'
import type { Route } from './handler.js'
import { BatchAnswers } from './idempotency.js'
import { STORE_PATHS } from './store-routes.js'

/** A batch endpoint's path (`/v1/batch`, `/v2/batch`, or another version this server does not speak). */
export const BATCH_PATH_PATTERN = /^\/v(0|[1-9]\d{0,5})\/batch$/

/** Each store path, to its own string (the one the idempotency cache keeps for a batch operation's fingerprint). */
const BATCHABLE = new Map(Object.values(STORE_PATHS).map((path) => [path, path]))
const RESERVE_PATH = STORE_PATHS.reserve!
const COMMIT_PATH = STORE_PATHS.commit!
const EMPTY_QUERY = new URLSearchParams()
const UTF8 = new TextEncoder()

interface BatchContext {
  tenant: string
  routes: Map<string, Route>
  maxOperations: number
  runOperation: RunOperation
  /**
   * Called once the batch is answered: its keyed operations' answers are remembered as ranges of `text`, held as
   * `bytes` (its UTF-8 encoding, also what is sent).
   */
  complete: (batch: BatchAnswers, text: string, bytes: Uint8Array<ArrayBuffer>) => void
  /**
   * The batch body as received (UTF-8 bytes in a buffer of their own): the idempotency cache reads a keyed
   * operation's body again from it.
   */
  request: Uint8Array
}

/** One operation of a batch, read from either version: where it goes, its body and its key. */
interface Decoded {
  path: string
  body: unknown
  key: string | null
}

/**
 * The one {@link Decoded} the decoders fill and return (no object per operation): each is read at once, before the
 * next operation is decoded.
 */
const decoded: Decoded = { path: '', body: null, key: null }

function found(path: string, body: unknown, key: string | null): Decoded {
  decoded.path = path
  decoded.body = body
  decoded.key = key
  return decoded
}

function refused(status: number, code: string, message: string): Answer {
  return { status, headers: {}, body: errorBody(new HttpError(status, code, message)) }
}

function versionMismatch(message: string): HttpError {
  return new HttpError(400, 'BATCH_VERSION_MISMATCH', message, 'body')
}

/** A version this server does not speak: 404 (as an older server answers a newer client), with a typed code. */
export function unsupportedVersion(path: string): HttpError {
  return new HttpError(
    404,
    'UNSUPPORTED_BATCH_VERSION',
    `this server speaks batch versions 1 and 2 (POST ${BATCH_PATHS[1]}, POST ${BATCH_PATHS[2]}), not ${JSON.stringify(truncate(path, 40))}`,
  )
}

/** The operations list of a batch body of `version`; throws a 400 for a malformed body or the other version's. */
function operationsOf(value: unknown, version: 1 | 2, maxOperations: number): unknown[] {
  const body = value as Record<string, unknown>
  const name = version === 1 ? 'operations' : 'ops'
  const other = version === 1 ? 'ops' : 'operations'
  const operations = body[name]
  if (operations === undefined && body[other] !== undefined) {
    throw versionMismatch(
      `this is a version ${3 - version} batch body (\`${other}\`); send it to ${BATCH_PATHS[(3 - version) as 1 | 2]}, ` +
        `or send \`${name}\` (version ${version}) to ${BATCH_PATHS[version]}`,
    )
  }
  if (!Array.isArray(operations) || operations.length === 0 || operations.length > maxOperations)
    throw new HttpError(400, 'INVALID_INPUT', `\`${name}\` must be an array of 1 to ${maxOperations} operations`, name)
  if (Object.keys(body).length !== 1)
    throw new HttpError(400, 'INVALID_INPUT', `a version ${version} batch body has only \`${name}\``, 'body')
  return operations
}

/** Operation `i` of a version 1 batch, or the answer refusing it. */
function decodeV1(item: unknown, i: number): Decoded | Answer {
  const operation = item as { path?: unknown; body?: unknown; key?: unknown } | null
  if (typeof operation !== 'object' || operation === null || Array.isArray(operation)) {
    return refused(400, 'INVALID_INPUT', `\`operations[${i}]\` must be an object { path, body, key? }`)
  }
  if (typeof operation.path !== 'string' || !BATCHABLE.has(operation.path)) {
    const got = JSON.stringify(truncate(String(operation.path), 100))
    return refused(
      404,
      'NOT_FOUND',
      `\`operations[${i}].path\` must be a store endpoint (/v1/reserve, /v1/commit, ...), got ${got}`,
    )
  }
  if (typeof operation.body !== 'object' || operation.body === null || Array.isArray(operation.body)) {
    return refused(400, 'INVALID_JSON', `\`operations[${i}].body\` must be a JSON object`)
  }
  if (operation.key !== undefined && typeof operation.key !== 'string') {
    return refused(400, 'INVALID_INPUT', `\`operations[${i}].key\` must be a string`)
  }
  return found(BATCHABLE.get(operation.path)!, operation.body, operation.key ?? null)
}

/** Operation `i` of a version 2 batch, or the answer refusing it (its fields are checked by its route). */
function decodeV2(item: unknown, i: number): Decoded | Answer {
  if (!Array.isArray(item) || item.length < 2) {
    return refused(400, 'INVALID_INPUT', `\`ops[${i}]\` must be an array [code, key, ...]`)
  }
  const code: unknown = item[0]
  const key: unknown = item[1]
  if (key !== null && typeof key !== 'string')
    return refused(400, 'INVALID_INPUT', `\`ops[${i}][1]\` (the idempotency key) must be a string or null`)
  // More entries than any request may have: refused before an object is built for each.
  if (
    (code === RESERVE_CODE && item.length > RESERVE_HEAD + MAX_ENTRIES * RESERVE_ENTRY) ||
    (code === COMMIT_CODE && item.length > COMMIT_HEAD + MAX_ENTRIES * COMMIT_ENTRY)
  )
    return refused(400, 'INVALID_INPUT', `\`ops[${i}]\` has more than ${MAX_ENTRIES} entries`)
  if (code === RESERVE_CODE) {
    if (item.length < RESERVE_HEAD || (item.length - RESERVE_HEAD) % RESERVE_ENTRY !== 0)
      return refused(
        400,
        'INVALID_INPUT',
        `\`ops[${i}]\` (a reserve) must be ["r", key, callId, now, holdExpiresAt, then key, amount, limit, expiresAt per entry]`,
      )
    return found(RESERVE_PATH, decodeReserve(item), key)
  }
  if (code === COMMIT_CODE) {
    if (item.length < COMMIT_HEAD || (item.length - COMMIT_HEAD) % COMMIT_ENTRY !== 0)
      return refused(
        400,
        'INVALID_INPUT',
        `\`ops[${i}]\` (a commit) must be ["c", key, callId, now, dedupeUntil, record or null, then key, amount, expiresAt per entry]`,
      )
    return found(COMMIT_PATH, decodeCommit(item), key)
  }
  if (typeof code !== 'string' || !BATCHABLE.has(code)) {
    const got = JSON.stringify(truncate(String(code), 100))
    return refused(
      404,
      'NOT_FOUND',
      `\`ops[${i}][0]\` must be "r", "c" or a store endpoint (/v1/release, /v1/balances, ...), got ${got}`,
    )
  }
  const body: unknown = item[2]
  if (item.length !== 3 || typeof body !== 'object' || body === null || Array.isArray(body))
    return refused(400, 'INVALID_JSON', `\`ops[${i}]\` must be [path, key, body] with a JSON object body`)
  return found(BATCHABLE.get(code)!, body, key)
}

/** The body of operation `j` of a parsed version 1 batch, for a fingerprint worked out again. */
export function bodyAtV1(parsed: unknown, j: number): unknown {
  return (parsed as { operations: { body?: unknown }[] }).operations[j]!.body
}

/** The body of operation `j` of a parsed version 2 batch, as the request object it stands for. */
export function bodyAtV2(parsed: unknown, j: number): unknown {
  const operation = decodeV2((parsed as { ops: unknown[] }).ops[j], j)
  if (operation !== decoded) return undefined
  const body = operation.body
  decoded.body = null
  return body
}

/** The head of a 200 answer without `retryAfter` in a batch's results, first and later (version 1, then 2). */
const V1_OK = '{"status":200,"body":'
const V1_OK_NEXT = ',{"status":200,"body":'
const V2_OK = '[200,'
const V2_OK_NEXT = ',[200,'

/** Runs a batch body's operations in order and answers with one result per operation. */
export async function runBatch(value: unknown, version: 1 | 2, context: BatchContext): Promise<Answer> {
  const operations = operationsOf(value, version, context.maxOperations)
  // Every operation is started in order without waiting for the one before: each reaches the store in the
  // order of the batch (a store applies each atomically, in the order it receives them), and a durable store
  // can commit them together instead of one write per operation.
  // The idempotency cache remembers the keyed operations' answers through one object for the whole batch.
  const batch = new BatchAnswers(operations.length, context.request, version === 1 ? bodyAtV1 : bodyAtV2)
  const decode = version === 1 ? decodeV1 : decodeV2
  const started = new Array<Answer | Promise<Answer>>(operations.length)
  for (let i = 0; i < operations.length; i++) {
    const operation = decode(operations[i], i)
    started[i] =
      operation === decoded
        ? runOne(operation.path, operation.body, operation.key, i, context, batch)
        : (operation as Answer)
  }
  // the scratch holds no body once the batch's operations are started (one may be large)
  decoded.body = null
  let out = version === 1 ? '{"results":[' : '{"v":2,"results":['
  for (let i = 0; i < started.length; i++) {
    const pending = started[i]!
    const answer = pending instanceof Promise ? await pending : pending
    const retryAfter = answer.headers['retry-after']
    // Appended piece by piece, the common heads constant: each operation adds a few pieces to one rope (flattened
    // once when the answer is written) instead of building its own short strings first.
    if (version === 1) {
      if (answer.status === 200 && retryAfter === undefined) out += i === 0 ? V1_OK : V1_OK_NEXT
      else
        out += `${i === 0 ? '' : ','}{"status":${answer.status},${retryAfter === undefined ? '' : `"retryAfter":${JSON.stringify(retryAfter)},`}"body":`
      batch.place(i, out.length, out.length + answer.body.length)
      out += answer.body
      out += '}'
    } else {
      out += answer.status === 200 ? (i === 0 ? V2_OK : V2_OK_NEXT) : `${i === 0 ? '' : ','}[${answer.status},`
      batch.place(i, out.length, out.length + answer.body.length)
      out += answer.body
      out += retryAfter === undefined ? ']' : `,${JSON.stringify(retryAfter)}]`
    }
  }
  const text = `${out}]}`
  // Encoded once, here: the cache keeps these bytes (outside the JavaScript heap, so the collector neither copies
  // nor marks them while the batch is remembered) and the server sends them.
  const bytes = UTF8.encode(text)
  context.complete(batch, text, bytes)
  return { status: 200, headers: JSON_HEADERS, body: text, bytes }
}

/** Runs one decoded operation of a batch; resolves with its answer. */
function runOne(
  path: string,
  body: unknown,
  key: string | null,
  i: number,
  context: BatchContext,
  batch: BatchAnswers,
): Answer | Promise<Answer> {
  const route = context.routes.get(path)!
  if (key !== null) batch.operation(i, path)
  return context.runOperation(context.tenant, {
    route,
    path,
    method: 'POST',
    // The fingerprint of a keyed operation is its body as JSON (the same text a lone request would send),
    // computed only when its key comes back.
    text: null,
    value: body,
    query: EMPTY_QUERY,
    idempotencyKey: key,
    batch,
    index: i,
  })
}
