/**
 * Prices converted once into scaled integers for fast exact arithmetic.
 *
 * Every price of an entry is turned into an integer count of 10^-scale USD, where `scale` is one more
 * than the largest number of decimal places among the entry's prices (the extra digit makes half
 * prices, used for batch, exact). Costs are then sums of integer products: computed in doubles while
 * the total stays at most 2^53 - 1 (then every product and partial sum is exact), otherwise in BigInt.
 *
 * @internal
 * @packageDocumentation
 */
import { parseDecimal, rescale } from './decimal.js'
import { TIER_FIELD, TOKEN_BASES } from './table.js'
import type { PriceEntry } from './types.js'

/** Per-unit rates of one (tier, threshold, batch) combination, in units of 10^-scale USD. */
export interface RateSet {
  input: number
  output: number
  cacheRead: number
  cacheWrite: number
  cacheWrite1h: number
  /** Reasoning rate, or -1 when reasoning is billed at the output rate. */
  reasoning: number
  audioIn: number
  audioOut: number
  imageIn: number
  imageOut: number
  /**
   * Token parts this rate set has no price for (bits of {@link MISSING}): 0 for almost every entry. A part
   * without a rate is priced at 0 here; the calculator names it in `unpriced` or refuses the call (ADR 0009).
   */
  missing: number
  big: BigRateSet
}

/** Bits of {@link RateSet.missing}: the token parts of a usage. */
export const MISSING = {
  input: 1,
  cacheRead: 2,
  cacheWrite: 4,
  cacheWrite1h: 8,
  audioIn: 16,
  imageIn: 32,
  output: 64,
  reasoning: 128,
  audioOut: 256,
  imageOut: 512,
} as const

/** All input-side bits of {@link MISSING}. */
export const MISSING_INPUT = 63
/** All output-side bits of {@link MISSING}. */
export const MISSING_OUTPUT = 960

/** The same rates as BigInt, for the exact fallback path. */
export interface BigRateSet {
  input: bigint
  output: bigint
  cacheRead: bigint
  cacheWrite: bigint
  cacheWrite1h: bigint
  reasoning: bigint
  audioIn: bigint
  audioOut: bigint
  imageIn: bigint
  imageOut: bigint
}

/** An entry prepared for pricing. */
export interface PreparedEntry {
  entry: PriceEntry
  scale: number
  /** 10^scale as a double (exact when scale <= 22). */
  unit: number
  /** True when every rate is a safe integer and `unit` is exact: the double fast path may be used. */
  fast: boolean
  /**
   * Largest scaled total the double path may return: at most 2^53 - 1, and small enough that the total in
   * nano-USD (total * 10^(9 - scale) when scale < 9) is a safe integer too.
   */
  maxFastTotal: number
  /** Thresholds in tokens (from `_above_<N>k_tokens` keys), descending. */
  thresholds: number[]
  /** Standard tier, no threshold, no batch. */
  base: RateSet
  /** True when the entry has a per-request charge (`input_cost_per_request`). */
  perRequest: boolean
  /**
   * What the entry is priced in: `tokens` (at least one token rate, flat, threshold, service-tier or tier),
   * `units` (no token rate, but a rate per second, character, image, pixel, query, search or request), or
   * `none` (no price field at all: every call to it is unpriced, ADR 0009).
   */
  priceKind: 'tokens' | 'units' | 'none'
  /**
   * Input-token tiers (LiteLLM `tiered_pricing`), ascending by start; empty for most entries. The request's
   * input tokens pick one tier and every token of the request is billed at that tier's rates.
   */
  tiers: ReadonlyArray<{ readonly start: number; readonly end: number }>
  /** Index into `tiers` for a request with this many input tokens (see {@link selectTier}). */
  tierFor(inputTokens: number): number
  /** Rate set of tier `index` (memoized); batch halves it like any other rate. */
  tierRates(index: number, batch: boolean): RateSet
  /** Scaled value of any other price field (per second, per image, ...), BigInt; undefined if absent. */
  other(field: string): bigint | undefined
  /** Rate set for a tier / threshold / batch combination (memoized). */
  rates(tier: 'standard' | 'flex' | 'priority', threshold: number, batch: boolean): RateSet
}

// The regular expressions below run only on fields that contain their fixed part (`_above_`, `_tier_`): compiling
// one costs about as much as preparing a whole entry, and most entries have neither kind of field.
const THRESHOLD_RE = /_above_(\d+)k_tokens/

/** Whether a price field makes an entry priced in tokens: a token rate in any variant (threshold, tier, service tier). */
function isTokenRate(field: string): boolean {
  for (const base of TOKEN_BASES) if (field.startsWith(base)) return true
  return false
}

function toNumberRates(big: BigRateSet, missing: number): RateSet {
  return {
    input: Number(big.input),
    output: Number(big.output),
    cacheRead: Number(big.cacheRead),
    cacheWrite: Number(big.cacheWrite),
    cacheWrite1h: Number(big.cacheWrite1h),
    reasoning: big.reasoning < 0n ? -1 : Number(big.reasoning),
    audioIn: Number(big.audioIn),
    audioOut: Number(big.audioOut),
    imageIn: Number(big.imageIn),
    imageOut: Number(big.imageOut),
    missing,
    big,
  }
}

/** Missing-rate bits of a set of optional rates (undefined = no rate). */
function missingBits(r: { [K in keyof typeof MISSING]: bigint | undefined }): number {
  let bits = 0
  for (const name of Object.keys(MISSING) as Array<keyof typeof MISSING>)
    if (r[name] === undefined) bits |= MISSING[name]
  return bits
}

/** Prepares an entry (throws RangeError for a malformed price string, which validation prevents). */
export function prepareEntry(entry: PriceEntry): PreparedEntry {
  const parsed = new Map<string, { int: bigint; scale: number }>()
  let maxScale = 0
  for (const [field, text] of Object.entries(entry.prices)) {
    const value = parseDecimal(text)
    if (!value) throw new RangeError(`price ${field} of ${entry.key} is not a decimal: ${text}`)
    parsed.set(field, value)
    if (value.scale > maxScale) maxScale = value.scale
  }
  const scale = maxScale + 1
  const scaled = new Map<string, bigint>()
  for (const [field, value] of parsed) scaled.set(field, rescale(value, scale))

  const thresholds = new Set<number>()
  for (const field of scaled.keys()) {
    const m = field.includes('_above_') ? THRESHOLD_RE.exec(field) : null
    if (m) thresholds.add(Number(m[1]) * 1000)
  }
  const thresholdList = [...thresholds].sort((a, b) => b - a)

  let fast = scale <= 22
  const check = (value: bigint): void => {
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fast = false
  }
  for (const value of scaled.values()) check(value)

  /** Looks up one token price name under a tier and threshold, with the documented fallbacks. */
  const lookup = (base: string, tier: string, threshold: number): bigint | undefined => {
    const above = threshold > 0 ? `_above_${threshold / 1000}k_tokens` : ''
    const tierSuffix = tier === 'standard' ? '' : `_${tier}`
    if (above && tierSuffix) {
      const both = scaled.get(base + above + tierSuffix)
      if (both !== undefined) return both
      const a = scaled.get(base + above)
      const t = scaled.get(base + tierSuffix)
      // Neither combined key: the higher of the two (never under-reserve).
      if (a !== undefined && t !== undefined) return a > t ? a : t
      return a ?? t ?? scaled.get(base)
    }
    if (above) return scaled.get(base + above) ?? scaled.get(base)
    if (tierSuffix) return scaled.get(base + tierSuffix) ?? scaled.get(base)
    return scaled.get(base)
  }

  // Token tiers (LiteLLM `tiered_pricing`, flattened as `<rate>_tier_<start>_<end>`).
  const tierMap = new Map<string, { start: number; end: number; rates: Map<string, bigint> }>()
  for (const [field, value] of scaled) {
    const m = field.includes('_tier_') ? TIER_FIELD.exec(field) : null
    if (!m) continue
    const id = `${m[2]}_${m[3]}`
    let tier = tierMap.get(id)
    if (!tier) {
      tier = { start: Number(m[2]), end: Number(m[3]), rates: new Map() }
      tierMap.set(id, tier)
    }
    tier.rates.set(m[1]!, value)
  }
  const tierList = [...tierMap.values()].sort((a, b) => a.start - b.start || a.end - b.end)

  const halve = (big: BigRateSet, batchIn: bigint | undefined, batchOut: bigint | undefined): BigRateSet => {
    const half = (v: bigint): bigint => v / 2n // exact: scale has one spare digit, so every rate is a multiple of 10
    return {
      input: batchIn ?? half(big.input),
      output: batchOut ?? half(big.output),
      cacheRead: half(big.cacheRead),
      cacheWrite: half(big.cacheWrite),
      cacheWrite1h: half(big.cacheWrite1h),
      reasoning: big.reasoning < 0n ? -1n : half(big.reasoning),
      audioIn: half(big.audioIn),
      audioOut: half(big.audioOut),
      imageIn: half(big.imageIn),
      imageOut: half(big.imageOut),
    }
  }

  // Memo without per-call key strings: slot = tier * 2 + batch, then the threshold (a number key).
  const memo: Array<Map<number, RateSet>> = [new Map(), new Map(), new Map(), new Map(), new Map(), new Map()]
  const rates = (tier: 'standard' | 'flex' | 'priority', threshold: number, batch: boolean): RateSet => {
    const slot = memo[(tier === 'standard' ? 0 : tier === 'flex' ? 2 : 4) + (batch ? 1 : 0)]!
    const cached = slot.get(threshold)
    if (cached) return cached
    const inputR = lookup('input_cost_per_token', tier, threshold)
    const outputR = lookup('output_cost_per_token', tier, threshold)
    const input = inputR ?? 0n
    const output = outputR ?? 0n
    // A missing cache-read rate bills cached tokens at the input rate, never at 0.
    const cacheReadR =
      lookup('cache_read_input_token_cost', tier, threshold) ?? scaled.get('input_cost_per_token_cache_hit') ?? inputR
    // A missing cache-write rate bills writes at the input rate; a missing 1h rate falls back to the 5m rate.
    const cacheWriteR = lookup('cache_creation_input_token_cost', tier, threshold) ?? inputR
    const cacheRead = cacheReadR ?? 0n
    const cacheWrite = cacheWriteR ?? 0n
    const oneHour = scaled.get('cache_creation_input_token_cost_above_1hr')
    const oneHourAbove =
      threshold > 0
        ? scaled.get(`cache_creation_input_token_cost_above_1hr_above_${threshold / 1000}k_tokens`)
        : undefined
    const cacheWrite1hR = oneHourAbove ?? oneHour ?? cacheWriteR
    let cacheWrite1h = cacheWrite1hR ?? 0n
    // Above a threshold without a combined 1h key: never below the (re-priced) 5m write rate.
    if (threshold > 0 && oneHourAbove === undefined && cacheWrite1h < cacheWrite) cacheWrite1h = cacheWrite
    const reasoningR = lookup('output_cost_per_reasoning_token', tier, threshold)
    const reasoning = reasoningR ?? -1n
    const audioInR = lookup('input_cost_per_audio_token', tier, threshold) ?? inputR
    const audioOutR = lookup('output_cost_per_audio_token', tier, threshold) ?? outputR
    const imageInR = lookup('input_cost_per_image_token', tier, threshold) ?? inputR
    const imageOutR = lookup('output_cost_per_image_token', tier, threshold) ?? outputR
    const audioIn = audioInR ?? 0n
    const audioOut = audioOutR ?? 0n
    const imageIn = imageInR ?? 0n
    const imageOut = imageOutR ?? 0n
    const missing = missingBits({
      input: inputR,
      cacheRead: cacheReadR,
      cacheWrite: cacheWriteR,
      cacheWrite1h: cacheWrite1hR,
      audioIn: audioInR,
      imageIn: imageInR,
      output: outputR,
      reasoning: reasoningR ?? outputR,
      audioOut: audioOutR,
      imageOut: imageOutR,
    })
    let big: BigRateSet = {
      input,
      output,
      cacheRead,
      cacheWrite,
      cacheWrite1h,
      reasoning,
      audioIn,
      audioOut,
      imageIn,
      imageOut,
    }
    if (batch) big = halve(big, scaled.get('input_cost_per_token_batches'), scaled.get('output_cost_per_token_batches'))
    const set = toNumberRates(big, missing)
    slot.set(threshold, set)
    return set
  }

  /**
   * Tier rates, as LiteLLM applies `tiered_pricing` (litellm_core_utils/llm_cost_calc/tiered_pricing.py and
   * utils._get_tiered_base_costs): all-or-nothing, a rate the tier lacks falls back within the tier (cache
   * read and write -> the tier's input rate, 1h write -> the tier's 5m write rate, reasoning -> the tier's
   * output rate); output missing from a tier falls back to the entry's own output rate. Audio and image
   * tokens use the entry's audio/image rates, else the tier's input/output rate.
   */
  const tierMemo: Array<RateSet | undefined> = []
  const tierRates = (index: number, batch: boolean): RateSet => {
    const memoKey = index * 2 + (batch ? 1 : 0)
    const cached = tierMemo[memoKey]
    if (cached) return cached
    const t = tierList[index]!.rates
    const inputR = t.get('input_cost_per_token') ?? scaled.get('input_cost_per_token')
    const outputR = t.get('output_cost_per_token') ?? scaled.get('output_cost_per_token')
    const input = inputR ?? 0n
    const output = outputR ?? 0n
    const cacheWrite = t.get('cache_creation_input_token_cost') ?? input
    const reasoningR = t.get('output_cost_per_reasoning_token')
    const audioOutR = scaled.get('output_cost_per_audio_token') ?? outputR
    const imageOutR = scaled.get('output_cost_per_image_token') ?? outputR
    const audioInR = scaled.get('input_cost_per_audio_token') ?? inputR
    const imageInR = scaled.get('input_cost_per_image_token') ?? inputR
    let big: BigRateSet = {
      input,
      output,
      cacheRead: t.get('cache_read_input_token_cost') ?? input,
      cacheWrite,
      cacheWrite1h: t.get('cache_creation_input_token_cost_above_1hr') ?? cacheWrite,
      reasoning: reasoningR ?? -1n,
      audioIn: audioInR ?? 0n,
      audioOut: audioOutR ?? 0n,
      imageIn: imageInR ?? 0n,
      imageOut: imageOutR ?? 0n,
    }
    // Every tier has an input rate (the build rejects a tier without one); the output rate may be absent.
    const missing = missingBits({
      input: inputR,
      cacheRead: inputR,
      cacheWrite: inputR,
      cacheWrite1h: inputR,
      audioIn: audioInR,
      imageIn: imageInR,
      output: outputR,
      reasoning: reasoningR ?? outputR,
      audioOut: audioOutR,
      imageOut: imageOutR,
    })
    if (batch) big = halve(big, undefined, undefined)
    const set = toNumberRates(big, missing)
    tierMemo[memoKey] = set
    return set
  }

  const tiers = tierList.map((t) => ({ start: t.start, end: t.end }))
  let priceKind: 'tokens' | 'units' | 'none' = scaled.size === 0 ? 'none' : 'units'
  for (const field of scaled.keys()) {
    if (isTokenRate(field)) {
      priceKind = 'tokens'
      break
    }
  }
  const base = tierList.length > 0 ? tierRates(selectTier(tiers, 0), false) : rates('standard', 0, false)
  return {
    entry,
    scale,
    unit: 10 ** scale,
    fast,
    maxFastTotal: scale >= 9 ? Number.MAX_SAFE_INTEGER : Math.floor(Number.MAX_SAFE_INTEGER / 10 ** (9 - scale)),
    thresholds: thresholdList,
    base,
    perRequest: scaled.has('input_cost_per_request'),
    priceKind,
    tiers,
    tierFor: (inputTokens) => selectTier(tiers, inputTokens),
    tierRates,
    other: (field) => scaled.get(field),
    rates,
  }
}

/**
 * The tier of a request, as LiteLLM's `select_tier_for_input`: the first tier with
 * `start < inputTokens <= end` (a request of exactly `end` tokens stays in the lower tier), else the last
 * tier (above the highest range, or in a gap). One difference: a request with 0 input tokens is priced at
 * the first tier (LiteLLM falls back to the entry's flat rates, which tiered entries do not have, and would
 * bill the output for free).
 */
export function selectTier(
  tiers: ReadonlyArray<{ readonly start: number; readonly end: number }>,
  inputTokens: number,
): number {
  if (inputTokens <= 0) return 0
  for (let i = 0; i < tiers.length; i++) {
    const t = tiers[i]!
    if (t.start < inputTokens && inputTokens <= t.end) return i
  }
  return tiers.length - 1
}
