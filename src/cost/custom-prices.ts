/**
 * Custom prices: the shortcuts (`inputPerMillion`, ...), any LiteLLM price field, or a LiteLLM model entry
 * copied verbatim (with `tiered_pricing`, `search_context_cost_per_query`, prices written as strings, and the
 * descriptive keys such as `max_tokens` or `supports_vision`, which are ignored). Hand-written validation: zod
 * would cost ~40 ms of import time here.
 *
 * @internal
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { describeValue, truncate } from '../internal/describe.js'
import { closest } from '../internal/suggest.js'
import { decimalFromNumber, formatScaled, parseDecimal } from './decimal.js'
import { classifyField, TIER_BASES, UNPRICED_FIELDS, isUsedField } from './table.js'
import type { CustomPrices, PriceEntry } from './types.js'

/** Options of `PriceCatalog.register`. */
export interface RegisterOptions {
  /** Prices apply to calls at or after this time (Date, epoch ms or ISO string). Default: always. */
  effectiveFrom?: Date | number | string | undefined
  /** LiteLLM provider name recorded with the entry (default: the entry's `litellm_provider`, else `custom`). */
  provider?: string | undefined
  /** LiteLLM mode (default: the entry's `mode`, else `chat`). */
  mode?: string | undefined
}

const SHORTCUTS: Record<string, string> = {
  inputPerMillion: 'input_cost_per_token',
  outputPerMillion: 'output_cost_per_token',
  cacheReadPerMillion: 'cache_read_input_token_cost',
  cacheWritePerMillion: 'cache_creation_input_token_cost',
  cacheWrite1hPerMillion: 'cache_creation_input_token_cost_above_1hr',
  reasoningPerMillion: 'output_cost_per_reasoning_token',
}

/** Converts a price value (decimal string or number) to a plain decimal string, or throws InvalidInputError. */
export function priceString(field: string, value: unknown, perMillion: boolean): string {
  const parsed =
    typeof value === 'number' ? decimalFromNumber(value) : typeof value === 'string' ? parseDecimal(value) : undefined
  if (!parsed) {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be a finite decimal >= 0 (string like "2.50" or a number), got ${describeValue(value)}`,
    )
  }
  const scale = parsed.scale + (perMillion ? 6 : 0)
  if (parsed.int > 10n ** BigInt(scale + 4)) {
    throw new InvalidInputError(
      field,
      `\`${field}\` is ${describeValue(value)}${perMillion ? ' per million' : ''}, above the sentinel bound of 10000 USD per unit; check the unit`,
    )
  }
  return formatScaled(parsed.int, scale)
}

const TIER_RATES = new Set<string>(TIER_BASES)

/** Flattens LiteLLM `tiered_pricing` into `<rate>_tier_<start>_<end>` fields (search tiers by result count are skipped). */
function flattenTiers(value: unknown, out: Record<string, string>): void {
  if (!Array.isArray(value) || value.length === 0)
    throw new InvalidInputError(
      'prices.tiered_pricing',
      `\`tiered_pricing\` must be a non-empty array of tiers, got ${describeValue(value)}`,
    )
  const ranges: Array<[number, number]> = []
  value.forEach((tier: unknown, i) => {
    const where = `prices.tiered_pricing.${i}`
    if (tier === null || typeof tier !== 'object' || Array.isArray(tier))
      throw new InvalidInputError(
        where,
        `a tier must be an object with \`range\` and rates, got ${describeValue(tier)}`,
      )
    const t = tier as Record<string, unknown>
    if (!('range' in t) && Array.isArray(t.max_results_range)) return // priced by results requested: see UNPRICED_FIELDS
    const range = t.range
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !range.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) ||
      range[0] >= range[1]
    ) {
      throw new InvalidInputError(
        `${where}.range`,
        `\`range\` must be [start, end] in whole input tokens with start < end, got ${describeValue(range)}`,
      )
    }
    const [start, end] = range as [number, number]
    let hasInput = false
    for (const [key, rate] of Object.entries(t)) {
      if (key === 'range' || rate === null || rate === undefined) continue
      if (!TIER_RATES.has(key))
        throw new InvalidInputError(
          `${where}.${key}`,
          `\`${truncate(key)}\` is not a tier rate; a tier may have ${TIER_BASES.join(', ')}`,
        )
      out[`${key}_tier_${start}_${end}`] = priceString(`${where}.${key}`, rate, false)
      if (key === 'input_cost_per_token') hasInput = true
    }
    if (!hasInput)
      throw new InvalidInputError(`${where}.input_cost_per_token`, 'a token tier needs `input_cost_per_token`')
    ranges.push([start, end])
  })
  ranges.sort((a, b) => a[0] - b[0])
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1])
      throw new InvalidInputError(
        'prices.tiered_pricing',
        `tier ranges [${ranges[i - 1]!.join(', ')}] and [${ranges[i]!.join(', ')}] overlap`,
      )
  }
}

/** `search_context_cost_per_query: { search_context_size_low, ... }` as flat `search_context_cost_per_query_<size>` fields. */
function flattenSearch(value: unknown, out: Record<string, string>): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new InvalidInputError(
      'prices.search_context_cost_per_query',
      `\`search_context_cost_per_query\` must be an object { search_context_size_low, ... }, got ${describeValue(value)}`,
    )
  for (const [key, rate] of Object.entries(value as Record<string, unknown>)) {
    const m = /^search_context_size_(low|medium|high)$/.exec(key)
    if (!m)
      throw new InvalidInputError(
        `prices.search_context_cost_per_query.${truncate(key)}`,
        'expected search_context_size_low, search_context_size_medium or search_context_size_high',
      )
    if (rate === null || rate === undefined) continue
    out[`search_context_cost_per_query_${m[1]!}`] = priceString(
      `prices.search_context_cost_per_query.${key}`,
      rate,
      false,
    )
  }
}

const SHORTCUT_NAMES = Object.keys(SHORTCUTS)

/**
 * Builds a validated custom entry from shortcuts, LiteLLM price fields or a whole LiteLLM model entry.
 *
 * @throws InvalidInputError naming the field, for a malformed price or an unknown price field.
 */
export function customEntry(model: string, prices: CustomPrices, options: RegisterOptions = {}): PriceEntry {
  if (prices === null || typeof prices !== 'object' || Array.isArray(prices)) {
    throw new InvalidInputError(
      'prices',
      '`prices` must be an object such as { inputPerMillion: "2.50", outputPerMillion: "10" }',
    )
  }
  const out: Record<string, string> = Object.create(null) as Record<string, string>
  let provider: string | undefined
  let mode: string | undefined
  let maxOutputTokens = 0
  for (const [name, value] of Object.entries(prices)) {
    if (value === undefined || value === null) continue
    const shortcut = SHORTCUTS[name]
    if (shortcut) out[shortcut] = priceString(`prices.${name}`, value, true)
    else if (name === 'tiered_pricing') flattenTiers(value, out)
    else if (name === 'search_context_cost_per_query') flattenSearch(value, out)
    else {
      const kind = classifyField(name)
      if (kind === 'used') out[name] = priceString(`prices.${name}`, value, false)
      else if (kind === 'metadata') {
        if (name === 'litellm_provider' && typeof value === 'string' && value !== '') provider = value
        else if (name === 'mode' && typeof value === 'string' && value !== '') mode = value
        else if (
          (name === 'max_output_tokens' || name === 'max_tokens') &&
          typeof value === 'number' &&
          Number.isSafeInteger(value) &&
          value > 0 &&
          (name === 'max_output_tokens' || maxOutputTokens === 0)
        )
          maxOutputTokens = value
      } else if (kind === 'unknown') {
        const near = closest(name, [
          ...SHORTCUT_NAMES,
          ...Object.keys(UNPRICED_FIELDS),
          'input_cost_per_token',
          'output_cost_per_token',
          'cache_read_input_token_cost',
          'cache_creation_input_token_cost',
        ])
        throw new InvalidInputError(
          `prices.${truncate(name, 80)}`,
          `unknown price field \`${truncate(name, 80)}\`${near ? ` (did you mean \`${near}\`?)` : ''}; use inputPerMillion/outputPerMillion/... or a LiteLLM field such as \`input_cost_per_token\``,
        )
      }
      // kind 'unpriced': a fee the calculator deliberately does not bill (see UNPRICED_FIELDS), accepted and ignored.
    }
  }
  if (Object.keys(out).length === 0)
    throw new InvalidInputError(
      'prices',
      '`prices` has no price; for a free model pass { inputPerMillion: 0, outputPerMillion: 0 }',
    )
  let effectiveFrom = Number.NEGATIVE_INFINITY
  if (options.effectiveFrom !== undefined) {
    const t =
      options.effectiveFrom instanceof Date
        ? options.effectiveFrom.getTime()
        : typeof options.effectiveFrom === 'string'
          ? Date.parse(options.effectiveFrom)
          : options.effectiveFrom
    if (typeof t !== 'number' || !Number.isFinite(t))
      throw new InvalidInputError(
        'effectiveFrom',
        `\`effectiveFrom\` must be a valid date, got ${describeValue(options.effectiveFrom)}`,
      )
    effectiveFrom = t
  }
  return Object.freeze({
    key: model,
    provider: options.provider ?? provider ?? 'custom',
    mode: options.mode ?? mode ?? 'chat',
    retired: false,
    maxOutputTokens,
    prices: Object.freeze({ ...out }),
    source: 'custom' as const,
    effectiveFrom,
  })
}

/** True when `register` bills a field of this name (used by tests and the CLI). */
export function isRegisteredPriceField(name: string): boolean {
  return name in SHORTCUTS || isUsedField(name)
}
