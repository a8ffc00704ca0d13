/**
 * `POST /v1/batch`: several store operations in one request, as `httpStore` sends the operations issued in one
 * event-loop tick. The server hands them to the store in order, each applied atomically and exactly as if it had
 * come alone (the same validation, its own `key` as its `Idempotency-Key`, its own answer); one operation's
 * failure does not touch the others.
 *
 * Body: `{ "operations": [{ "path": "/v1/reserve", "body": { ... }, "key": "..." }, ...] }`.
 * Answer (200): `{ "results": [{ "status": 200, "body": { ... } }, { "status": 400, "body": { "error": ... } }] }`,
 * in the order of the operations; a result that may be retried also carries `retryAfter` (seconds).
 *
 * @internal Used by the handler.
 */
import { truncate } from '../internal/describe.js'
import type { Answer, RunOperation } from './core.js'
import { errorBody, HttpError, JSON_HEADERS } from './errors.js'
import type { Route } from './handler.js'
import { BatchAnswers } from './idempotency.js'
import { STORE_PATHS } from './store-routes.js'

/** The path of the batch endpoint. */
export const BATCH_PATH = '/v1/batch'

/** Each store path, to its own string (the one the idempotency cache keeps for a batch operation's fingerprint). */
const BATCHABLE = new Map(Object.values(STORE_PATHS).map((path) => [path, path]))
const EMPTY_QUERY = new URLSearchParams()

interface BatchContext {
  tenant: string
  routes: Map<string, Route>
  maxOperations: number
  runOperation: RunOperation
  /** Called once the batch is answered: its keyed operations' answers are remembered as ranges of `text`. */
  complete: (batch: BatchAnswers, text: string) => void
  /** The batch body's text, as parsed (the idempotency cache reads a keyed operation's body again from it). */
  text: string
}

function refused(status: number, code: string, message: string): Answer {
  return { status, headers: {}, body: errorBody(new HttpError(status, code, message)) }
}

/** Runs a batch body's operations in order and answers with one result per operation. */
export async function runBatch(value: unknown, context: BatchContext): Promise<Answer> {
  const operations = (value as { operations?: unknown }).operations
  if (!Array.isArray(operations) || operations.length === 0 || operations.length > context.maxOperations) {
    throw new HttpError(
      400,
      'INVALID_INPUT',
      `\`operations\` must be an array of 1 to ${context.maxOperations} operations`,
      'operations',
    )
  }
  if (Object.keys(value as object).length !== 1)
    throw new HttpError(400, 'INVALID_INPUT', 'a batch body has only `operations`', 'body')
  // Every operation is started in order without waiting for the one before: each reaches the store in the
  // order of the batch (a store applies each atomically, in the order it receives them), and a durable store
  // can commit them together instead of one write per operation.
  // The idempotency cache remembers the keyed operations' answers through one object for the whole batch.
  const batch = new BatchAnswers(operations.length, context.text)
  const started = new Array<Answer | Promise<Answer>>(operations.length)
  for (let i = 0; i < operations.length; i++) started[i] = runOne(operations[i], i, context, batch)
  let out = '{"results":['
  for (let i = 0; i < started.length; i++) {
    const pending = started[i]!
    const answer = pending instanceof Promise ? await pending : pending
    const retryAfter = answer.headers['retry-after']
    out += `${i === 0 ? '' : ','}{"status":${answer.status},${retryAfter === undefined ? '' : `"retryAfter":${JSON.stringify(retryAfter)},`}"body":`
    batch.place(i, out.length, out.length + answer.body.length)
    out += `${answer.body}}`
  }
  const text = `${out}]}`
  context.complete(batch, text)
  return { status: 200, headers: JSON_HEADERS, body: text }
}

/** Checks and runs one operation of a batch; resolves with its answer. */
function runOne(item: unknown, i: number, context: BatchContext, batch: BatchAnswers): Answer | Promise<Answer> {
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
  const path = BATCHABLE.get(operation.path)!
  const route = context.routes.get(path)!
  const key = operation.key ?? null
  if (key !== null) batch.operation(i, path)
  return context.runOperation(context.tenant, {
    route,
    path,
    method: 'POST',
    // The fingerprint of a keyed operation is its body as JSON (the same text a lone request would send),
    // computed only when its key comes back.
    text: null,
    value: operation.body,
    query: EMPTY_QUERY,
    idempotencyKey: key,
    batch,
    index: i,
  })
}
