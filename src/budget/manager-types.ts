/**
 * The public types of `BudgetManager`: its options, reservations, commits and answers.
 *
 * @packageDocumentation
 */
import type { PriceCatalog } from '../cost/catalog.js'
import type { BudgetStore, SpendRecord } from '../stores/types.js'
import type { ExchangeRates } from './currency.js'
import type { BudgetDefinition, BudgetIncrease } from './definition.js'
import type { BurstStatus } from './burst.js'
import type { EstimateRequest } from './pricing.js'
import type { ProviderBudgetConfig } from './provider-budgets.js'
import type { RunScopeString } from './run.js'
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
  /**
   * Exchange rates for budgets declared in another currency (`currency: 'EUR'`), as USD per one unit: a table
   * `{ EUR: 1.08, GBP: 1.27 }`, or a function `(currency, at) => rate` (sync or async) asked when a window opens.
   * A budget's limit is converted at the rate in force when its window opens and kept for that window (pinned in
   * the stored budget, so every instance uses the same rate). See docs/currency.md.
   */
  exchangeRates?: ExchangeRates | undefined
  /**
   * Provider budgets in LiteLLM's `provider_budget_config` shape, e.g. `{ openai: { budget_limit: 1000, time_period:
   * '30d' } }` (as `setProviderBudgets`). Validated by the constructor, written to the store once before this
   * manager's first use; idempotent across instances (a budget already stored with the same limit and period is left
   * as it is).
   */
  providerBudgets?: ProviderBudgetConfig | undefined
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
      /**
       * With status `cache_hit`: what the call would have cost, USD (the cost of the cached original). Recorded as
       * `saved` and `savedNanoUsd`, and summed by `querySpend`.
       */
      saved?: number | undefined
      /** Numbers and ids for the record (never content). */
      metadata?: Record<string, string | number | boolean | null> | undefined
    }

/** Status of a recorded call. */
export type CallStatus = 'success' | 'failure' | 'aborted' | 'estimated' | 'cache_hit'

/** A limit that a commit went above. */
export interface Overshoot {
  /** The budget overshot; `run:<name>` for a run budget (`manager.run()`). */
  scope: ScopeString | RunScopeString
  model?: string
  /** Duration of the burst window (`1m`) when the overshoot is on a burst limit. */
  burst?: string
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
  /**
   * The record written (null for a duplicate). Its `context` and `metadata` objects are frozen (the `context` may be
   * the previous record's, and empty metadata one shared object): copy them to change them. Assigning to the
   * record's own fields afterwards changes no stored record (nested objects such as `usage` are not copied).
   */
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

/**
 * Spend of a scope in its current window. Amounts in the budget's `currency` (USD unless the budget says otherwise),
 * the same in USD under `usd`; `exact` holds the USD amounts as exact decimal strings.
 */
export interface BudgetStatus {
  scope: Scope
  /** ISO 4217 code of the amounts: the budget's currency, `USD` by default. */
  currency: string
  /** USD per one unit of `currency` pinned for this window (1 for USD). */
  rate: number
  /** When the window's rate was read, or `null` for USD. */
  rateAt: Date | null
  /** The money amounts in USD. */
  usd: { spend: number; reserved: number; limit: number | null; remaining: number | null; projectedSpend: number }
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
  /** The burst windows (`burst` in the definition), each in its current window; absent when the budget has none. */
  bursts?: BurstStatus[]
  /** Spend by the end of the window at the window's average burn rate so far (see docs/alerts.md#forecast). */
  projectedSpend: number
  /** When spend plus holds reaches the limit at that rate, or `null` (no limit, no spend, or the window ends first). */
  exhaustsAt: Date | null
  /** The USD amounts as exact decimal strings. */
  exact: { spend: string; reserved: string; limit: string | null; remaining: string | null; projectedSpend: string }
}

/** Input of {@link BudgetManager.increaseBudget}. */
export interface IncreaseInput {
  /** Extra amount on top of `maxBudget`, in the budget's currency. */
  amount: number
  /** When the increase ends (it expires by itself). */
  until: Date | number
  /** Why; kept in the history. */
  reason?: string | undefined
}
