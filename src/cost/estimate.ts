/**
 * `estimateCost`: the worst-case cost of a call before it runs, used to reserve budget.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { describeValue, truncate } from '../internal/describe.js'
import { defaultCatalog } from './catalog.js'
import { MAX_TOKENS, tierOf } from './counts.js'
import { formatScaled } from './decimal.js'
import { MISSING } from './prepared.js'
import { resolveFor } from './resolve-for.js'
import { nanoCeil, NONE_UNPRICED } from './result.js'
import type { PricingOptions, ResolutionRule, UnpricedUsage } from './types.js'
import { unpricedUsageError, withTokenParts } from './unpriced.js'

/** A chat message for {@link estimateCost} (only text content is counted). */
export interface EstimateMessage {
  role?: string
  content?: unknown
}

/** Input of {@link estimateCost}. */
export interface EstimateCostInput extends Omit<PricingOptions, 'image'> {
  model: string
  /** Input tokens, when known (most precise). */
  inputTokens?: number | undefined
  /** Messages, when tokens are not known: estimated as characters / 4 with a margin. */
  messages?: readonly EstimateMessage[] | string | undefined
  /** Output cap of the request (`max_tokens`). Default: the model's maximum output when the catalog knows it. */
  maxOutputTokens?: number | undefined
  /** Safety margin on character-based estimates (default 0.25 = +25%). */
  margin?: number | undefined
}

/** Worst-case cost used to reserve budget. */
export interface CostEstimate {
  /** Worst-case USD (closest double). */
  totalCost: number
  /** Worst-case in integer nano-USD, rounded up. */
  nanoUsd: number
  /** Exact decimal string of the worst case. */
  exact: string
  /** Input tokens priced (given or estimated). */
  inputTokens: number
  /** Output tokens priced. */
  outputTokens: number
  /** How the input was counted. */
  method: 'tokens' | 'characters'
  /** Where the output bound came from. */
  outputBound: 'maxOutputTokens' | 'model-max'
  model: string
  provider: string
  rule: ResolutionRule
  priced: boolean
  source: 'catalog' | 'custom'
  serviceTier: 'standard' | 'flex' | 'priority'
  /**
   * Token counts of the estimate the entry has no rate for, counted as $0 (ADR 0009): `outputTokens` on an entry
   * with an input rate only, or both on an entry priced per image / second / character / query (an estimate in
   * tokens cannot cover those units: reserve a USD amount for such calls). Empty when everything was priced.
   */
  unpriced: readonly UnpricedUsage[]
}

/** Per-message overhead in tokens for character-based estimates (role, separators). */
const MESSAGE_OVERHEAD_TOKENS = 4

function textLength(content: unknown): number {
  if (typeof content === 'string') return content.length
  if (Array.isArray(content)) {
    let n = 0
    for (const part of content) {
      if (typeof part === 'string') n += part.length
      else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string')
        n += (part as { text: string }).text.length
    }
    return n
  }
  return 0
}

/**
 * Worst-case cost of a call before it runs: input tokens (given, or characters / 4 plus a margin, default
 * +25%, plus 4 tokens per message) at the input rate of the tier that will apply, plus `maxOutputTokens` at
 * the output rate (the reasoning rate if higher). Cache discounts are not assumed.
 */
export function estimateCost(input: EstimateCostInput): CostEstimate {
  if (input === null || typeof input !== 'object')
    throw new InvalidInputError(
      'input',
      '`estimateCost` takes an object { model, inputTokens | messages, maxOutputTokens }',
    )
  const catalog = input.catalog ?? defaultCatalog
  let inputTokens: number
  let method: 'tokens' | 'characters'
  if (input.inputTokens !== undefined) {
    if (!Number.isSafeInteger(input.inputTokens) || input.inputTokens < 0 || input.inputTokens > MAX_TOKENS)
      throw new InvalidInputError(
        'inputTokens',
        `\`inputTokens\` must be a whole number from 0 to ${MAX_TOKENS}, got ${describeValue(input.inputTokens)}`,
      )
    inputTokens = input.inputTokens
    method = 'tokens'
  } else if (input.messages !== undefined) {
    const margin = input.margin ?? 0.25
    if (!Number.isFinite(margin) || margin < 0 || margin > 10)
      throw new InvalidInputError('margin', `\`margin\` must be between 0 and 10, got ${describeValue(margin)}`)
    const messages = typeof input.messages === 'string' ? [{ content: input.messages }] : input.messages
    if (!Array.isArray(messages))
      throw new InvalidInputError('messages', '`messages` must be an array of { role, content } or a string')
    let chars = 0
    for (const message of messages) chars += textLength((message as EstimateMessage)?.content)
    inputTokens = Math.ceil((chars / 4) * (1 + margin)) + MESSAGE_OVERHEAD_TOKENS * messages.length
    method = 'characters'
  } else {
    throw new InvalidInputError('inputTokens', '`estimateCost` needs `inputTokens` or `messages`')
  }
  let priced = resolveFor(input.model, input, catalog)
  if (priced !== undefined && priced.prepared.priceKind === 'none') {
    // Known, but no price at all: unpriced exactly like an unknown model (ADR 0009), never a $0 reservation.
    const parts: UnpricedUsage[] = ['inputTokens', 'outputTokens']
    if (input.onUnpriced !== 'zero')
      throw unpricedUsageError(input.model, input.provider, priced.resolved, priced.prepared, parts)
    priced = undefined
  }
  let outputTokens: number
  let outputBound: 'maxOutputTokens' | 'model-max' = 'maxOutputTokens'
  if (input.maxOutputTokens !== undefined) {
    if (!Number.isSafeInteger(input.maxOutputTokens) || input.maxOutputTokens < 0 || input.maxOutputTokens > MAX_TOKENS)
      throw new InvalidInputError(
        'maxOutputTokens',
        `\`maxOutputTokens\` must be a whole number from 0 to ${MAX_TOKENS}, got ${describeValue(input.maxOutputTokens)}`,
      )
    outputTokens = input.maxOutputTokens
  } else if (priced && priced.resolved.entry.maxOutputTokens > 0) {
    outputTokens = priced.resolved.entry.maxOutputTokens
    outputBound = 'model-max'
  } else {
    throw new InvalidInputError(
      'maxOutputTokens',
      `\`maxOutputTokens\` is required: the catalog does not know the maximum output of ${truncate(String(input.model))}`,
    )
  }
  const tier = tierOf(input.serviceTier, 'serviceTier')
  const provider = input.provider ?? (priced ? priced.resolved.entry.provider : 'unknown')
  if (!priced) {
    return {
      totalCost: 0,
      nanoUsd: 0,
      exact: '0',
      inputTokens,
      outputTokens,
      method,
      outputBound,
      model: input.model,
      provider,
      rule: 'exact',
      priced: false,
      source: 'catalog',
      serviceTier: tier,
      unpriced: NONE_UNPRICED,
    }
  }
  const { prepared, resolved } = priced
  let threshold = 0
  for (const t of prepared.thresholds) {
    if (inputTokens > t) {
      threshold = t
      break
    }
  }
  const rates =
    prepared.tiers.length > 0
      ? prepared.tierRates(prepared.tierFor(inputTokens), input.batch === true)
      : prepared.rates(tier, threshold, input.batch === true)
  const outRate = rates.big.reasoning > rates.big.output ? rates.big.reasoning : rates.big.output
  let unpriced = NONE_UNPRICED
  if (rates.missing !== 0) {
    const inputGap = inputTokens > 0 && (rates.missing & MISSING.input) !== 0
    const outputGap =
      outputTokens > 0 && (rates.missing & MISSING.output) !== 0 && (rates.missing & MISSING.reasoning) !== 0
    if (inputGap || outputGap)
      unpriced = Object.freeze(
        withTokenParts((inputGap ? MISSING.input : 0) | (outputGap ? MISSING.output : 0), NONE_UNPRICED),
      )
  }
  const total = BigInt(inputTokens) * rates.big.input + BigInt(outputTokens) * outRate
  const exact = formatScaled(total, prepared.scale)
  return {
    totalCost: Number(exact),
    nanoUsd: nanoCeil(total, prepared.scale),
    exact,
    inputTokens,
    outputTokens,
    method,
    outputBound,
    model: resolved.key,
    provider,
    rule: resolved.rule,
    priced: true,
    source: resolved.entry.source,
    serviceTier: tier,
    unpriced,
  }
}
