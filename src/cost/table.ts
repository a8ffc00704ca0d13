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
  /**
   * Price fields the source table had that the calculator deliberately does not bill (each is listed, with the
   * reason, in {@link UNPRICED_FIELDS}); their values are left out of `rows`. Absent in tables built before this
   * field existed.
   */
  unpricedFields?: string[]
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
  'input_cost_per_second',
  'output_cost_per_second',
  'input_cost_per_image',
  'output_cost_per_image',
  'input_cost_per_pixel',
  'output_cost_per_pixel',
  'input_cost_per_query',
  'input_cost_per_request',
  'citation_cost_per_token',
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

/**
 * Price fields of LiteLLM's table that the calculator deliberately does not bill, with the reason: usage objects
 * carry no count for them, or they price a product other than a model call. Every other price field is billed
 * (see {@link isUsedField}); a field in neither list fails the price build (`npm run prices:build`), so a new fee
 * in a future table cannot be dropped silently.
 */
export const UNPRICED_FIELDS: Readonly<Record<string, string>> = Object.freeze({
  annotation_cost_per_page: 'document annotation pages: no usage object reports pages',
  cache_creation_input_audio_token_cost: 'audio cache writes: no usage object separates cached audio from cached text',
  cache_read_input_audio_token_cost: 'audio cache reads: no usage object separates cached audio from cached text',
  code_interpreter_cost_per_session: 'code interpreter sessions: a tool container fee, not reported in the call usage',
  computer_use_input_cost_per_1k_tokens: 'computer-use tool tokens: not separated from other tokens in usage objects',
  computer_use_output_cost_per_1k_tokens: 'computer-use tool tokens: not separated from other tokens in usage objects',
  file_search_cost_per_1k_calls: 'file search tool calls: not reported in the call usage',
  file_search_cost_per_gb_per_day: 'vector storage per GB-day: storage, not a model call',
  vector_store_cost_per_gb_per_day: 'vector storage per GB-day: storage, not a model call',
  input_cost_per_audio_per_second:
    'seconds of audio input: usage objects report audio tokens, not seconds, for chat calls',
  input_cost_per_audio_per_second_above_128k_tokens:
    'seconds of audio input (above 128k): as input_cost_per_audio_per_second',
  input_cost_per_video_per_second: 'seconds of video input: usage objects report tokens, not seconds',
  input_cost_per_video_per_second_above_128k_tokens:
    'seconds of video input (above 128k): as input_cost_per_video_per_second',
  input_cost_per_video_per_second_above_8s_interval:
    'video generation by interval: no usage object reports the interval',
  input_cost_per_video_per_second_above_15s_interval:
    'video generation by interval: no usage object reports the interval',
  output_cost_per_video_per_second: 'seconds of generated video: no usage object reports them',
  output_cost_per_video_token: 'video output tokens: not separated from other output tokens in usage objects',
  output_cost_per_second_1080p: 'generated video at 1080p: no usage object reports the resolution',
  output_cost_per_character:
    'output characters (legacy PaLM / Gemini 1.0 chat): usage objects report tokens, and these entries have token rates, which are billed',
  input_cost_per_character_above_128k_tokens:
    'per-character prices above 128k tokens (legacy PaLM / Gemini 1.0): characters are not counted for chat',
  output_cost_per_character_above_128k_tokens:
    'per-character prices above 128k tokens (legacy PaLM / Gemini 1.0): characters are not counted for chat',
  input_cost_per_image_above_128k_tokens:
    'per-image prices above 128k tokens (legacy Gemini 1.0): images are counted as tokens',
  input_dbu_cost_per_token: 'Databricks DBU rates: the USD rates of the same entries are billed',
  output_dbu_cost_per_token: 'Databricks DBU rates: the USD rates of the same entries are billed',
  output_db_cost_per_token: 'Databricks DBU rate (older spelling): the USD rates of the same entries are billed',
  cache_read_input_image_token_cost:
    'cached image input tokens (gpt-image-1-mini): no usage object separates cached image tokens',
  input_cost_per_token_batch_requests:
    'Vertex embedding batch-request rate (older table): batch calls are billed with the *_batches rates or half price',
  output_cost_per_image_premium_image:
    'Titan premium-quality images: the usage does not say the quality; pass image.quality to pick a quality entry',
  output_cost_per_image_above_512_and_512_pixels:
    'Titan image size variant: the usage does not carry the size; pass image.size to pick a size entry',
  output_cost_per_image_above_512_and_512_pixels_and_premium_image:
    'Titan image size and quality variant: as output_cost_per_image_above_512_and_512_pixels',
  output_cost_per_image_above_1024_and_1024_pixels:
    'Titan image size variant: the usage does not carry the size; pass image.size to pick a size entry',
  output_cost_per_image_above_1024_and_1024_pixels_and_premium_image:
    'Titan image size and quality variant: as output_cost_per_image_above_1024_and_1024_pixels',
  ocr_cost_per_credit: 'OCR credits: no usage object reports credits',
  ocr_cost_per_page: 'OCR pages: no usage object reports pages',
  regional_processing_uplift_multiplier_eu:
    'regional processing uplift: the usage does not say where the call was processed',
  regional_processing_uplift_multiplier_us:
    'regional processing uplift: the usage does not say where the call was processed',
  'tiered_pricing.max_results_range':
    'search priced by the number of results requested (exa_ai, firecrawl): usage objects do not carry it',
})

/** Keys of a LiteLLM model entry that describe the model rather than price it (accepted and ignored by `register`). */
const METADATA_FIELDS = new Set([
  'litellm_provider',
  'mode',
  'source',
  'comment',
  'metadata',
  'rules',
  'deprecation_date',
  'tool_use_system_prompt_tokens',
  'output_vector_size',
  'prompt_cache_min_tokens',
  'provider_specific_entry',
  'audio_transcription_config',
  'web_search_billing_unit',
  'use_openai_responses_path',
  'uses_embed_content',
  'gemini_audio_only_live',
  'gemini_native_audio',
  'bedrock_converse_supports_strict_tools',
  'bedrock_output_config_effort_ceiling',
  'rpm',
  'tpm',
  'rpd',
])

/** What a LiteLLM entry key is: billed, deliberately unpriced, a description of the model, or unknown. */
export function classifyField(name: string): 'used' | 'unpriced' | 'metadata' | 'unknown' {
  if (isUsedField(name)) return 'used'
  if (Object.prototype.hasOwnProperty.call(UNPRICED_FIELDS, name)) return 'unpriced'
  if (METADATA_FIELDS.has(name) || /^(supports_|supported_|max_)/.test(name)) return 'metadata'
  return 'unknown'
}

/** True for a key that looks like a price (so an unknown one is a new fee, not a new description). */
export function looksLikePrice(name: string): boolean {
  return /cost|price|uplift|multiplier|per_(token|second|image|query|request|character|page|pixel|session)/.test(name)
}
