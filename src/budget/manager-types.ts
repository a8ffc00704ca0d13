/**
 * The public types of `BudgetManager`: its options, reservations, commits and answers.
 *
 * @packageDocumentation
 */
import type { PriceCatalog } from '../cost/catalog.js'
import type { BudgetStore, SpendRecord } from '../stores/types.js'
import type { BudgetDefinition, BudgetIncrease } from './definition.js'
import type { EstimateRequest } from './pricing.js'
import type { CallContext, Scope, ScopeString, ScopeType } from './scopes.js'

/** A clock: epoch milliseconds. */
export interface Clock {
  now(): number
}

/** Options of {@link BudgetManager}. */
export interface BudgetManagerOptions {
  /** A name for this project, written into every spend record (LiteLLM's `project_name`). */
  projectName?: string | undefined
  /** Where balances, budgets and records live. Default: a new `memoryStore()`. */
  store?: BudgetStore | undefined
  /** Price catalog for estimates and costs. Default: the bundled `defaultCatalog`. */
  catalog?: PriceCatalog | undefined
  /** Time source. Default: the store's clock if it has one (Redis), else the system clock. */
  clock?: Clock | undefined
  /**
   * When the store cannot answer: `deny` (default) refuses the call with a `StorageError`; `allow` admits it
   * unguarded and reports `store.error`.
   */
  onStoreError?: 'deny' | 'allow' | undefined
  /**
   * Budgets for never-seen entities, by scope type, e.g. `{ endUser: { maxBudget: 1, duration: 'daily' } }`.
   * A scope with its own stored budget uses that instead. Applied atomically (the limit travels with the
   * reservation), also for concurrent first calls.
   */
  defaults?: Partial<Record<Exclude<ScopeType, 'global'>, BudgetDefinition>> | undefined
  /** How long a hold counts if its call is never committed or released (the process died). Default 10 minutes. */
  holdTtlMs?: number | undefined
  /** How long budget definitions are cached; other instances see a change after at most this long. Default 1000. Local writes invalidate at once. */
  budgetCacheTtlMs?: number | undefined
  /** Most budget definitions cached. Default 100,000. */
  budgetCacheMax?: number | undefined
  /**
   * How long the store remembers a committed call id after the commit, so a retried commit (a network retry
   * to a Redis or HTTP store) counts once. Default 2 minutes. A `Reservation` object dedupes its own
   * commits for its whole life regardless.
   */
  dedupeTtlMs?: number | undefined
  /**
   * How long the all-time spend of a scope is kept after its last call (a sliding expiry). Every scope a call names
   * (user, team, org, key, end user, tags, model, provider, deployment) has one all-time ledger key, budget or
   * not; a key untouched for this long is forgotten, so memory stays bounded by the scopes active within it.
   * Default 90 days. Use `Infinity` to keep every scope's spend forever.
   */
  spendTrackingTtlMs?: number | undefined
}

/** What a reservation holds: a USD amount, or a request to estimate from the price catalog. */
export type Estimate = number | EstimateRequest

/** Options of {@link BudgetManager.reserve}. */
export interface ReserveOptions {
  /** Your own call id (1 to 120 characters); reusing it makes a retried reservation a no-op. */
  callId?: string | undefined
  /**
   * Whether a budget's `onExceeded: { fallbackModel }` may admit its fallback model instead of refusing (default
   * `true`; the reservation's `model` then names the fallback, and the caller must call that model). Pass `false`
   * when the caller cannot switch models: the call is refused instead.
   */
  allowFallback?: boolean | undefined
}

/** What a call cost: a USD number, or the details to price it. */
export type CommitInput =
  | number
  | {
      /** Actual cost in USD, when you know it. */
      cost?: number | undefined
      /** Usage in any shape `normalizeUsage` accepts; priced with the catalog. */
      usage?: unknown
      /** Model that served the call (default: the reservation's model). */
      model?: string | undefined
      /** Provider that served the call. */
      provider?: string | undefined
      /** Outcome of the call. Default `success` (`estimated` when no cost or usage is given). */
      status?: CallStatus | undefined
      /** Marks the cost as an estimate (e.g. an aborted stream without usage). */
      estimated?: boolean | undefined
      /** Numbers and ids for the record (never content). */
      metadata?: Record<string, string | number | boolean | null> | undefined
    }

/** Status of a recorded call. */
export type CallStatus = 'success' | 'failure' | 'aborted' | 'estimated' | 'cache_hit'

/** A limit that a commit went above. */
export interface Overshoot {
  scope: ScopeString
  model?: string
  /** Limit, USD. */
  limit: number
  /** Spend after the commit, USD. */
  spent: number
  /** Spend above the limit, USD. */
  overshoot: number
}

/** The answer of {@link Reservation.commit} and {@link BudgetManager.record}. */
export interface CommitOutcome {
  callId: string
  /** True when this call id was already committed: nothing changed. */
  duplicate: boolean
  /** Cost recorded, USD. */
  cost: number
  /** Exact cost. */
  exact: { cost: string }
  /** Cost recorded, integer nano-USD. */
  costNanoUsd: number
  /** True when the cost is an estimate. */
  estimated: boolean
  status: CallStatus
  /** Limits this commit went above. */
  overshoot: Overshoot[]
  /** The record written (null for a duplicate). */
  record: SpendRecord | null
}

/** A held reservation: commit the actual cost or release it, exactly once (both are idempotent). */
export interface Reservation {
  /** The call id. */
  readonly callId: string
  /** The validated context. */
  readonly context: CallContext
  /** What was reserved on each money budget, USD. */
  readonly estimateUsd: number
  /** The model to call: the requested one, or a budget's `fallbackModel` when it replaced it. */
  readonly model: string | undefined
  /** When the holds stop counting if neither committed nor released, epoch ms. */
  readonly holdExpiresAt: number
  /** False when the store failed and `onStoreError: 'allow'` admitted the call unguarded. */
  readonly guarded: boolean
  /** Records the actual cost and removes the holds. A second call returns the first outcome with `duplicate: true`. */
  commit(input?: CommitInput): Promise<CommitOutcome>
  /** Drops the holds (the call did not happen). No-op after commit or a previous release. */
  release(): Promise<void>
}

/** A budget as stored, with its bookkeeping. */
export interface BudgetInfo {
  scope: Scope
  definition: BudgetDefinition
  /** Temporary increases that have not expired. */
  increases: BudgetIncrease[]
  revision: number
  createdAt: Date
  updatedAt: Date
}

/** Spend of a scope in its current window. Amounts in USD; `exact` holds the same as decimal strings. */
export interface BudgetStatus {
  scope: Scope
  /** Committed spend in the window. */
  spend: number
  /** Held by calls in flight. */
  reserved: number
  /** Hard limit with live increases, or `null` without `maxBudget`. */
  limit: number | null
  /** `limit - spend - reserved`, never below 0, or `null` without a limit. */
  remaining: number | null
  /** `spend / limit * 100`, or `null` without a limit. */
  percentUsed: number | null
  /** Start of the window, or `null` for a budget without a window. */
  windowStart: Date | null
  /** When the window resets, or `null`. */
  resetsAt: Date | null
  /** Window id, e.g. `m2026-11`, or `all`. */
  windowId: string
  /** True when the budget comes from `defaults` (no stored budget for this scope). */
  isDefault: boolean
  /** USD spent by the end of the window at the window's average burn rate so far (see docs/alerts.md#forecast). */
  projectedSpend: number
  /** When spend plus holds reaches the limit at that rate, or `null` (no limit, no spend, or the window ends first). */
  exhaustsAt: Date | null
  exact: { spend: string; reserved: string; limit: string | null; remaining: string | null; projectedSpend: string }
}

/** Input of {@link BudgetManager.increaseBudget}. */
export interface IncreaseInput {
  /** Extra USD on top of `maxBudget`. */
  amount: number
  /** When the increase ends (it expires by itself). */
  until: Date | number
  /** Why; kept in the history. */
  reason?: string | undefined
}
