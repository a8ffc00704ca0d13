/**
 * Policy compilation: a stored or default definition becomes a {@link CompiledBudget} for one scope. Policies and
 * calendar window specs are shared between budgets with the same definition, so a million budgets on a few plans
 * keep a few policies. Internal to the manager.
 *
 * @packageDocumentation
 */
import { flatString, scopePrefix } from '../../stores/ledger/keys.js'
import type { StoredBudget } from '../../stores/types.js'
import { type BudgetDefinition, type StoredDefinition, fromStoredJson } from '../definition.js'
import { currencyState } from '../currency-pins.js'
import { limitToNano } from '../currency.js'
import { usdToNano } from '../money.js'
import { type Scope, type ScopeString, type ScopeType, scopeKey } from '../scopes.js'
import { type WindowSpec, parseDuration } from '../windows.js'
import { compileBursts, rollingBursts } from '../burst.js'
import type { BudgetPolicy, CompiledBudget, ModelPolicy } from './compiled.js'

/** Shared by every budget without increases / thresholds (read only). */
const NO_INCREASES: readonly { amountNano: number; until: number }[] = []
const NO_THRESHOLDS: readonly number[] = []
/** Shared by every budget without per-model limits (read only). */
const NO_MODELS: ReadonlyMap<string, ModelPolicy> = new Map()
/** Most distinct budget policies kept for sharing (then the table starts over). */
const MAX_POLICIES = 1024

/** Compiles definitions into budgets, sharing policies and calendar window specs; knows the per-type defaults. */
export class PolicyCompiler {
  readonly #policies = new Map<string, BudgetPolicy>()
  readonly #calendarSpecs = new Map<string, WindowSpec>()

  /** @param defaults The default budget of each scope type (`BudgetManagerOptions.defaults`). */
  constructor(private readonly defaults: ReadonlyMap<ScopeType, BudgetDefinition>) {}

  /**
   * The window spec of a duration. Calendar windows do not depend on the anchor, so every budget with the same
   * duration, zone and week start shares one spec object, and with it one cached window: 100,000 monthly
   * budgets cost one window computation and one window object, not 100,000.
   */
  #windowSpec(
    duration: string,
    timezone: string | undefined,
    weekStartsOn: WindowSpec['weekStartsOn'],
    anchor: number,
  ): WindowSpec {
    const calendar = parseDuration(duration).kind === 'calendar'
    const cacheKey = calendar ? `${duration}|${timezone ?? ''}|${weekStartsOn ?? ''}` : undefined
    const shared = cacheKey === undefined ? undefined : this.#calendarSpecs.get(cacheKey)
    if (shared !== undefined) return shared
    const spec: WindowSpec = calendar ? { duration } : { duration, anchor }
    if (timezone !== undefined) spec.timezone = timezone
    if (weekStartsOn !== undefined) spec.weekStartsOn = weekStartsOn
    if (cacheKey !== undefined) this.#calendarSpecs.set(cacheKey, spec)
    return spec
  }

  /**
   * The shared policy of a definition (with the anchor of its rolling windows and its live increases); the amounts of
   * a budget in another currency are converted exactly at `rate` USD per unit.
   */
  #policyOf(stored: StoredDefinition, rate?: number): BudgetPolicy {
    const d = stored.definition
    const toNano = rate === undefined ? usdToNano : (amount: number, _field: string) => limitToNano(amount, rate)
    // The anchor only moves rolling windows: budgets on calendar windows share a policy whatever their creation time.
    const rolling = (duration: string | undefined): boolean =>
      duration !== undefined && parseDuration(duration).kind === 'rolling'
    const anchored =
      rolling(d.duration) ||
      Object.values(d.modelMaxBudget ?? {}).some((limit) => rolling(limit.duration)) ||
      rollingBursts(d.burst)
    // Everything the policy is computed from (never `metadata`), as text: equal text, equal policy.
    const text = JSON.stringify([
      d.maxBudget,
      d.duration,
      d.timezone,
      d.weekStartsOn,
      d.softBudget,
      d.alertThresholds,
      d.modelMaxBudget,
      d.rpmLimit,
      d.tpmLimit,
      d.maxParallelRequests,
      d.onExceeded,
      d.burst,
      anchored ? stored.anchor : null,
      stored.increases.map((inc) => [inc.amount, inc.until]),
      rate ?? null,
    ])
    const shared = this.#policies.get(text)
    if (shared !== undefined) return shared
    const specOf = (duration: string | undefined): WindowSpec | null =>
      duration === undefined ? null : this.#windowSpec(duration, d.timezone, d.weekStartsOn, stored.anchor)
    let models: ReadonlyMap<string, ModelPolicy> = NO_MODELS
    if (d.modelMaxBudget !== undefined) {
      const perModel = new Map<string, ModelPolicy>()
      for (const [model, limit] of Object.entries(d.modelMaxBudget)) {
        const duration = limit.duration ?? d.duration
        perModel.set(model, {
          model,
          limitNano: toNano(limit.maxBudget, `modelMaxBudget.${model}.maxBudget`),
          spec: specOf(duration),
          label: duration ?? 'none',
        })
      }
      models = perModel
    }
    const policy: BudgetPolicy = {
      baseLimitNano: d.maxBudget === undefined ? null : toNano(d.maxBudget, 'maxBudget'),
      increases:
        stored.increases.length === 0
          ? NO_INCREASES
          : stored.increases.map((inc) => ({ amountNano: toNano(inc.amount, 'amount'), until: inc.until })),
      spec: specOf(d.duration),
      label: d.duration ?? 'none',
      softNano: d.softBudget === undefined ? null : toNano(d.softBudget, 'softBudget'),
      thresholds: d.alertThresholds ?? NO_THRESHOLDS,
      models,
      rpm: d.rpmLimit ?? null,
      tpm: d.tpmLimit ?? null,
      parallel: d.maxParallelRequests ?? null,
      onExceeded: d.onExceeded ?? 'block',
      bursts: compileBursts(d.burst, (duration) => specOf(duration)!),
    }
    if (this.#policies.size >= MAX_POLICIES) this.#policies.clear()
    this.#policies.set(text, policy)
    return policy
  }

  /** The budget of a scope from a definition (throws `BudgetConfigError` for limits that cannot be held). */
  compile(
    scope: Scope,
    scopeString: ScopeString,
    stored: StoredDefinition,
    revision: number,
    isDefault: boolean,
    fetchedAt = 0,
  ): CompiledBudget {
    return {
      fetchedAt,
      scopeString: flatString(scopeString),
      // Built on first use from `scopeString` when that is the scope's canonical string (see `prefixOf`).
      prefix: scopeString === scopeKey(scope) ? null : scopePrefix(scope),
      revision,
      isDefault,
      policy: this.#policyOf(stored),
      current: null,
      usdKey: null,
      usdMeta: null,
      windows: null,
      currency: currencyState(stored),
    }
  }

  /** Recompiles a budget in another currency at `rate` USD per unit (the rate pinned for its current window). */
  recompileAt(budget: CompiledBudget, rate: number): void {
    budget.policy = this.#policyOf(budget.currency!.stored, rate)
    budget.usdMeta = null
  }

  /** The budget of a scope from its stored budget, or from the default of its type, or `null` when it has none. */
  fromStored(
    scope: Scope,
    scopeString: ScopeString,
    stored: StoredBudget | null,
    fetchedAt = 0,
  ): CompiledBudget | null {
    if (stored !== null) {
      const budget = this.compile(
        scope,
        scopeString,
        fromStoredJson(stored.definition, stored.createdAt),
        stored.revision,
        false,
        fetchedAt,
      )
      // The store's copy of the scope string (kept as long as the budget is), rather than one more of our own.
      if (stored.scope === scopeString) budget.scopeString = stored.scope as ScopeString
      return budget
    }
    const fallback = scope.type === 'global' ? undefined : this.defaults.get(scope.type)
    if (fallback === undefined) return null
    return this.compile(scope, scopeString, { definition: fallback, anchor: 0, increases: [] }, 0, true, fetchedAt)
  }
}
