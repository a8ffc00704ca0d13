/**
 * The cost formula: exact, synchronous, pure.
 *
 * Prices are scaled integers (see prepared.ts). The common case (token usage, no per-request charges)
 * multiplies and adds in doubles and checks that the total is at most 2^53 - 1, which proves every product
 * and partial sum exact; anything else (large totals, per-second/character/image/search charges,
 * fractional seconds, very small price units) takes the BigInt path. Exact decimal strings are formatted
 * only when `result.exact` is read.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { describeValue } from '../internal/describe.js'
import { catalogLookup, defaultCatalog, type PriceCatalog } from './catalog.js'
import { badCount, count, MAX_TOKENS, requiredCount, tierOf } from './counts.js'
import { decimalFromNumber } from './decimal.js'
import { isImageMode, otherCharges } from './other-charges.js'
import { MISSING, type PreparedEntry, type RateSet } from './prepared.js'
import { resolveFor } from './resolve-for.js'
import { checkLedgerRange, CostResultImpl, NONE_ADJUSTED, NONE_UNPRICED } from './result.js'
import type { CalculateCostInput, CostResult, NormalizedUsage, ResolvedModel, UsageAdjustment } from './types.js'
import { unpricedUsageError, withTokenParts } from './unpriced.js'
import { normalizeUsage } from './usage.js'

export { MAX_TOKENS } from './counts.js'
export { costToNano } from './result.js'
export { estimateCost, type CostEstimate, type EstimateCostInput, type EstimateMessage } from './estimate.js'

function isNormalized(u: unknown): u is NormalizedUsage {
  return (
    typeof u === 'object' &&
    u !== null &&
    typeof (u as NormalizedUsage).cacheReadTokens === 'number' &&
    typeof (u as NormalizedUsage).cacheWriteTokens === 'number' &&
    'reasoningTokens' in u
  )
}

/** The usage of a call from any shape; an async stream is refused (pricing must stay synchronous). */
function syncUsage(raw: unknown, input: CalculateCostInput): NormalizedUsage {
  if (
    typeof raw === 'object' &&
    raw !== null &&
    typeof (raw as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function' &&
    !('usage' in raw)
  ) {
    throw new InvalidInputError(
      'usage',
      '`usage` is an async stream; `await normalizeUsage(stream)` (or use createUsageAccumulator) and pass the result',
    )
  }
  return normalizeUsage(raw, { provider: input.provider, model: input.model })
}

/** `list` with one more adjustment (a new frozen array: the shared empty one is never mutated). */
function adjust(
  list: readonly UsageAdjustment[],
  field: UsageAdjustment['field'],
  reported: number,
  billedAs: number,
  message: string,
): readonly UsageAdjustment[] {
  return Object.freeze([...list, Object.freeze({ field, reported, billedAs, message })])
}

/**
 * Cost of one call. `usage` is a {@link NormalizedUsage} or any response, stream (array of
 * chunks) or usage shape {@link normalizeUsage} accepts. Synchronous and pure.
 *
 * @throws UnknownModelError when the model has no price (unless `onUnpriced: 'zero'`).
 * @throws InvalidInputError for negative, fractional, non-finite or huge counts (counts that do not add up, such
 *   as cached > input, are clamped and reported in `adjusted`, not thrown).
 * @throws MissingUsageError when `usage` carries no usage.
 */
export function calculateCost(input: CalculateCostInput): CostResult {
  if (input === null || typeof input !== 'object')
    throw new InvalidInputError('input', '`calculateCost` takes an object { model, usage, ... }')
  const raw = input.usage
  const usage = isNormalized(raw) ? raw : syncUsage(raw, input)
  // The model that served the call (from the response) wins over the requested one when it resolves.
  let model = input.model
  const catalog = input.catalog ?? defaultCatalog
  if (
    usage.model !== undefined &&
    usage.model !== model &&
    usage.modelSource !== 'request' &&
    input.prices === undefined
  ) {
    if (model === undefined || catalogLookup(catalog, usage.model, input.provider) !== undefined) model = usage.model
  }
  if (typeof model !== 'string' || model === '')
    throw new InvalidInputError('model', '`model` is required (the usage does not name one)')
  const priced = resolveFor(model, input, catalog)
  const provider = input.provider ?? (priced ? priced.resolved.entry.provider : 'unknown')
  const usageTier = usage.serviceTier
  const inputTier = input.serviceTier
  const tier =
    usageTier !== undefined
      ? tierOf(usageTier, 'usage.serviceTier')
      : inputTier === undefined
        ? 'standard'
        : tierOf(inputTier, 'serviceTier')
  const batch = input.batch === true
  if (input.batch !== undefined && typeof input.batch !== 'boolean')
    throw new InvalidInputError('batch', `\`batch\` must be a boolean, got ${describeValue(input.batch)}`)

  // Validate counts (also for unpriced calls: bad input is bad input).
  // Direct named reads (keyed reads of absent properties are slow in V8).
  const inputTokens = requiredCount(usage.inputTokens, 'inputTokens')
  const outputTokens = requiredCount(usage.outputTokens, 'outputTokens')
  const cacheRead = count(usage.cacheReadTokens, 'cacheReadTokens')
  const cacheWrite = count(usage.cacheWriteTokens, 'cacheWriteTokens')
  // Optional counts: absent on most usages, so test for undefined here and call the checker only when present.
  const w1 = usage.cacheWrite1hTokens
  const write1hRaw = w1 === undefined ? 0 : count(w1, 'cacheWrite1hTokens')
  const ai = usage.inputAudioTokens
  const audioIn = ai === undefined ? 0 : count(ai, 'inputAudioTokens')
  const ii = usage.inputImageTokens
  const imageIn = ii === undefined ? 0 : count(ii, 'inputImageTokens')
  const ao = usage.outputAudioTokens
  const audioOut = ao === undefined ? 0 : count(ao, 'outputAudioTokens')
  const io = usage.outputImageTokens
  const imageOut = io === undefined ? 0 : count(io, 'outputImageTokens')
  const reasoningRaw = usage.reasoningTokens
  let reasoning = 0
  if (reasoningRaw !== null) {
    if (
      typeof reasoningRaw !== 'number' ||
      !Number.isSafeInteger(reasoningRaw) ||
      reasoningRaw < 0 ||
      reasoningRaw > MAX_TOKENS
    )
      throw badCount('reasoningTokens', reasoningRaw)
    reasoning = reasoningRaw
  }
  // Inconsistent counts (providers do send cache counts above the prompt total) are clamped, never thrown:
  // the call was made and paid for, so its record must not be lost. Each clamp is reported in `adjusted`.
  let adjusted = NONE_ADJUSTED
  let write1h = write1hRaw
  if (write1h > cacheWrite) {
    adjusted = adjust(
      adjusted,
      'cacheWrite1hTokens',
      write1h,
      cacheWrite,
      `\`usage.cacheWrite1hTokens\` (${write1h}) exceeds \`usage.cacheWriteTokens\` (${cacheWrite}); counted as ${cacheWrite} 1-hour writes`,
    )
    write1h = cacheWrite
  }
  const write5m = cacheWrite - write1h
  let uncached = inputTokens - cacheRead - cacheWrite - audioIn - imageIn
  if (uncached < 0) {
    adjusted = adjust(
      adjusted,
      'inputTokens',
      inputTokens,
      inputTokens - uncached,
      `cache reads (${cacheRead}) + cache writes (${cacheWrite}) + audio (${audioIn}) + image (${imageIn}) input tokens exceed \`usage.inputTokens\` (${inputTokens}); the uncached input was counted as 0 instead of ${uncached}`,
    )
    uncached = 0
  }
  let textOut = outputTokens - reasoning - audioOut - imageOut
  if (textOut < 0) {
    adjusted = adjust(
      adjusted,
      'outputTokens',
      outputTokens,
      outputTokens - textOut,
      `reasoning (${reasoning}) + audio (${audioOut}) + image (${imageOut}) output tokens exceed \`usage.outputTokens\` (${outputTokens}); the text output was counted as 0 instead of ${textOut}`,
    )
    textOut = 0
  }

  if (priced === undefined) {
    return new CostResultImpl(
      0,
      1,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      model,
      provider,
      'exact',
      false,
      'catalog',
      tier,
      batch,
      NONE_UNPRICED,
      adjusted,
    )
  }
  const { resolved, prepared } = priced
  const source = resolved.entry.source

  // Provider-reported cost (OpenRouter usage.cost, gateway header) wins when present and positive.
  const providerCost = usage.providerCost
  if (providerCost !== undefined) {
    const parsed = typeof providerCost === 'number' ? decimalFromNumber(providerCost) : undefined
    if (!parsed)
      throw new InvalidInputError(
        'usage.providerCost',
        `\`usage.providerCost\` must be a finite number >= 0, got ${describeValue(providerCost)}`,
      )
    if (parsed.int > 0n) {
      checkLedgerRange(parsed.int, parsed.scale)
      return new CostResultImpl(
        parsed.scale,
        1,
        parsed.int,
        0n,
        0n,
        0n,
        0n,
        0n,
        parsed.int,
        resolved.key,
        provider,
        resolved.rule,
        true,
        'provider',
        tier,
        batch,
        NONE_UNPRICED,
        adjusted,
      )
    }
  }

  let threshold = 0
  const thresholds = prepared.thresholds
  for (let i = 0; i < thresholds.length; i++) {
    if (inputTokens > thresholds[i]!) {
      threshold = thresholds[i]!
      break
    }
  }
  // Tiered entries (LiteLLM `tiered_pricing`): the input tokens pick one tier for the whole request;
  // service-tier twins and thresholds do not apply to them (LiteLLM returns the tier rates first).
  const rates: RateSet =
    prepared.tiers.length > 0
      ? prepared.tierRates(prepared.tierFor(inputTokens), batch)
      : tier === 'standard' && threshold === 0 && !batch
        ? prepared.base
        : prepared.rates(tier, threshold, batch)
  const hasOther =
    usage.webSearchRequests !== undefined ||
    usage.citationTokens !== undefined ||
    usage.audioSeconds !== undefined ||
    usage.inputCharacters !== undefined ||
    usage.searchUnits !== undefined ||
    usage.imageCount !== undefined ||
    input.image !== undefined ||
    prepared.perRequest ||
    (inputTokens === 0 && outputTokens === 0 && isImageMode(resolved.entry.mode))

  // `rates.missing !== 0`: the entry lacks a token rate (ADR 0009); the exact path decides what is unpriced.
  if (prepared.fast && !hasOther && rates.missing === 0) {
    const reasoningRate = rates.reasoning >= 0 ? rates.reasoning : rates.output
    const i = uncached * rates.input + audioIn * rates.audioIn + imageIn * rates.imageIn
    const cr = cacheRead * rates.cacheRead
    const cw = write5m * rates.cacheWrite + write1h * rates.cacheWrite1h
    const o = textOut * rates.output + audioOut * rates.audioOut + imageOut * rates.imageOut
    const r = reasoning * reasoningRate
    const total = i + cr + cw + o + r
    if (total <= prepared.maxFastTotal) {
      return new CostResultImpl(
        prepared.scale,
        prepared.unit,
        total,
        i,
        o,
        cr,
        cw,
        r,
        0,
        resolved.key,
        provider,
        resolved.rule,
        true,
        source,
        tier,
        batch,
        NONE_UNPRICED,
        adjusted,
      )
    }
  }

  return exactCost({
    usage,
    input,
    model,
    provider,
    catalog,
    resolved,
    prepared,
    rates,
    hasOther,
    tier,
    batch,
    adjusted,
    inputTokens,
    outputTokens,
    uncached,
    cacheRead,
    write5m,
    write1h,
    audioIn,
    imageIn,
    textOut,
    reasoning,
    audioOut,
    imageOut,
  })
}

/** What {@link exactCost} needs of a call that left the double fast path. */
interface ExactCall {
  usage: NormalizedUsage
  input: CalculateCostInput
  model: string
  provider: string
  catalog: PriceCatalog
  resolved: ResolvedModel
  prepared: PreparedEntry
  rates: RateSet
  hasOther: boolean
  tier: 'standard' | 'flex' | 'priority'
  batch: boolean
  adjusted: readonly UsageAdjustment[]
  inputTokens: number
  outputTokens: number
  uncached: number
  cacheRead: number
  write5m: number
  write1h: number
  audioIn: number
  imageIn: number
  textOut: number
  reasoning: number
  audioOut: number
  imageOut: number
}

/**
 * The exact BigInt path: totals above 2^53, other charges (seconds, characters, images, searches, per request),
 * citation tokens and missing rates. A function of its own so that the first cost, which almost always takes the
 * double fast path, compiles only that path (lazy compilation costs in proportion to the function's source).
 */
function exactCost(call: ExactCall): CostResult {
  const { usage, input, model, provider, catalog, resolved, prepared, rates, hasOther, tier, batch, adjusted } = call
  const { inputTokens, outputTokens, uncached, cacheRead, write5m, write1h, audioIn, imageIn } = call
  const { textOut, reasoning, audioOut, imageOut } = call
  const source = resolved.entry.source
  const b = rates.big
  const B = BigInt
  const reasoningRate = b.reasoning >= 0n ? b.reasoning : b.output
  let scale = prepared.scale
  let i = B(uncached) * b.input + B(audioIn) * b.audioIn + B(imageIn) * b.imageIn
  let cr = B(cacheRead) * b.cacheRead
  let cw = B(write5m) * b.cacheWrite + B(write1h) * b.cacheWrite1h
  let o = B(textOut) * b.output + B(audioOut) * b.audioOut + B(imageOut) * b.imageOut
  let r = B(reasoning) * reasoningRate
  let x = 0n
  let unpriced = NONE_UNPRICED
  let otherPriced = false
  let otherReported = false
  if (hasOther) {
    const other = otherCharges(usage, input, prepared, catalog, resolved, inputTokens, outputTokens, imageOut)
    unpriced = other.unpriced
    otherPriced = other.priced
    otherReported = other.reported
    if (other.scale > scale) {
      const f = 10n ** B(other.scale - scale)
      i *= f
      cr *= f
      cw *= f
      o *= f
      r *= f
      scale = other.scale
      x = other.int
    } else {
      x = other.int * 10n ** B(scale - other.scale)
    }
  }
  // Citation tokens (Perplexity): input-side tokens outside inputTokens, at their own rate.
  const ct = usage.citationTokens
  if (ct !== undefined) {
    const citations = count(ct, 'citationTokens')
    const rate = prepared.other('citation_cost_per_token')
    if (rate !== undefined) i += B(citations) * rate * 10n ** B(scale - prepared.scale)
    else if (citations > 0) unpriced = Object.freeze([...unpriced, 'citationTokens' as const])
  }
  if (rates.missing !== 0 || unpriced.length > 0) {
    // ADR 0009: which reported parts have no rate, and whether anything of the call was priced at all.
    const reported =
      (uncached > 0 ? MISSING.input : 0) |
      (cacheRead > 0 ? MISSING.cacheRead : 0) |
      (write5m > 0 ? MISSING.cacheWrite : 0) |
      (write1h > 0 ? MISSING.cacheWrite1h : 0) |
      (audioIn > 0 ? MISSING.audioIn : 0) |
      (imageIn > 0 ? MISSING.imageIn : 0) |
      (textOut > 0 ? MISSING.output : 0) |
      (reasoning > 0 ? MISSING.reasoning : 0) |
      (audioOut > 0 ? MISSING.audioOut : 0) |
      (imageOut > 0 ? MISSING.imageOut : 0)
    const gaps = reported & rates.missing
    const anyPriced = (reported & ~rates.missing) !== 0 || otherPriced
    const anyReported = reported !== 0 || otherReported
    if (prepared.priceKind === 'none' || (!anyPriced && anyReported)) {
      // Nothing of this call has a price: unpriced exactly like an unknown model.
      const parts = withTokenParts(gaps, unpriced)
      if (input.onUnpriced === 'zero') {
        return new CostResultImpl(
          0,
          1,
          0,
          0,
          0,
          0,
          0,
          0,
          0,
          resolved.key,
          provider,
          resolved.rule,
          false,
          source,
          tier,
          batch,
          parts.length === 0 ? NONE_UNPRICED : Object.freeze(parts),
          adjusted,
        )
      }
      throw unpricedUsageError(model, input.provider, resolved, prepared, parts)
    }
    // Entries priced per second/character/image/query bill those units, not tokens: their tokens are not a gap.
    if (gaps !== 0 && prepared.priceKind === 'tokens') unpriced = Object.freeze(withTokenParts(gaps, unpriced))
  }
  const total = i + cr + cw + o + r + x
  checkLedgerRange(total, scale)
  return new CostResultImpl(
    scale,
    1,
    total,
    i,
    o,
    cr,
    cw,
    r,
    x,
    resolved.key,
    provider,
    resolved.rule,
    true,
    source,
    tier,
    batch,
    unpriced,
    adjusted,
  )
}
