/**
 * `BudgetManager`: budgets per scope on an exact, atomic, windowed ledger.
 *
 * A call is admitted by reserving its worst case on every ledger key it counts against (one key per
 * applicable budget, window and unit) in one atomic store operation, then committing the actual cost or
 * releasing the hold. The store does the arithmetic; the manager owns policy, prices and time.
 *
 * This class is a facade: the work is done by the modules in `manager/` (policy compilation, the budget cache,
 * planning, admission, commit, crossings, budget CRUD, status), which share one internal context.
 *
 * @packageDocumentation
 */
import { defaultCatalog } from '../cost/catalog.js'
import type { BudgetStore, HistoryEntry, SpendRecord } from '../stores/types.js'
import { type BudgetDefinition, validateDefinition } from './definition.js'
import type { BudgetEventName, BudgetListener } from './events.js'
import * as litellm from './litellm.js'
import type { ProjectedCostInput, UpdateCostInput } from './litellm.js'
import type { Duration } from './windows.js'
import { MAX_NANO } from './money.js'
import { providerBudgetDefinitions, type ProviderBudgetConfig } from './provider-budgets.js'
import type { SpendQuery, SpendReport } from './records.js'
import { routingHost, selectDeployment, type Deployment, type SelectDeploymentOptions } from './routing.js'
import { type BudgetRun, type RunOptions, startRun } from './run.js'
import { type CallContext, type ResolvedContext, type ScopeInput, resolveContext } from './scopes.js'
import { reserveResolved as admitResolved } from './manager/admission.js'
import * as crud from './manager/budget-crud.js'
import { recordCall } from './manager/commit.js'
import { type ManagerContext, createContext } from './manager/context.js'
import { querySpend, spendRecords } from './manager/spend-queries.js'
import { getStatus } from './manager/status.js'

// The public types of the manager live in manager-types.ts; re-exported here for its importers.
export type * from './manager-types.js'
import type {
  Clock,
  BudgetManagerOptions,
  Estimate,
  ReserveOptions,
  CommitInput,
  CommitOutcome,
  Reservation,
  BudgetInfo,
  BudgetStatus,
  IncreaseInput,
} from './manager-types.js'

let contextOf: (manager: BudgetManager) => ManagerContext

/**
 * `manager.reserve()` with a context validated once (withBudget's static contexts): the reservation itself when the
 * store answered synchronously, else a promise of it; a refusal may be thrown. Internal: not exported from any
 * entry point.
 */
export function reserveResolved(
  manager: BudgetManager,
  resolved: ResolvedContext,
  estimate: Estimate,
  options?: ReserveOptions,
): Reservation | Promise<Reservation> {
  return admitResolved(contextOf(manager), resolved, estimate, options)
}

/**
 * Tracks and limits LLM spend per scope (global, org, team, user, key, end user, tag, provider, deployment,
 * model) with exact integer money, atomic admission and windows that reset by themselves.
 *
 * @example
 * ```ts
 * const budgets = new BudgetManager({ store: memoryStore() })
 * await budgets.setBudget('team:search', { maxBudget: 500, duration: 'monthly' })
 * const reservation = await budgets.reserve({ team: 'search', user: 'alice' }, 0.05)
 * await reservation.commit({ usage: response.usage, model: 'gpt-4o' })
 * ```
 */
export class BudgetManager {
  /** The store this manager uses. */
  readonly store: BudgetStore
  /** The clock this manager uses. */
  readonly clock: Clock
  /** Project name written into records, or `null`. */
  readonly projectName: string | null
  readonly #ctx: ManagerContext

  static {
    contextOf = (manager) => manager.#ctx
  }

  constructor(options: BudgetManagerOptions = {}) {
    this.#ctx = createContext(options)
    this.store = this.#ctx.store
    this.clock = this.#ctx.clock
    this.projectName = this.#ctx.projectName
  }

  // ------------------------------------------------------------------------------------------------ events

  /**
   * Subscribes to an event; returns a function that unsubscribes. Listeners never block or fail a call.
   *
   * @example
   * ```ts
   * const off = budgets.on('threshold.crossed', (e) => notify(`${e.scope} at ${e.percent}%`))
   * ```
   */
  on<E extends BudgetEventName>(event: E, listener: BudgetListener<E>): () => void {
    return this.#ctx.events.on(event, listener)
  }

  // ------------------------------------------------------------------------------------------------ calls

  /**
   * Reserves the worst case of a call on every budget that applies to its context, atomically: either every
   * budget admits it (`spent + reserved + estimate <= limit`) and the amounts are held, or nothing changes and
   * the call is refused.
   *
   * @param context Who the call counts against (`{ user, team, org, key, endUser, tags, model, provider, deployment }`).
   * @param estimate Worst case in USD, or `{ model, inputTokens | messages, maxOutputTokens }` to estimate from prices.
   * @throws BudgetExceededError naming the budget that refused; RateLimitError for rpm/tpm/parallel limits;
   *   InvalidInputError for bad input (nothing changed); StorageError when the store fails and `onStoreError` is `deny`.
   */
  async reserve(context: CallContext, estimate: Estimate, options: ReserveOptions = {}): Promise<Reservation> {
    return admitResolved(this.#ctx, resolveContext(context), estimate, options)
  }

  /**
   * Records a call that was not reserved (spend that happened anyway, imports, batch jobs). It is never
   * refused; it can take a budget over its limit (reported as overshoot).
   *
   * @param usageOrCost A USD number, or `{ cost? | usage?, model?, provider?, status?, metadata? }`.
   * @throws InvalidInputError for bad input (nothing changed).
   */
  record(context: CallContext, usageOrCost: CommitInput, options: ReserveOptions = {}): Promise<CommitOutcome> {
    return recordCall(this.#ctx, context, usageOrCost, options)
  }

  /**
   * Runs `fn` inside a run budget (runaway protection). Every budgeted call made inside it (this manager,
   * `withBudget`, the SDK wrappers, routing) reserves on the run as well as on its scopes, in the same atomic
   * reservation; a run started inside another draws on the parent's remainder too. Resolves to what `fn` returns;
   * `run.spent()` says what the run cost.
   *
   * @example
   * ```ts
   * const report = await budgets.run({ maxBudget: 0.25, name: 'triage' }, async (run) => {
   *   const text = await summarize(ticket) // refused with BudgetExceededError once the run has spent $0.25
   *   return { text, cost: await run.spent() }
   * })
   * ```
   * @throws BudgetConfigError for bad options (nothing started); whatever `fn` throws.
   */
  run<T>(options: RunOptions, fn: (run: BudgetRun) => T | Promise<T>): Promise<T> {
    return startRun(this.#ctx.store, this.#ctx.clock, this.#ctx.holdTtlMs, options, fn)
  }

  // ------------------------------------------------------------------------------------------------ budgets

  /**
   * Picks a deployment whose budgets (provider, `deployment:<id>`, model, tags and the context's own scopes) admit
   * the call, and reserves it there: one atomic reservation per candidate, tried in the strategy's order, so
   * concurrent callers never overfill a deployment. Commit or release the returned reservation as usual.
   *
   * @example
   * ```ts
   * const { deployment, reservation } = await budgets.selectDeployment(
   *   [{ id: 'oai', model: 'gpt-4o', provider: 'openai' }, { id: 'claude', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' }],
   *   { context: { user: 'alice' }, estimate: { inputTokens: 1_000, maxOutputTokens: 500 } },
   * )
   * ```
   * @throws BudgetExceededError naming what refused each candidate when none fits; InvalidInputError for bad input.
   */
  selectDeployment(
    deployments: readonly Deployment[],
    options: SelectDeploymentOptions,
  ): Promise<{ deployment: Deployment; reservation: Reservation }> {
    return selectDeployment(routingHost<Reservation>(this, this.#ctx.catalog ?? defaultCatalog), deployments, options)
  }

  /**
   * Sets provider budgets in LiteLLM's `provider_budget_config` shape, e.g.
   * `{ openai: { budget_limit: 1000, time_period: '30d' } }`. Each becomes a `provider:<name>` budget (windows, alerts,
   * history). The whole config is validated before anything is written.
   */
  async setProviderBudgets(config: ProviderBudgetConfig, options: { reason?: string } = {}): Promise<BudgetInfo[]> {
    const definitions = providerBudgetDefinitions(config)
    for (const { definition } of definitions) validateDefinition(definition)
    const written: BudgetInfo[] = []
    for (const { scope, definition } of definitions)
      written.push(await this.setBudget(scope, definition, { reason: options.reason ?? 'provider budget' }))
    return written
  }

  /**
   * Creates or replaces the budget of a scope. Spend to date is kept (a raised or lowered limit applies to
   * the current window's spend). Validated: a bad definition is a `BudgetConfigError` naming the field.
   *
   * @example
   * ```ts
   * await budgets.setBudget('user:alice', { maxBudget: 20, duration: 'monthly', modelMaxBudget: { 'gpt-4o': { maxBudget: 5 } } })
   * ```
   */
  setBudget(scope: ScopeInput, definition: BudgetDefinition, options: { reason?: string } = {}): Promise<BudgetInfo> {
    return crud.setBudget(this.#ctx, scope, definition, options)
  }

  /** The stored budget of a scope (read from the store, not the cache), or `null`. Defaults are not stored budgets. */
  getBudget(scope: ScopeInput): Promise<BudgetInfo | null> {
    return crud.getBudget(this.#ctx, scope)
  }

  /** Deletes the budget of a scope (kept in the history). Returns false when there was none. */
  deleteBudget(scope: ScopeInput, options: { reason?: string } = {}): Promise<boolean> {
    return crud.deleteBudget(this.#ctx, scope, options)
  }

  /**
   * Raises a budget's limit temporarily: `amount` USD on top of `maxBudget` until `until`, then it expires by
   * itself. Kept in the history with its reason.
   */
  increaseBudget(scope: ScopeInput, increase: IncreaseInput): Promise<BudgetInfo> {
    return crud.increaseBudget(this.#ctx, scope, increase)
  }

  /** Audit history of a scope's budget (create, update, increase, reset, delete), oldest first. */
  getHistory(scope: ScopeInput): Promise<HistoryEntry[]> {
    return crud.getHistory(this.#ctx, scope)
  }

  /**
   * Spend, holds and limit of a scope in its current window.
   *
   * @throws InvalidInputError when the scope has no budget (stored or default).
   */
  getStatus(scope: ScopeInput): Promise<BudgetStatus> {
    return getStatus(this.#ctx, scope)
  }

  /**
   * Sets the spend of a scope to zero, in its current window and all-time (holds of calls in flight are kept), with a
   * history entry; the spend getters count from then on. Works for scopes without a budget too.
   */
  resetScope(scope: ScopeInput, options: { reason?: string } = {}): Promise<void> {
    return crud.resetScope(this.#ctx, scope, options)
  }

  // ------------------------------------------------------------------------------------------------ spend

  /**
   * Spend records aggregated exactly (sums of integer nano-USD), filtered by time, scope, model and tags and
   * grouped by `day`, `model`, `user`, `team`, ... See {@link SpendQuery}.
   */
  querySpend(query: SpendQuery = {}): Promise<SpendReport> {
    return querySpend(this.#ctx, query)
  }

  /** The spend records matching a query (same filters as {@link querySpend}), oldest first. */
  spendRecords(query: SpendQuery = {}): Promise<SpendRecord[]> {
    return spendRecords(this.#ctx, query)
  }

  // ------------------------------------------------------------------------------------------------ LiteLLM-compatible
  // A `user` argument is `'erin'` or `'user:erin'`; another scope type (`'team:x'`) is refused.

  /** LiteLLM `create_budget`: a budget for a user (`duration`: `daily`, `weekly`, `monthly`, `yearly` or `<n><unit>`). */
  createBudget(input: { user: string; totalBudget: number; duration?: Duration | undefined }): Promise<BudgetInfo> {
    return litellm.createBudget(this, input)
  }

  /** LiteLLM `update_cost`: records a call's cost for a user, from a response (`completionResponse`), a usage and model, or a known cost. */
  updateCost(input: UpdateCostInput): Promise<CommitOutcome> {
    return litellm.updateCost(this, input)
  }

  /**
   * LiteLLM `get_current_cost`: the user's spend, USD. With a budget (stored or from `defaults`), the spend in its
   * current window (a calendar budget created mid-window includes what was recorded earlier in that window);
   * without one, all-time spend (see `spendTrackingTtlMs`). Since the last `resetCost` either way.
   */
  getCurrentCost(user: string): Promise<number> {
    return litellm.getCurrentCost(this, user)
  }

  /** LiteLLM `get_total_budget`: the user's `maxBudget` in USD (0 when none). */
  getTotalBudget(user: string): Promise<number> {
    return litellm.getTotalBudget(this, user)
  }

  /** LiteLLM `get_model_cost`: the user's spend per served model (e.g. `gpt-4o-2024-08-06`), over the span of {@link getCurrentCost}. */
  getModelCost(user: string): Promise<Record<string, number>> {
    return litellm.getModelCost(this, user)
  }

  /** LiteLLM `is_valid_user`: true when the user has a stored budget. */
  isValidUser(user: string): Promise<boolean> {
    return litellm.isValidUser(this, user)
  }

  /** LiteLLM `get_users`: ids of users with a stored budget. */
  getUsers(): Promise<string[]> {
    return litellm.getUsers(this)
  }

  /** LiteLLM `projected_cost`: the user's current spend plus the input cost of `messages` (or `inputTokens`). */
  projectedCost(input: ProjectedCostInput): Promise<number> {
    return litellm.projectedCost(this, this.#ctx.catalog, input)
  }

  /** LiteLLM `reset_cost`: the user's spend starts over now: window, all-time and per-model spend read 0. */
  resetCost(user: string): Promise<void> {
    return litellm.resetCost(this, user)
  }

  /**
   * LiteLLM `reset_on_duration`: applies elapsed windows. Windows here start from zero by themselves, so this only
   * reports whether the user's budget is in a window that began after its last change.
   */
  resetOnDuration(user: string): Promise<{ reset: boolean; resetsAt: Date | null }> {
    return litellm.resetOnDuration(this, user)
  }

  /** LiteLLM `update_budget_all_users`: applies elapsed windows for every user (automatic here; returns the users checked). */
  updateBudgetAllUsers(): Promise<string[]> {
    return litellm.getUsers(this)
  }

  /** LiteLLM `save_data`: every operation is already written to the store, so this only confirms it. */
  saveData(): Promise<{ status: 'success' }> {
    return Promise.resolve({ status: 'success' })
  }
}

export { MAX_NANO }
