/**
 * `httpStore({ url, token })`: a store that asks a budget server (`createBudgetHandler` from
 * `llm-budget/server`) to do each operation, one request per operation. Imports nothing from `node:`; runs
 * wherever `fetch` exists.
 *
 * Reliability: every attempt has a timeout; failed attempts are retried with jittered exponential backoff
 * that honours `Retry-After`, always with the same `Idempotency-Key` (and every store operation is also
 * idempotent by call id, so a retry never counts twice); a circuit breaker stops hammering a server that is
 * down; commits that cannot be delivered go to an outbox and are delivered in order when the server is back.
 *
 * @packageDocumentation
 */
import * as ledger from './ledger/ledger.js'
import { BudgetConfigError, InvalidInputError, isBudgetError, StorageError } from '../errors.js'
import { memoryOutbox, type HttpOutbox, type HttpOutboxEntry } from './http-outbox.js'
import type {
  Balance,
  BudgetStore,
  CommitRequest,
  CommitResult,
  HistoryEntry,
  PutBudgetResult,
  ReleaseResult,
  ReserveResult,
  SpendRecord,
  StoredBudget,
} from './types.js'

export { memoryOutbox } from './http-outbox.js'
export type { HttpOutbox, HttpOutboxEntry } from './http-outbox.js'

/** Options of {@link httpStore}. */
export interface HttpStoreOptions {
  /** Base URL of the budget server, e.g. `https://budget.internal:8787`. Required. */
  url: string
  /** Bearer token of this tenant (see the server's `auth`). Required. */
  token: string
  /** The `fetch` to use. Default: the global `fetch`. */
  fetch?: typeof fetch
  /** Timeout of one attempt, ms (the request is aborted). Default `5_000`. */
  timeoutMs?: number
  /** Retries after a failed attempt (network error, timeout, 409, 429, 5xx). Default `3`; `0` disables. */
  retries?: number
  /** First backoff delay, ms; doubled per retry, with full jitter. Default `50`. */
  retryBaseDelayMs?: number
  /** Largest backoff delay, ms. Default `2_000`. */
  retryMaxDelayMs?: number
  /** A `Retry-After` longer than this (ms) ends the retries instead of waiting. Default `10_000`. */
  maxRetryAfterMs?: number
  /**
   * Circuit breaker: after `failureThreshold` consecutive failed attempts, operations fail at once (commits go
   * to the outbox) for `cooldownMs`; then one probe is let through. Defaults `5` and `2_000`; `false` disables.
   */
  circuitBreaker?: { failureThreshold?: number; cooldownMs?: number } | false
  /**
   * Where undelivered commits wait. Default: {@link memoryOutbox} (lost if the process dies). On Node use
   * `fileOutbox({ path })` from `llm-budget/file` to survive crashes; one file per process.
   */
  outbox?: HttpOutbox
  /** While the outbox is not empty, how often to try delivering it, ms. Default `1_000`. */
  outboxRetryMs?: number
  /**
   * Called when the server refuses a queued commit for good (a 4xx other than 409/429, e.g. an amount that
   * would overflow). The entry is then removed from the outbox. Default: logs with `console.error`.
   */
  onUndeliverable?: (entry: HttpOutboxEntry, error: unknown) => void
  /**
   * How long, after a commit's `now`, the server must remember its call id, ms. A commit that is retried or
   * delivered from the outbox within this time counts once, even when its first attempt reached the server
   * and only the answer was lost. The manager asks for a short window (`dedupeTtlMs`, 2 minutes) that suits
   * in-process stores; over HTTP the outbox may hold a commit for as long as the server is down, so the store
   * asks for at least this much. Costs the server about 100 bytes per call for the window. Default
   * `86_400_000` (24 hours).
   */
  dedupeTtlMs?: number
  /** Randomness for the backoff jitter, in [0, 1). Default `Math.random`. */
  random?: () => number
}

/** What `commit` resolves with when the commit went to the outbox instead of the server. */
export interface QueuedCommitResult extends CommitResult {
  /** Always `false`: the server has not seen the commit yet. */
  duplicate: false
  /** The commit is in the outbox and will be delivered (exactly once) when the server answers. */
  queued: true
  /** One `{ before: 0, after: 0, reserved: 0 }` per entry: balances are unknown until delivery. */
  balances: { before: 0; after: 0; reserved: 0 }[]
}

/** The store returned by {@link httpStore}: a {@link BudgetStore} plus outbox controls. */
export interface HttpStore extends BudgetStore {
  readonly name: 'http'
  /** Commits waiting in the outbox. */
  pendingCommits(): Promise<number>
  /** Tries to deliver the outbox now; resolves with the number of commits still waiting. */
  flush(): Promise<number>
  /** State of the circuit breaker. */
  readonly circuit: 'closed' | 'open' | 'half-open'
}

interface ErrorBody {
  error?: { code?: unknown; message?: unknown; field?: unknown }
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504])

function randomId(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto
  if (c?.randomUUID !== undefined) return c.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`
}

function positiveInt(field: string, value: number | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min) throw new BudgetConfigError(field, `\`${field}\` must be an integer >= ${min}, got ${String(value)}`)
  return value
}

function parseRetryAfter(value: string | null): number | null {
  if (value === null) return null
  const seconds = Number(value)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now())
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** An error that ends the retries at once (the server answered and will answer the same again). */
class Permanent extends Error {
  constructor(readonly error: Error) {
    super(error.message)
  }
}

/**
 * A store backed by a budget server: one HTTP request per operation, for many app instances (and edge
 * runtimes) sharing budgets without direct database access.
 *
 * While the server cannot be reached, `reserve`, `balances` and the other reads throw `StorageError` (the
 * manager's `onStoreError`, `'deny'` by default, decides admission), and `commit` puts the commit in the
 * outbox and resolves with a {@link QueuedCommitResult} (`queued: true`).
 *
 * @example
 * ```ts
 * const budgets = new BudgetManager({ store: httpStore({ url: 'http://127.0.0.1:8787', token: process.env.BUDGET_TOKEN! }) })
 * ```
 */
export function httpStore(options: HttpStoreOptions): HttpStore {
  if (typeof options !== 'object' || options === null) throw new BudgetConfigError('options', '`httpStore` needs `{ url, token }`')
  let base: URL
  try {
    base = new URL(options.url)
  } catch {
    throw new BudgetConfigError('url', `\`url\` must be an absolute http(s) URL, got ${JSON.stringify(options.url)}`)
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new BudgetConfigError('url', `\`url\` must use http or https, got ${base.protocol}`)
  const baseUrl = base.href.replace(/\/+$/, '')
  if (typeof options.token !== 'string' || !/^[\x21-\x7e]{1,512}$/.test(options.token)) {
    throw new BudgetConfigError('token', '`token` must be 1 to 512 visible ASCII characters (the bearer token the server maps to your tenant)')
  }
  const authorization = `Bearer ${options.token}`
  const doFetch = options.fetch ?? globalThis.fetch
  if (typeof doFetch !== 'function') throw new BudgetConfigError('fetch', 'no global `fetch` in this runtime: pass `fetch`')
  const timeoutMs = positiveInt('timeoutMs', options.timeoutMs, 5_000)
  const retries = positiveInt('retries', options.retries, 3, 0)
  const retryBaseDelayMs = positiveInt('retryBaseDelayMs', options.retryBaseDelayMs, 50)
  const retryMaxDelayMs = positiveInt('retryMaxDelayMs', options.retryMaxDelayMs, 2_000)
  const maxRetryAfterMs = positiveInt('maxRetryAfterMs', options.maxRetryAfterMs, 10_000, 0)
  const outboxRetryMs = positiveInt('outboxRetryMs', options.outboxRetryMs, 1_000)
  const dedupeTtlMs = positiveInt('dedupeTtlMs', options.dedupeTtlMs, 86_400_000)
  const breakerOn = options.circuitBreaker !== false
  const breakerOptions = options.circuitBreaker === false ? {} : (options.circuitBreaker ?? {})
  const failureThreshold = positiveInt('circuitBreaker.failureThreshold', breakerOptions.failureThreshold, 5)
  const cooldownMs = positiveInt('circuitBreaker.cooldownMs', breakerOptions.cooldownMs, 2_000)
  const random = options.random ?? Math.random
  const outbox = options.outbox ?? memoryOutbox()
  const onUndeliverable =
    options.onUndeliverable ??
    ((entry: HttpOutboxEntry, error: unknown) => {
      console.error(`llm-budget httpStore: the server refused queued commit ${entry.request.callId} for good; it was removed from the outbox:`, error)
    })

  // ------------------------------------------------------------------ circuit breaker
  let consecutiveFailures = 0
  let openUntil = 0
  let probing = false
  const circuitState = (): 'closed' | 'open' | 'half-open' => {
    if (!breakerOn || consecutiveFailures < failureThreshold) return 'closed'
    return Date.now() < openUntil ? 'open' : 'half-open'
  }
  /** Whether an attempt may go out now; takes the half-open probe slot when it does. */
  const admitAttempt = (): boolean => {
    const state = circuitState()
    if (state === 'closed') return true
    if (state === 'open' || probing) return false
    probing = true
    return true
  }
  const attemptSucceeded = (): void => {
    consecutiveFailures = 0
    probing = false
    if (outboxHasEntries) scheduleDrain(0)
  }
  const attemptFailed = (): void => {
    probing = false
    consecutiveFailures++
    if (breakerOn && consecutiveFailures >= failureThreshold) openUntil = Date.now() + cooldownMs
  }

  // ------------------------------------------------------------------ one request, with retries
  let closed = false

  async function attempt(path: string, body: string, idempotencyKey: string): Promise<unknown> {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    let response: Response
    let text: string
    try {
      response = await doFetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
        body,
        signal: controller.signal,
      })
      text = await response.text()
    } catch (error) {
      throw new StorageError('http', `${path}: ${controller.signal.aborted ? `no answer within ${timeoutMs} ms` : `request failed (${String((error as Error)?.message ?? error)})`}`, { cause: error })
    } finally {
      clearTimeout(timer)
    }
    if (response.status === 200) {
      try {
        return JSON.parse(text)
      } catch (error) {
        throw new StorageError('http', `${path}: the server answered 200 with a body that is not JSON`, { cause: error })
      }
    }
    let payload: ErrorBody = {}
    try {
      payload = JSON.parse(text) as ErrorBody
    } catch {
      // not JSON: e.g. a reverse proxy's HTML error page
    }
    const code = typeof payload.error?.code === 'string' ? payload.error.code : `HTTP_${response.status}`
    const message = typeof payload.error?.message === 'string' ? payload.error.message : `HTTP ${response.status}`
    if (RETRYABLE_STATUS.has(response.status)) {
      const error = new StorageError('http', `${path}: ${response.status} ${code}: ${message}`)
      ;(error as StorageError & { retryAfterMs?: number | null }).retryAfterMs = parseRetryAfter(response.headers.get('retry-after'))
      throw error
    }
    // The server answered and would answer the same again.
    const field = typeof payload.error?.field === 'string' ? payload.error.field : 'body'
    if (code === 'INVALID_INPUT') throw new Permanent(new InvalidInputError(field, message))
    if (code === 'BUDGET_CONFIG') throw new Permanent(new BudgetConfigError(field, message))
    if (response.status === 401 || response.status === 403) {
      throw new Permanent(new StorageError('http', `${path}: the server refused the token (${response.status} ${code}: ${message}); check \`token\``, { retryable: false }))
    }
    throw new Permanent(new StorageError('http', `${path}: ${response.status} ${code}: ${message}`, { retryable: false }))
  }

  /** Sends one operation, retrying transient failures with the same idempotency key. */
  async function call(path: string, payload: unknown, idempotencyKey: string = randomId(), maxRetries = retries): Promise<unknown> {
    if (closed) throw new StorageError('http', 'the store is closed', { retryable: false })
    const body = JSON.stringify(payload)
    let lastError: unknown
    for (let attemptNumber = 0; ; attemptNumber++) {
      if (!admitAttempt()) {
        throw new StorageError('http', `${path}: the circuit breaker is open after ${consecutiveFailures} failed attempts; the server is not called for ${cooldownMs} ms`, lastError === undefined ? {} : { cause: lastError })
      }
      try {
        const result = await attempt(path, body, idempotencyKey)
        attemptSucceeded()
        return result
      } catch (error) {
        if (error instanceof Permanent) {
          attemptSucceeded() // the server is up
          throw error.error
        }
        attemptFailed()
        lastError = error
        const retryAfterMs = (error as { retryAfterMs?: number | null }).retryAfterMs ?? null
        if (attemptNumber >= maxRetries || closed) break
        if (retryAfterMs !== null && retryAfterMs > maxRetryAfterMs) break
        const backoff = random() * Math.min(retryMaxDelayMs, retryBaseDelayMs * 2 ** attemptNumber)
        await sleep(Math.max(backoff, retryAfterMs ?? 0))
      }
    }
    if (isBudgetError(lastError)) throw lastError
    throw new StorageError('http', `${path}: failed after ${maxRetries + 1} attempts`, { cause: lastError })
  }

  // ------------------------------------------------------------------ outbox
  let outboxHasEntries = true // unknown at start: a previous process may have left entries
  let draining: Promise<number> | null = null
  let drainTimer: ReturnType<typeof setTimeout> | null = null

  function scheduleDrain(delayMs: number): void {
    if (closed || drainTimer !== null || draining !== null) return
    drainTimer = setTimeout(() => {
      drainTimer = null
      void drain().catch(() => undefined)
    }, delayMs)
    ;(drainTimer as { unref?: () => void }).unref?.()
  }

  // Bumped on every enqueue, so that a drain or a commit that read the outbox as empty can tell whether an
  // entry was added meanwhile.
  let enqueueVersion = 0

  async function readOutbox(): Promise<{ entries: HttpOutboxEntry[]; version: number }> {
    const version = enqueueVersion
    const entries = await outbox.entries()
    if (entries.length === 0 && version === enqueueVersion) outboxHasEntries = false
    return { entries, version }
  }

  function drain(): Promise<number> {
    if (draining !== null) return draining
    draining = (async () => {
      let left = 0
      try {
        let pending = (await readOutbox()).entries
        while (pending.length > 0 && !closed) {
          for (const entry of pending) {
            try {
              await call('/v1/commit', entry.request, entry.id, 0)
            } catch (error) {
              if (isBudgetError(error) && error.code === 'STORAGE' && (error as StorageError).retryable) {
                left = (await outbox.entries()).length
                return left
              }
              onUndeliverable(entry, error)
            }
            await outbox.remove(entry.id)
          }
          pending = (await readOutbox()).entries
        }
        left = pending.length
        return left
      } finally {
        draining = null
        if (outboxHasEntries) scheduleDrain(left === 0 ? 0 : outboxRetryMs)
      }
    })()
    return draining
  }

  async function enqueue(request: CommitRequest): Promise<QueuedCommitResult> {
    await outbox.add({ id: randomId(), request: structuredClone(request), queuedAt: Date.now() })
    enqueueVersion++
    outboxHasEntries = true
    scheduleDrain(circuitState() === 'closed' ? 0 : outboxRetryMs)
    return { duplicate: false, queued: true, balances: request.entries.map(() => ({ before: 0, after: 0, reserved: 0 })) }
  }

  async function commit(input: CommitRequest): Promise<CommitResult> {
    ledger.validateCommit(input)
    const request = { ...input, dedupeUntil: Math.max(input.dedupeUntil, input.now + dedupeTtlMs) }
    // Keep the order: while older commits wait, a new one waits behind them.
    if (outboxHasEntries && (await readOutbox()).entries.length > 0) return enqueue(request)
    try {
      return (await call('/v1/commit', request)) as CommitResult
    } catch (error) {
      if (isBudgetError(error) && error.code === 'STORAGE' && (error as StorageError).retryable) return enqueue(request)
      throw error
    }
  }

  async function queryRecords(query: { from?: number; to?: number; limit?: number }): Promise<SpendRecord[]> {
    const out: SpendRecord[] = []
    let from = query.from
    let seenAtFrom = new Set<string>()
    for (;;) {
      const remaining = query.limit === undefined ? undefined : query.limit - out.length
      if (remaining !== undefined && remaining <= 0) break
      const page = (await call('/v1/records', {
        ...(from === undefined ? {} : { from }),
        ...(query.to === undefined ? {} : { to: query.to }),
        ...(remaining === undefined ? {} : { limit: remaining + seenAtFrom.size }),
      })) as { records: SpendRecord[]; more: boolean }
      let added = 0
      for (const record of page.records) {
        if (record.endedAt === from && seenAtFrom.has(record.callId)) continue
        if (remaining !== undefined && added >= remaining) break
        out.push(record)
        added++
      }
      if (!page.more) break
      if (added === 0) throw new StorageError('http', '/v1/records: more records share one `endedAt` than fit in one page; raise the server\'s `maxRecordsPerPage`', { retryable: false })
      const last = out[out.length - 1]!.endedAt
      seenAtFrom = new Set(out.filter((r) => r.endedAt === last).map((r) => r.callId))
      from = last
    }
    return out
  }

  // A previous process may have left commits in a durable outbox.
  scheduleDrain(0)

  return {
    name: 'http',
    get circuit() {
      return circuitState()
    },
    reserve: async (request) => {
      ledger.validateReserve(request)
      return (await call('/v1/reserve', request)) as ReserveResult
    },
    commit,
    release: async (request) => {
      ledger.validateRelease(request)
      return (await call('/v1/release', request)) as ReleaseResult
    },
    balances: async (request) => {
      ledger.validateKeys(request)
      return ((await call('/v1/balances', request)) as { balances: Balance[] }).balances
    },
    reset: async (request) => {
      ledger.validateKeys(request)
      await call('/v1/reset', request)
    },
    getBudget: async (scope) => ((await call('/v1/budgets/get', { scope: ledger.validateScope(scope) })) as { budget: StoredBudget | null }).budget,
    putBudget: async (request) => {
      ledger.validatePutBudget(request)
      return (await call('/v1/budgets/put', request)) as PutBudgetResult
    },
    listBudgets: async () => ((await call('/v1/budgets/list', {})) as { budgets: StoredBudget[] }).budgets,
    getHistory: async (scope) => ((await call('/v1/budgets/history', { scope: ledger.validateScope(scope) })) as { history: HistoryEntry[] }).history,
    queryRecords,
    pendingCommits: async () => (await outbox.entries()).length,
    flush: () => drain(),
    close: async () => {
      if (closed) return
      // One last delivery attempt; what is left stays in a durable outbox for the next process.
      if (outboxHasEntries) await drain().catch(() => undefined)
      closed = true
      if (drainTimer !== null) clearTimeout(drainTimer)
      drainTimer = null
      await outbox.close()
    },
  }
}
