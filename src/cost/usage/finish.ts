/**
 * Turns a parser's draft into a validated {@link NormalizedUsage}: every count a whole number >= 0.
 *
 * @internal
 * @packageDocumentation
 */
import { InvalidInputError } from '../../errors.js'
import { describeValue } from '../../internal/describe.js'
import type { NormalizedUsage } from '../types.js'
import { draft, str, type Draft, type Obj } from './shared.js'

/** Options of {@link normalizeUsage}. */
export interface NormalizeUsageOptions {
  /** Provider of the call (LiteLLM names), for provider quirks (`xai`, `anthropic`, `bedrock`, `gemini`). */
  provider?: string | undefined
  /** The requested model, used when the response names none (`modelSource: 'request'`). */
  model?: string | undefined
}

const COUNT_FIELDS = [
  'cacheWrite5mTokens',
  'cacheWrite1hTokens',
  'inputAudioTokens',
  'outputAudioTokens',
  'inputTextTokens',
  'inputImageTokens',
  'outputImageTokens',
  'citationTokens',
  'webSearchRequests',
  'webFetchRequests',
  'inputCharacters',
  'searchUnits',
  'imageCount',
  'processedInputTokens',
  'processedOutputTokens',
] as const

function checkCount(field: string, value: unknown, nullable = false): void {
  if (nullable && value === null) return
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      `usage.${field}`,
      `\`usage.${field}\` must be a whole number >= 0, got ${describeValue(value)}`,
    )
  }
}

/** Validates a draft into a {@link NormalizedUsage}. */
export function finish(d: Draft, options: NormalizeUsageOptions): NormalizedUsage {
  checkCount('inputTokens', d.inputTokens, true)
  checkCount('outputTokens', d.outputTokens, true)
  checkCount('cacheReadTokens', d.cacheReadTokens)
  checkCount('cacheWriteTokens', d.cacheWriteTokens)
  checkCount('reasoningTokens', d.reasoningTokens, true)
  const usage: NormalizedUsage = {
    inputTokens: d.inputTokens,
    outputTokens: d.outputTokens,
    cacheReadTokens: d.cacheReadTokens,
    cacheWriteTokens: d.cacheWriteTokens,
    reasoningTokens: d.reasoningTokens,
  }
  for (const field of COUNT_FIELDS) {
    const value = d.extras[field]
    if (value !== undefined) {
      checkCount(field, value)
      ;(usage as unknown as Obj)[field] = value
    }
  }
  const seconds = d.extras.audioSeconds
  if (seconds !== undefined) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0)
      throw new InvalidInputError(
        'usage.audioSeconds',
        `\`usage.audioSeconds\` must be a finite number >= 0, got ${describeValue(seconds)}`,
      )
    usage.audioSeconds = seconds
  }
  if (d.extras.serviceTier) usage.serviceTier = d.extras.serviceTier
  const size = d.extras.searchContextSize
  if (size !== undefined) {
    if (size !== 'low' && size !== 'medium' && size !== 'high')
      throw new InvalidInputError(
        'usage.searchContextSize',
        `\`usage.searchContextSize\` must be 'low', 'medium' or 'high', got ${describeValue(size)}`,
      )
    usage.searchContextSize = size
  }
  if (d.extras.providerCost !== undefined) usage.providerCost = d.extras.providerCost
  if (d.model !== undefined) usage.model = d.model
  else if (options.model !== undefined) {
    usage.model = options.model
    usage.modelSource = 'request'
  }
  return usage
}

/** A copy of an already normalized usage, validated again. */
export function copyNormalized(u: Obj, options: NormalizeUsageOptions): NormalizedUsage {
  const d = draft(
    u.inputTokens as number | null,
    u.outputTokens as number | null,
    u.cacheReadTokens as number,
    u.cacheWriteTokens as number,
    (u.reasoningTokens ?? null) as number | null,
  )
  for (const field of [...COUNT_FIELDS, 'audioSeconds', 'serviceTier', 'providerCost', 'searchContextSize'] as const) {
    if (u[field] !== undefined) (d.extras as Obj)[field] = u[field]
  }
  d.model = str(u.model)
  const usage = finish(d, options)
  if (u.modelSource === 'request') usage.modelSource = 'request'
  return usage
}
