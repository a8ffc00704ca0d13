/**
 * The manager's bridge to the cost module: worst-case estimates for reservations and exact costs for
 * commits, both in integer nano-USD.
 *
 * @internal
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { type EstimateCostInput, calculateCost, estimateCost } from '../cost/calculate.js'
import type { PriceCatalog } from '../cost/catalog.js'
import { defaultCatalog } from '../cost/catalog.js'
import type { NormalizedUsage } from '../cost/types.js'
import { normalizeUsage } from '../cost/usage.js'
import type { JsonValue } from '../stores/types.js'

/** A worst-case estimate described by the request instead of a USD amount. */
export interface EstimateRequest {
  /** Model requested. */
  model: string
  /** Provider hint (LiteLLM names). */
  provider?: string | undefined
  /** Input tokens, when known. */
  inputTokens?: number | undefined
  /** The request's messages (counted by characters with a margin; never stored). */
  messages?: unknown
  /** Output cap (`max_tokens`); default: the model's maximum output. */
  maxOutputTokens?: number | undefined
  /** Tokens to reserve against `tpmLimit` (default: input + output tokens of the estimate). */
  tokens?: number | undefined
  /**
   * Quantities of a call priced per unit rather than per token (image generation, text-to-speech, transcription):
   * the worst case adds them at the model's unit prices.
   */
  units?: EstimateUnits | undefined
}

/** Per-unit quantities of an {@link EstimateRequest}. */
export interface EstimateUnits {
  /** Images generated. */
  images?: number | undefined
  /** Image output tokens, for models that price images by token (`gpt-image-1`). */
  imageTokens?: number | undefined
  /** Characters of input, for speech priced per character. */
  characters?: number | undefined
  /** Seconds of audio, for transcription priced per second. */
  audioSeconds?: number | undefined
}

/** A priced estimate. */
export interface PricedEstimate {
  nano: number
  tokens: number
  model: string
}

/** @internal Worst case of a request in nano-USD and tokens. */
export function estimateRequest(catalog: PriceCatalog | undefined, request: EstimateRequest): PricedEstimate {
  if (typeof request.model !== 'string' || request.model.length === 0)
    throw new InvalidInputError('estimate.model', '`estimate.model` must be a model name')
  const estimate = estimateCost({
    model: request.model,
    provider: request.provider,
    inputTokens: request.inputTokens,
    messages: request.messages as EstimateCostInput['messages'],
    maxOutputTokens: request.maxOutputTokens,
    catalog: catalog ?? defaultCatalog,
  })
  if (!estimate.priced)
    throw new InvalidInputError(
      'estimate.model',
      `No price is known for model \`${request.model}\`, so no worst case can be reserved; register a price or pass a USD estimate`,
    )
  let tokens = estimate.inputTokens + estimate.outputTokens
  const unitNano = request.units === undefined ? 0 : unitsNano(catalog, request.model, request.provider, request.units)
  if (request.tokens !== undefined) {
    if (!Number.isSafeInteger(request.tokens) || request.tokens < 0)
      throw new InvalidInputError(
        'estimate.tokens',
        `\`estimate.tokens\` must be a whole number >= 0, got ${String(request.tokens)}`,
      )
    tokens = request.tokens
  }
  return { nano: estimate.nanoUsd + unitNano, tokens, model: request.model }
}

function unitCount(field: string, value: number | undefined): number {
  if (value === undefined) return 0
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidInputError(
      `estimate.units.${field}`,
      `\`estimate.units.${field}\` must be a whole number >= 0, got ${String(value)}`,
    )
  return value
}

/**
 * The per-unit part of a worst case, nano-USD: the units priced as a usage at the model's unit prices. A model the
 * catalog prices by tokens only (no price for these units) adds nothing here; its token estimate stands.
 */
function unitsNano(
  catalog: PriceCatalog | undefined,
  model: string,
  provider: string | undefined,
  units: EstimateUnits,
): number {
  const images = unitCount('images', units.images)
  const imageTokens = unitCount('imageTokens', units.imageTokens)
  const characters = unitCount('characters', units.characters)
  const audioSeconds = unitCount('audioSeconds', units.audioSeconds)
  const usage: NormalizedUsage = {
    inputTokens: 0,
    outputTokens: imageTokens,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: null,
  }
  if (images > 0) usage.imageCount = images
  if (imageTokens > 0) usage.outputImageTokens = imageTokens
  if (characters > 0) usage.inputCharacters = characters
  if (audioSeconds > 0) usage.audioSeconds = audioSeconds
  try {
    return calculateCost({
      model,
      usage,
      ...(provider !== undefined ? { provider } : {}),
      catalog: catalog ?? defaultCatalog,
    }).exact.totalNanoUsd
  } catch {
    return 0
  }
}

/** A priced usage. */
export interface PricedUsage {
  nano: number
  usage: NormalizedUsage
  /** Total tokens (input + output), for `tpmLimit`. */
  tokens: number
  /** Cost parts as exact decimal strings. */
  breakdown: Record<string, JsonValue>
  source: 'catalog' | 'custom' | 'provider'
  catalogVersion: string
  /** The catalog key that priced the call. */
  pricedModel: string
  /** The model that served the call, from the response when it says so. */
  servedModel: string | undefined
  provider: string
}

/** @internal Exact cost of a usage (any shape `normalizeUsage` accepts). */
export function priceUsage(
  catalog: PriceCatalog | undefined,
  model: string | undefined,
  provider: string | undefined,
  usage: unknown,
): PricedUsage {
  const cat = catalog ?? defaultCatalog
  const normalized = normalizeUsage(usage, { provider, model })
  const result = calculateCost({ model, provider, usage: normalized, catalog: cat })
  const exact = result.exact
  return {
    nano: exact.totalNanoUsd,
    usage: normalized,
    tokens: (normalized.inputTokens ?? 0) + (normalized.outputTokens ?? 0),
    breakdown: {
      total: exact.totalCost,
      input: exact.inputCost,
      output: exact.outputCost,
      cacheRead: exact.cacheReadCost,
      cacheWrite: exact.cacheWriteCost,
      reasoning: exact.reasoningCost,
      other: exact.otherCost,
      // Parts of the usage the price table has no rate for, counted as $0 (never silently: kept in the record).
      ...(result.unpriced.length > 0 ? { unpriced: [...result.unpriced] } : {}),
    },
    source: result.source,
    catalogVersion: cat.dataVersion.id,
    pricedModel: result.model,
    servedModel: normalized.model ?? model,
    provider: result.provider,
  }
}

/** @internal Tokens of a usage without pricing it (for a caller-supplied cost). */
export function usageTokens(
  usage: unknown,
  model: string | undefined,
  provider: string | undefined,
): { usage: NormalizedUsage; tokens: number } {
  const normalized = normalizeUsage(usage, { provider, model })
  return { usage: normalized, tokens: (normalized.inputTokens ?? 0) + (normalized.outputTokens ?? 0) }
}

/** @internal Input cost only (LiteLLM's `projected_cost`). */
export function inputCostNano(
  catalog: PriceCatalog | undefined,
  model: string,
  input: { messages?: EstimateRequest['messages']; inputTokens?: number | undefined },
): number {
  return estimateCost({
    model,
    inputTokens: input.inputTokens,
    messages: input.messages as EstimateCostInput['messages'],
    maxOutputTokens: 0,
    catalog: catalog ?? defaultCatalog,
  }).nanoUsd
}
