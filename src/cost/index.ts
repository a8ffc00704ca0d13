/**
 * `llm-budget/cost`: the cost calculator alone. Exact, synchronous, no I/O (except the opt-in
 * `catalog.refresh()`), nothing from `node:`, and no stores, budgets or server code.
 *
 * @packageDocumentation
 */
export { calculateCost } from './calculate.js'
export { costToNano } from './result.js'
export { MAX_TOKENS } from './counts.js'
export { completionCost, costPerToken } from './litellm-compat.js'
export type { CompletionCostInput, CostPerTokenInput } from './litellm-compat.js'
export { estimateCost } from './estimate.js'
export type { EstimateCostInput, EstimateMessage, CostEstimate } from './estimate.js'
export { normalizeUsage, createUsageAccumulator } from './usage.js'
export type { NormalizeUsageOptions, UsageAccumulator } from './usage.js'
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
  UsageAdjustment,
  PricingOptions,
  CalculateCostInput,
  DataVersion,
  PriceSource,
  CompactPriceTable,
} from './types.js'
export { UnknownModelError, InvalidInputError, MissingUsageError, isUnknownModelError } from '../errors.js'
export { cheapestModel, modelCapabilities } from './select.js'
export type {
  CheapestModelInput,
  CheapestModelResult,
  ModelCapabilities,
  ModelCapability,
  ModelChoice,
  ModelRequirements,
} from './select.js'
