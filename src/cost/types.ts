/**
 * Public types of the cost calculator.
 *
 * @packageDocumentation
 */
import type { DataVersion } from './table.js'

export type { DataVersion, PriceSource, CompactPriceTable } from './table.js'

/**
 * Token usage of one call, the same for every provider. Produced by {@link normalizeUsage}.
 * Input counts include cache reads and writes; output counts include reasoning.
 */
export interface NormalizedUsage {
  /** All input tokens, including cache reads and writes. `null` only for calls billed by duration that report no tokens (whisper). */
  inputTokens: number | null
  /** All output tokens, including reasoning. `null` only for calls billed by duration that report no tokens. */
  outputTokens: number | null
  /** Input tokens read from the prompt cache. */
  cacheReadTokens: number
  /** All input tokens written to the prompt cache; split below when the provider reports it. */
  cacheWriteTokens: number
  /** Cache writes with a 5-minute lifetime (Anthropic). */
  cacheWrite5mTokens?: number
  /** Cache writes with a 1-hour lifetime (Anthropic), priced at the 1h write rate. */
  cacheWrite1hTokens?: number
  /** Reasoning / thinking tokens inside `outputTokens`; `null` when the response does not break them out. */
  reasoningTokens: number | null
  /** Audio tokens inside `inputTokens`. */
  inputAudioTokens?: number
  /** Audio tokens inside `outputTokens`. */
  outputAudioTokens?: number
  /** Text tokens inside `inputTokens`, when the response reports them separately (images, transcription). */
  inputTextTokens?: number
  /** Image tokens inside `inputTokens`. */
  inputImageTokens?: number
  /** Image tokens inside `outputTokens` (image generation), priced at the image-output rate. */
  outputImageTokens?: number
  /**
   * Citation tokens (Perplexity): tokens of the sources read, outside `inputTokens`, priced at the entry's
   * `citation_cost_per_token`.
   */
  citationTokens?: number
  /** Server-side web searches billed per search (also Perplexity's `num_search_queries`). */
  webSearchRequests?: number
  /** Server-side web fetches (reported by Anthropic; currently free). */
  webFetchRequests?: number
  /** Seconds of audio for calls billed per second (transcription). */
  audioSeconds?: number
  /** Characters of input for calls billed per character (speech). */
  inputCharacters?: number
  /** Rerank search units / queries billed per query. */
  searchUnits?: number
  /** Tokens the provider processed but did not bill (Cohere `usage.tokens`); informational. */
  processedInputTokens?: number
  /** Output tokens processed but not billed (Cohere); informational. */
  processedOutputTokens?: number
  /** Number of images generated, for per-image pricing. */
  imageCount?: number
  /** Search context size the provider says it used (Perplexity), for per-search prices; the call's option wins. */
  searchContextSize?: 'low' | 'medium' | 'high'
  /** Service tier the provider says it used, when it is one that changes the price (`flex`, `priority`). */
  serviceTier?: 'flex' | 'priority'
  /** Cost in USD reported by the provider or gateway (OpenRouter `usage.cost`), when present. */
  providerCost?: number
  /** What the response says was used (often a dated snapshot), else the request's model. */
  model?: string
  /** `request` when `model` came from the request because the response names none. */
  modelSource?: 'request'
}

/** A price entry: LiteLLM field names mapped to decimal strings of USD per unit. */
export interface PriceEntry {
  /** Catalog key (or the registered model name). */
  readonly key: string
  /** LiteLLM provider name (`openai`, `anthropic`, `vertex_ai-language-models`, ...). */
  readonly provider: string
  /** LiteLLM mode: `chat`, `embedding`, `image_generation`, `audio_transcription`, `audio_speech`, `rerank`, ... */
  readonly mode: string
  /** True for models only the older LiteLLM table still has. */
  readonly retired: boolean
  /** Maximum output tokens, when known (0 = unknown). */
  readonly maxOutputTokens: number
  /** Prices by LiteLLM field name (e.g. `input_cost_per_token`), as decimal strings. */
  readonly prices: Readonly<Record<string, string>>
  /** `catalog` for bundled or refreshed data, `custom` for registered prices. */
  readonly source: 'catalog' | 'custom'
  /** For custom prices: when they take effect (epoch ms), or `-Infinity`. */
  readonly effectiveFrom: number
}

/** How a model name was resolved to a catalog entry. */
export type ResolutionRule =
  | 'custom'
  | 'exact'
  | 'provider-prefixed'
  | 'alias'
  | 'deployment'
  | 'provider-stripped'
  | 'date-stripped'
  | 'fine-tune'
  | 'provider-mismatch'
  | 'prices-option'

/** Result of {@link PriceCatalog.resolve}. */
export interface ResolvedModel {
  /** The catalog key that matched. */
  key: string
  /** The entry. */
  entry: PriceEntry
  /** The rule that matched, e.g. `exact`, `date-stripped`. */
  rule: ResolutionRule
  /** Human-readable explanation of the path, e.g. `bedrock/us.anthropic.x -> us.anthropic.x (provider-stripped)`. */
  explain: string
}

/**
 * Prices to register for a model: LiteLLM field names (`input_cost_per_token`, ...) in USD per unit, or
 * the per-million-token shortcuts. Values are decimal strings (preferred) or numbers.
 */
export interface CustomPrices {
  /** USD per 1M input tokens (shortcut for `input_cost_per_token`). */
  inputPerMillion?: string | number
  /** USD per 1M output tokens. */
  outputPerMillion?: string | number
  /** USD per 1M cache-read tokens. */
  cacheReadPerMillion?: string | number
  /** USD per 1M cache-write tokens (5-minute writes). */
  cacheWritePerMillion?: string | number
  /** USD per 1M 1-hour cache-write tokens. */
  cacheWrite1hPerMillion?: string | number
  /** USD per 1M reasoning tokens, when billed differently from output. */
  reasoningPerMillion?: string | number
  /** Any LiteLLM price field (USD per unit, a number or a decimal string), `tiered_pricing`, `search_context_cost_per_query`, or a descriptive key of a LiteLLM entry (ignored). */
  [litellmField: string]: unknown
}

/** Service tiers that change the price. `standard`/`default`/`auto` are the normal price. */
export type ServiceTier = 'flex' | 'priority' | 'standard' | 'default' | 'auto'

/** Exact figures of a cost, as decimal strings and integer nano-USD. */
export interface ExactCost {
  /** Total cost in USD, exact decimal string (`"0.0121075"`). */
  totalCost: string
  /** Total cost in integer nano-USD (1e-9 USD), rounded up: what the budget ledger records. */
  totalNanoUsd: number
  inputCost: string
  outputCost: string
  cacheReadCost: string
  cacheWriteCost: string
  reasoningCost: string
  otherCost: string
}

/**
 * Result of {@link calculateCost}. Costs are USD numbers (closest double to the exact value). `totalCost` and
 * the metadata are own properties; the part costs (`inputCost` ... `otherCost`) and `exact` are getters computed
 * on access, so spreading a result (`{ ...result }`) copies only the former: use `toJSON()` for a plain object.
 */
export interface CostResult {
  /** Sum of the parts below. */
  totalCost: number
  /** Uncached input tokens (text, audio, image) at their rates. */
  inputCost: number
  /** Output tokens other than separately reported reasoning, including audio and image output. */
  outputCost: number
  /** Cache-read tokens. */
  cacheReadCost: number
  /** Cache-write tokens (5m and 1h). */
  cacheWriteCost: number
  /** Reasoning tokens when the usage breaks them out (at the reasoning rate if the entry has one, else output). */
  reasoningCost: number
  /** Per-request charges: web search, per image, per second, per character, per query, per request. */
  otherCost: number
  currency: 'USD'
  /** Resolved catalog key. */
  model: string
  /** Provider: the one given, else the entry's LiteLLM provider. */
  provider: string
  /** How the model was resolved. */
  rule: ResolutionRule
  /**
   * False only with `onUnpriced: 'zero'`, for a model without a price: unknown to the catalog, or known but
   * without a rate for any part of this usage (ADR 0009). A free model (all its prices 0) is `priced: true`.
   */
  priced: boolean
  /** Where the price came from. */
  source: 'catalog' | 'custom' | 'provider'
  /** Service tier that was priced. */
  serviceTier: 'standard' | 'flex' | 'priority'
  /** True when priced at batch rates. */
  batch: boolean
  /**
   * Usage the price entry has no rate for, counted as $0 and named here so that it is never silent: e.g.
   * `webSearchRequests` on a model without a web-search price (LiteLLM also bills those searches at $0, without
   * saying so), or `outputTokens` on an entry with an input rate only. Only when another part of the call was
   * priced; when nothing was, the call is unpriced (`UnknownModelError`, or `priced: false` with
   * `onUnpriced: 'zero'`, listing the parts here). Empty (a shared frozen array) when everything was priced.
   */
  unpriced: readonly UnpricedUsage[]
  /**
   * Counts that did not add up and were clamped (see {@link UsageAdjustment}); empty (a shared frozen array)
   * when the usage was consistent.
   */
  adjusted: readonly UsageAdjustment[]
  /** Exact decimal strings and integer nano-USD (each formatted when read; `exact.toJSON()` is not needed for `JSON.stringify(result)`). */
  readonly exact: ExactCost
  /** Plain-object form (with `exact`) for logging and JSON. */
  toJSON(): Omit<CostResult, 'exact' | 'toJSON'> & { exact: ExactCost }
}

/**
 * Parts of a usage that can be reported while the price entry has no rate for them (see `CostResult.unpriced`):
 * usage field names; `inputTokens` / `outputTokens` stand for any input-side / output-side token count (cache,
 * audio and image tokens included) and `imageCount` for images priced per image or pixel.
 */
export type UnpricedUsage =
  | 'inputTokens'
  | 'outputTokens'
  | 'webSearchRequests'
  | 'audioSeconds'
  | 'inputCharacters'
  | 'searchUnits'
  | 'imageCount'
  | 'citationTokens'

/**
 * A usage count that did not add up and was clamped rather than refused (the call was made and paid for, so its
 * record is never lost to provider arithmetic). E.g. Vertex Claude reporting 28,436 prompt tokens with 28,432
 * cached and 118 written: the uncached input is counted as 0, not -114, and every cached and written token is billed.
 */
export interface UsageAdjustment {
  /** The count that was inconsistent with its parts: `inputTokens`, `outputTokens` or `cacheWrite1hTokens`. */
  readonly field: 'inputTokens' | 'outputTokens' | 'cacheWrite1hTokens'
  /** What the usage reported. */
  readonly reported: number
  /** What was billed instead: the sum of the parts (input, output), or the cache writes (1-hour writes). */
  readonly billedAs: number
  /** What happened, in words. */
  readonly message: string
}

/** Options shared by the cost functions. */
export interface PricingOptions {
  /** Provider hint (LiteLLM names: `openai`, `azure`, `anthropic`, `bedrock`, `vertex_ai`, `gemini`, ...). */
  provider?: string | undefined
  /** Service tier requested; the tier reported by the response wins. */
  serviceTier?: ServiceTier | undefined
  /** Priced at batch rates (`*_batches`, else half price). */
  batch?: boolean | undefined
  /** Per-call prices that override the catalog for this call (source `custom`). */
  prices?: CustomPrices | undefined
  /** Catalog to use; defaults to {@link defaultCatalog}. */
  catalog?: import('./catalog.js').PriceCatalog | undefined
  /**
   * What to do for a model without a price (unknown, or known without a rate for this usage): `throw` an
   * `UnknownModelError` (default) or `zero` (returns `priced: false`, never a silent $0).
   */
  onUnpriced?: 'throw' | 'zero' | undefined
  /** Web search context size for per-search prices (default `medium`). */
  searchContextSize?: 'low' | 'medium' | 'high' | undefined
  /** Image generation: size (`1024x1024`) and quality (`standard`, `hd`, `low`, `medium`, `high`) and count. */
  image?: { size?: string | undefined; quality?: string | undefined; count?: number | undefined } | undefined
  /** Time of the call (for custom prices with `effectiveFrom`); defaults to now. */
  at?: Date | number | undefined
}

/** Input of {@link calculateCost}. */
export interface CalculateCostInput extends PricingOptions {
  /** Model name as requested or as reported; `usage.model` is used when omitted. */
  model?: string | undefined
  /** A {@link NormalizedUsage}, or any response/stream/usage shape {@link normalizeUsage} accepts. */
  usage: unknown
}

export type { DataVersion as CatalogDataVersion }
