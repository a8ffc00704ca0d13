/**
 * Budgets: `BudgetManager`, `withBudget`, scopes, definitions, spend records and events. Alert sinks and digests are
 * `llm-budget/alerts`; CSV and JSON Lines exports are `llm-budget/reports`.
 *
 * @packageDocumentation
 */
export { BudgetManager } from './manager.js'
export type {
  BudgetInfo,
  BudgetManagerOptions,
  BudgetStatus,
  CallStatus,
  Clock,
  CommitInput,
  CommitOutcome,
  Estimate,
  IncreaseInput,
  Overshoot,
  Reservation,
  ReserveOptions,
} from './manager.js'
export { withBudget } from './with-budget.js'
export type { BudgetedFunction, SettledResult, WithBudgetOptions } from './with-budget.js'
export { SCOPE_TYPES, parseScope, scopeKey } from './scopes.js'
export type { CallContext, Scope, ScopeInput, ScopeString, ScopeType } from './scopes.js'
export { validateDefinition } from './definition.js'
export type { BudgetDefinition, BudgetIncrease, ModelBudget, OnExceeded } from './definition.js'
export type { BurstLimit, BurstStatus } from './burst.js'
export type { BudgetRun, RunOptions, RunScopeString, RunStatus } from './run.js'
export type { SpendGroup, SpendGroupBy, SpendQuery, SpendReport, SpendTotals } from './records.js'
export type {
  BudgetChangedEvent,
  EventCurrency,
  BudgetEventName,
  BudgetEvents,
  BudgetExceededEvent,
  BudgetListener,
  BudgetOvershotEvent,
  EventWindow,
  ForecastExceededEvent,
  ListenerErrorEvent,
  SpendRecordedEvent,
  StoreErrorEvent,
  ThresholdCrossedEvent,
} from './events.js'
export type { EstimateRequest, EstimateUnits } from './pricing.js'
export { MAX_USD, formatNano, nanoToUsd, usdToNano } from './money.js'
export { formatMoney } from './currency.js'
export type { ExchangeRates, PinnedRate } from './currency.js'
export type { Deployment, RoutingEstimate, RoutingStrategy, SelectDeploymentOptions } from './routing.js'
export type { LiteLLMProviderBudget, ProviderBudgetConfig } from './provider-budgets.js'
export { defaultCacheKey, responseCache } from './response-cache.js'
export type { CachedResponse, ResponseCache, ResponseCacheBackend, ResponseCacheOptions } from './response-cache.js'
