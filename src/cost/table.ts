/**
 * The compact price table format bundled with llm-budget (and produced by `catalog.refresh()`).
 * Kept free of imports so that loading it costs nothing but the data itself.
 *
 * @packageDocumentation
 */

/** One upstream source the table was built from. */
export interface PriceSource {
  /** File name of the LiteLLM table. */
  file: string
  /** Upstream git commit of BerriAI/litellm. */
  commit: string
  /** Date of the upstream version (ISO), or `unknown`. */
  date: string
  /** What this source contributed: `current` prices, or `retired` models only it still has. */
  role: 'current' | 'retired'
}

/** Where the prices come from, recorded with every cost as the catalog version. */
export interface DataVersion {
  /** Always `litellm`: the table follows LiteLLM's model_prices_and_context_window.json. */
  format: 'litellm'
  /** Short id, e.g. `litellm@00035b69+caddc6dd`. */
  id: string
  /** The source files, in priority order. */
  sources: PriceSource[]
  /** Number of model keys in the table. */
  models: number
  /** Number of keys that come only from an older table (marked retired). */
  retired: number
}

/**
 * The compact table. `rows` holds one line per model key, sorted, each starting with a newline:
 * `\n<key>\t<providerIndex>\t<modeIndex>\t<flags>\t<maxOutputTokens>\t<fieldIndex>=<decimal>\t...`.
 * A lookup is a substring search for `\n<key>\t`, so loading the table costs no parsing at all.
 * `flags & 1` marks a retired model. Prices are decimal strings in USD per unit.
 */
export interface CompactPriceTable {
  format: 2
  dataVersion: DataVersion
  /** Licence notice of the source data (MIT, Berri AI). */
  license: string
  providers: string[]
  modes: string[]
  fields: string[]
  /** The model lines (see above), ending with a newline. */
  rows: string
}

/** Prices at or above this (USD per unit) are sentinel values: refused by the LiteLLM import and by price files. */
export const SENTINEL_PRICE_USD = 10_000

/** Flag bit: the model only exists in an older upstream table. */
export const RETIRED_FLAG = 1

/** Per-token price names that may carry a threshold (`_above_200k_tokens`) and/or tier (`_flex`, `_priority`) suffix. */
export const TOKEN_BASES = [
  'input_cost_per_token',
  'output_cost_per_token',
  'cache_read_input_token_cost',
  'cache_creation_input_token_cost',
  'cache_creation_input_token_cost_above_1hr',
  'output_cost_per_reasoning_token',
  'input_cost_per_audio_token',
  'output_cost_per_audio_token',
  'input_cost_per_image_token',
  'output_cost_per_image_token',
] as const

/** Other price fields the calculator uses as they are. */
const PLAIN_FIELDS = new Set([
  'input_cost_per_token_batches',
  'output_cost_per_token_batches',
  'input_cost_per_token_cache_hit',
  'input_cost_per_character',
  'output_cost_per_character',
  'input_cost_per_second',
  'output_cost_per_second',
  'input_cost_per_image',
  'output_cost_per_image',
  'input_cost_per_pixel',
  'output_cost_per_pixel',
  'input_cost_per_query',
  'input_cost_per_request',
])

const TOKEN_FIELD = new RegExp(`^(${TOKEN_BASES.join('|')})(_above_\\d+k_tokens)?(_flex|_priority)?$`)

const SEARCH_FIELD = /^search_context_cost_per_query_(low|medium|high)$/

/**
 * Rates a LiteLLM `tiered_pricing` tier may carry (token tiers, `range: [start, end]` in input tokens).
 * A tier is flattened into fields `<rate>_tier_<start>_<end>`, e.g. `input_cost_per_token_tier_256000_1000000`.
 */
export const TIER_BASES = [
  'input_cost_per_token',
  'output_cost_per_token',
  'cache_read_input_token_cost',
  'cache_creation_input_token_cost',
  'cache_creation_input_token_cost_above_1hr',
  'output_cost_per_reasoning_token',
] as const

/** A flattened tier rate: `<rate>_tier_<start>_<end>` (whole numbers of input tokens, start < end). */
export const TIER_FIELD = new RegExp(`^(${TIER_BASES.join('|')})_tier_(0|[1-9][0-9]{0,11})_([1-9][0-9]{0,11})$`)

/** True when the calculator uses a LiteLLM field of this name. */
export function isUsedField(name: string): boolean {
  if (PLAIN_FIELDS.has(name) || TOKEN_FIELD.test(name) || SEARCH_FIELD.test(name)) return true
  const tier = TIER_FIELD.exec(name)
  return tier !== null && Number(tier[2]) < Number(tier[3])
}

