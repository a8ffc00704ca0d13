/**
 * `llm-budget/cost`: the cost calculator alone. Exact, synchronous, no I/O (except the opt-in
 * `catalog.refresh()`), nothing from `node:`, and no stores, budgets or server code.
 *
 * @packageDocumentation
 */
export { calculateCost, completionCost, costPerToken, estimateCost, toNanoUsd, MAX_TOKENS } from './calculate.js'
export type { CompletionCostInput, CostPerTokenInput, EstimateCostInput, EstimateMessage, CostEstimate } from './calculate.js'
export { normalizeUsage } from './usage.js'
export type { NormalizeUsageOptions } from './usage.js'
export { PriceCatalog, defaultCatalog, normalizeProvider } from './catalog.js'
export type { PriceCatalogOptions, RegisterOptions, RefreshOptions, RefreshReport } from './catalog.js'
export type {
  NormalizedUsage,
  PriceEntry,
  ResolutionRule,
  ResolvedModel,
  CustomPrices,
  ServiceTier,
  ExactCost,
  CostResult,
  UnpricedUsage,
  PricingOptions,
  CalculateCostInput,
  DataVersion,
  PriceSource,
  CompactPriceTable,
} from './types.js'
export { UnknownModelError, InvalidInputError, MissingUsageError, isUnknownModelError } from '../errors.js'
export { cheapestModel, modelCapabilities } from './select.js'
export type { CheapestModelInput, CheapestModelResult, ModelCapabilities, ModelCapability, ModelChoice, ModelRequirements } from './select.js'
