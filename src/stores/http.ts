/**
 * `httpStore({ url, token })`: a store that asks a budget server (`createBudgetHandler` from
 * `llm-budget/server`) to do each operation. Operations issued in the same event-loop tick travel together in
 * one request (`POST /v2/batch`; each keeps its own answer and idempotency key) over keep-alive connections.
 * Imports nothing from `node:`; runs wherever `fetch` exists.
 *
 * Reliability: every attempt has a timeout; failed attempts are retried with jittered exponential backoff
 * that honours `Retry-After`, always with the same `Idempotency-Key` (and every store operation is also
 * idempotent by call id, so a retry never counts twice); a circuit breaker stops hammering a server that is
 * down; commits that cannot be delivered go to an outbox and are delivered in order when the server is back;
 * a reserve whose outcome is unknown is released by call id, so a late arrival holds nothing.
 *
 * The parts live in `./http/`: options, transport (with batching), caller (retries), breaker, outbox delivery,
 * releases of unknown reserves, record paging. Daily rollups come from the server's store, scoped to this tenant.
 *
 * @packageDocumentation
 */
import * as ledger from './ledger/ledger.js'
import { isBudgetError, StorageError } from '../errors.js'
import { memoryOutbox, type HttpOutbox, type HttpOutboxEntry } from './http-outbox.js'
import { CircuitBreaker } from './http/breaker.js'
import { createCaller } from './http/caller.js'
import { resolveHttpOptions } from './http/options.js'
import { OutboxDelivery } from './http/outbox-delivery.js'
import { queryAllRecords } from './http/records.js'
import { validateRollupQuery } from './ledger/rollups.js'
import { UnknownReserveReleases } from './http/releases.js'
import { Transport } from './http/transport.js'
import type {
  Balance,
  BudgetStore,
  CommitRequest,
  CommitResult,
  HistoryEntry,
  PutBudgetResult,
  ReleaseResult,
  ReserveResult,
  RollupQuery,
  RollupResult,
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
  /**
   * Coalescing: operations issued in the same event-loop tick go to the server in one `POST /v2/batch` request
   * (at most `maxOperations` operations and about `maxBytes` bytes each; an operation alone in its tick goes to
   * its own endpoint). Defaults `256` and `524288`; `false` sends one request per operation. A server without
   * the batch endpoint is detected and served one request per operation.
   */
  batch?: boolean | { maxOperations?: number; maxBytes?: number }
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
  /**
   * Tries to deliver the outbox now, and waits for the releases of reserves whose outcome was unknown; resolves
   * with the number of commits still waiting.
   */
  flush(): Promise<number>
  /**
   * Daily rollups of this tenant (see {@link BudgetStore.queryRollups}), from the server's store. The coverage is
   * the server store's, shared by its tenants. Throws a `StorageError` when the server's store keeps no rollups.
   */
  queryRollups(query: RollupQuery): Promise<RollupResult>
  /** State of the circuit breaker. */
  readonly circuit: 'closed' | 'open' | 'half-open'
}

/**
 * A store backed by a budget server, for many app instances (and edge runtimes) sharing budgets without direct
 * database access.
 *
 * While the server cannot be reached, `reserve`, `balances` and the other reads throw `StorageError` (the
 * manager's `onStoreError`, `'deny'` by default, decides admission), and `commit` puts the commit in the
 * outbox and resolves with a {@link QueuedCommitResult} (`queued: true`). Errors name the server URL and the
 * operation.
 *
 * @example
 * ```ts
 * const budgets = new BudgetManager({ store: httpStore({ url: 'http://127.0.0.1:8787', token: process.env.BUDGET_TOKEN! }) })
 * ```
 */
export function httpStore(options: HttpStoreOptions): HttpStore {
  const o = resolveHttpOptions(options)
  let closed = false
  const transport = new Transport({
    baseUrl: o.baseUrl,
    authorization: o.authorization,
    fetch: o.fetch,
    timeoutMs: o.timeoutMs,
    batch: o.batch,
  })
  const breaker = new CircuitBreaker(o.breaker, () => {
    if (delivery.mayHaveEntries) delivery.schedule(0)
  })
  const call = createCaller({
    baseUrl: o.baseUrl,
    transport,
    breaker,
    retries: o.retries,
    retryBaseDelayMs: o.retryBaseDelayMs,
    retryMaxDelayMs: o.retryMaxDelayMs,
    maxRetryAfterMs: o.maxRetryAfterMs,
    random: o.random,
    isClosed: () => closed,
  })
  const delivery = new OutboxDelivery(o.outbox ?? memoryOutbox(), call, o.outboxRetryMs, o.onUndeliverable)
  const releases = new UnknownReserveReleases(call, o.outboxRetryMs)
  const unknownOutcome = (error: unknown): boolean =>
    isBudgetError(error) && error.code === 'STORAGE' && (error as StorageError).retryable

  async function commit(input: CommitRequest): Promise<CommitResult> {
    ledger.validateCommit(input)
    const request = { ...input, dedupeUntil: Math.max(input.dedupeUntil, input.now + o.dedupeTtlMs) }
    // Keep the order: while older commits wait, a new one waits behind them.
    if (delivery.mayHaveEntries && (await delivery.read()).length > 0) return queued(request)
    try {
      return (await call('commit', request)) as CommitResult
    } catch (error) {
      if (unknownOutcome(error)) return queued(request)
      throw error
    }
  }

  async function queued(request: CommitRequest): Promise<QueuedCommitResult> {
    await delivery.enqueue(request, breaker.state === 'closed')
    return {
      duplicate: false,
      queued: true,
      balances: request.entries.map(() => ({ before: 0, after: 0, reserved: 0 })),
    }
  }

  // A previous process may have left commits in a durable outbox.
  delivery.schedule(0)

  return {
    name: 'http',
    get circuit() {
      return breaker.state
    },
    reserve: async (request) => {
      ledger.validateReserve(request)
      try {
        return (await call('reserve', request)) as ReserveResult
      } catch (error) {
        // The reserve may have been applied, or may be applied later: release its call id.
        if (unknownOutcome(error)) releases.add(request)
        throw error
      }
    },
    commit,
    release: async (request) => {
      ledger.validateRelease(request)
      return (await call('release', request)) as ReleaseResult
    },
    balances: async (request) => {
      ledger.validateKeys(request)
      return ((await call('balances', request)) as { balances: Balance[] }).balances
    },
    reset: async (request) => {
      ledger.validateKeys(request)
      await call('reset', request)
    },
    getBudget: async (scope) =>
      ((await call('getBudget', { scope: ledger.validateScope(scope) })) as { budget: StoredBudget | null }).budget,
    putBudget: async (request) => {
      ledger.validatePutBudget(request)
      return (await call('putBudget', request)) as PutBudgetResult
    },
    listBudgets: async () => ((await call('listBudgets', {})) as { budgets: StoredBudget[] }).budgets,
    getHistory: async (scope) =>
      ((await call('getHistory', { scope: ledger.validateScope(scope) })) as { history: HistoryEntry[] }).history,
    queryRecords: (query) => queryAllRecords(call, query),
    queryRollups: async (query) => {
      validateRollupQuery(query)
      const { from, to, scopes } = query
      return (await call('queryRollups', { from, to, scopes })) as RollupResult
    },
    pendingCommits: async () => (await delivery.outbox.entries()).length,
    flush: async () => {
      await releases.settle()
      return delivery.drain()
    },
    close: async () => {
      if (closed) return
      // One last delivery attempt; what is left stays in a durable outbox for the next process.
      await delivery.close()
      releases.close()
      closed = true
    },
  }
}
