/**
 * LiteLLM-compatible helpers: `completion_cost` and `cost_per_token`.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { calculateCost } from './calculate.js'
import { formatScaled } from './decimal.js'
import type { CostResultImpl } from './result.js'
import type { NormalizedUsage, PricingOptions } from './types.js'

/** Input of {@link completionCost} (LiteLLM's `completion_cost`). */
export interface CompletionCostInput extends PricingOptions {
  /** A provider response, stream chunks, or usage object. */
  completionResponse?: unknown
  /** Model name; defaults to the response's. */
  model?: string | undefined
  /** Usage instead of a response. */
  usage?: unknown
}

/** LiteLLM-compatible `completion_cost`: total USD of a response (or usage) as a number. */
export function completionCost(input: CompletionCostInput): number {
  const usage = input.usage ?? input.completionResponse
  if (usage === undefined)
    throw new InvalidInputError('completionResponse', '`completionCost` needs `completionResponse` or `usage`')
  return calculateCost({ ...input, usage }).totalCost
}

/** Input of {@link costPerToken} (LiteLLM's `cost_per_token`). */
export interface CostPerTokenInput extends PricingOptions {
  model: string
  /** All prompt tokens, including cache reads and writes (OpenAI/LiteLLM semantics). */
  promptTokens: number
  /** All completion tokens, including reasoning. */
  completionTokens: number
  /** Cache-read tokens (inside promptTokens). */
  cacheReadInputTokens?: number | undefined
  /** Cache-write tokens (inside promptTokens). */
  cacheCreationInputTokens?: number | undefined
  /** Reasoning tokens (inside completionTokens), priced at the reasoning rate when the entry has one. */
  reasoningTokens?: number | undefined
}

/** LiteLLM-compatible `cost_per_token`: `{ promptCost, completionCost }` in USD. */
export function costPerToken(input: CostPerTokenInput): { promptCost: number; completionCost: number } {
  const usage: NormalizedUsage = {
    inputTokens: input.promptTokens,
    outputTokens: input.completionTokens,
    cacheReadTokens: input.cacheReadInputTokens ?? 0,
    cacheWriteTokens: input.cacheCreationInputTokens ?? 0,
    reasoningTokens: input.reasoningTokens ?? null,
  }
  const result = calculateCost({ ...input, usage }) as CostResultImpl
  if (typeof result._t === 'number') {
    const unit = 10 ** result._scale
    return {
      promptCost: ((result._i as number) + (result._cr as number) + (result._cw as number)) / unit,
      completionCost: ((result._o as number) + (result._r as number)) / unit,
    }
  }
  const s = result._scale
  const p = BigInt(result._i) + BigInt(result._cr) + BigInt(result._cw)
  const c = BigInt(result._o) + BigInt(result._r) + BigInt(result._x)
  return { promptCost: Number(formatScaled(p, s)), completionCost: Number(formatScaled(c, s)) }
}
