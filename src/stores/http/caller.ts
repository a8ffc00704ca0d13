/**
 * One operation with retries: every attempt goes through the circuit breaker and the transport with the same
 * `Idempotency-Key`; network failures, timeouts, 408/409/425/429 and 5xx are retried with jittered exponential
 * backoff that honours `Retry-After`; other answers end the retries. Errors name the server and the operation.
 *
 * @internal Used by `httpStore`.
 */
import { BudgetConfigError, InvalidInputError, isBudgetError, StorageError } from '../../errors.js'
import { truncate } from '../../internal/describe.js'
import type { CircuitBreaker } from './breaker.js'
import { TransportError, type Transport } from './transport.js'

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504])

/** The store operations and their endpoints. */
export const PATHS = {
  reserve: '/v1/reserve',
  commit: '/v1/commit',
  release: '/v1/release',
  balances: '/v1/balances',
  reset: '/v1/reset',
  getBudget: '/v1/budgets/get',
  putBudget: '/v1/budgets/put',
  listBudgets: '/v1/budgets/list',
  getHistory: '/v1/budgets/history',
  queryRecords: '/v1/records',
  queryRollups: '/v1/rollups',
} as const

export type OperationName = keyof typeof PATHS

/** A failed attempt that may be retried, with the server's `Retry-After` when it gave one. */
class Retryable extends StorageError {
  constructor(
    message: string,
    readonly retryAfterMs: number | null,
    /** What failed: shared by every operation of a batch that failed as a whole. */
    readonly source: object,
    options?: { cause?: unknown },
  ) {
    super('http', message, options)
  }
}

function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (c?.randomUUID !== undefined) return c.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`
}

export { randomId }

export interface CallerOptions {
  baseUrl: string
  transport: Transport
  breaker: CircuitBreaker
  retries: number
  retryBaseDelayMs: number
  retryMaxDelayMs: number
  maxRetryAfterMs: number
  random: () => number
  isClosed(): boolean
}

/** Sends one operation, retrying transient failures with the same idempotency key. */
export type Call = (
  operation: OperationName,
  payload: unknown,
  idempotencyKey?: string,
  maxRetries?: number,
) => Promise<unknown>

export function createCaller(options: CallerOptions): Call {
  const { baseUrl, transport, breaker } = options
  // The breaker counts failed requests: a batch that failed as a whole is one failure, not one per operation.
  const counted = new WeakSet<object>()
  const where = (operation: OperationName): string => `${operation} (${baseUrl}${PATHS[operation]})`

  /** One attempt: the parsed answer, or a {@link Retryable}, or another error that ends the retries. */
  async function attempt(
    operation: OperationName,
    request: unknown,
    body: string,
    key: string,
  ): Promise<{ value: unknown } | { final: Error }> {
    let reply
    try {
      reply = await transport.send(PATHS[operation], request, body, key)
    } catch (error) {
      if (error instanceof TransportError)
        throw new Retryable(`${where(operation)}: ${error.detail}`, null, error, { cause: error })
      throw error
    }
    const { status } = reply
    if (status === 200) {
      if (reply.body === undefined)
        return {
          final: new StorageError('http', `${where(operation)}: the server answered 200 with a body that is not JSON`, {
            retryable: false,
          }),
        }
      return { value: reply.body }
    }
    const payload = (typeof reply.body === 'object' && reply.body !== null ? reply.body : {}) as {
      error?: { code?: unknown; message?: unknown; field?: unknown }
    }
    const code = typeof payload.error?.code === 'string' ? truncate(payload.error.code, 60) : `HTTP_${status}`
    const message = typeof payload.error?.message === 'string' ? truncate(payload.error.message, 500) : `HTTP ${status}`
    if (RETRYABLE_STATUS.has(status))
      throw new Retryable(
        `${where(operation)}: ${status} ${code}: ${message}`,
        parseRetryAfter(reply.retryAfter),
        reply,
      )
    // The server answered and would answer the same again.
    const field = typeof payload.error?.field === 'string' ? truncate(payload.error.field, 100) : 'body'
    if (code === 'INVALID_INPUT') return { final: new InvalidInputError(field, message) }
    if (code === 'BUDGET_CONFIG') return { final: new BudgetConfigError(field, message) }
    if (status === 401 || status === 403) {
      return {
        final: new StorageError(
          'http',
          `${where(operation)}: the server refused the token (${status} ${code}: ${message}); check \`token\``,
          { retryable: false },
        ),
      }
    }
    return {
      final: new StorageError('http', `${where(operation)}: ${status} ${code}: ${message}`, { retryable: false }),
    }
  }

  return async (operation, payload, idempotencyKey = randomId(), maxRetries = options.retries) => {
    if (options.isClosed())
      throw new StorageError('http', `${where(operation)}: the store is closed`, { retryable: false })
    const body = JSON.stringify(payload)
    let lastError: unknown
    for (let attemptNumber = 0; ; attemptNumber++) {
      if (!breaker.admit()) {
        throw new StorageError(
          'http',
          `${where(operation)}: the circuit breaker is open after ${breaker.failures} failed attempts; the server is not called for ${breaker.cooldownMs} ms`,
          lastError === undefined ? {} : { cause: lastError },
        )
      }
      let outcome
      try {
        outcome = await attempt(operation, payload, body, idempotencyKey)
      } catch (error) {
        const source = error instanceof Retryable ? error.source : {}
        if (!counted.has(source)) {
          counted.add(source)
          breaker.failed()
        }
        lastError = error
        const retryAfterMs = error instanceof Retryable ? error.retryAfterMs : null
        if (attemptNumber >= maxRetries || options.isClosed()) break
        if (retryAfterMs !== null && retryAfterMs > options.maxRetryAfterMs) break
        const backoff =
          options.random() * Math.min(options.retryMaxDelayMs, options.retryBaseDelayMs * 2 ** attemptNumber)
        await sleep(Math.max(backoff, retryAfterMs ?? 0))
        continue
      }
      breaker.succeeded() // the server is up
      if ('final' in outcome) throw outcome.final
      return outcome.value
    }
    if (isBudgetError(lastError)) throw lastError
    throw new StorageError('http', `${where(operation)}: failed after ${maxRetries + 1} attempts`, { cause: lastError })
  }
}
