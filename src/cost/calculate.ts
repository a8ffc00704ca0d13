/**
 * The cost formula (SPEC 3.3): exact, synchronous, pure.
 *
 * Prices are scaled integers (see prepared.ts). The common case (token usage, no per-request charges)
 * multiplies and adds in doubles and checks that the total is at most 2^53 - 1, which proves every product
 * and partial sum exact; anything else (large totals, per-second/character/image/search charges,
 * fractional seconds, very small price units) takes the BigInt path. Exact decimal strings are formatted
 * only when `result.exact` is read.
 *
 * @packageDocumentation
 */
import { InvalidInputError, UnknownModelError } from '../errors.js'
import { customEntry, defaultCatalog, normalizeProvider, type PriceCatalog } from './catalog.js'
import { decimalFromNumber, formatScaled } from './decimal.js'
import { MISSING, MISSING_INPUT, MISSING_OUTPUT, type PreparedEntry, type RateSet } from './prepared.js'
import type { CalculateCostInput, CostResult, CustomPrices, ExactCost, NormalizedUsage, PricingOptions, ResolutionRule, ResolvedModel, UnpricedUsage } from './types.js'
import { normalizeUsage } from './usage.js'

/** Largest token count accepted in one field (a trillion): anything above is treated as bad input. */
export const MAX_TOKENS = 1_000_000_000_000

const MAX_SAFE = Number.MAX_SAFE_INTEGER

type Scaled = number | bigint

/** `unpriced` of a call whose usage was fully priced (shared, frozen). */
const NONE_UNPRICED: readonly UnpricedUsage[] = Object.freeze([])

/**
 * A cost result: one allocation with a fixed hidden class (every field assigned in the constructor, in one
 * order, no class-field initializers). `totalCost` is computed eagerly; the part costs (`inputCost`, ...) are
 * prototype getters over the scaled integers (a division on access), and exact strings are formatted on the
 * first access of `exact`. `toJSON()` gives a plain object with every field.
 */
class CostResultImpl implements CostResult {
  declare readonly currency: 'USD'
  declare totalCost: number
  declare model: string
  declare provider: string
  declare rule: ResolutionRule
  declare priced: boolean
  declare source: 'catalog' | 'custom' | 'provider'
  declare serviceTier: 'standard' | 'flex' | 'priority'
  declare batch: boolean
  declare unpriced: readonly UnpricedUsage[]
  /** @internal scaled parts: total, input, output, cacheRead, cacheWrite, reasoning, other */
  declare readonly _t: Scaled
  declare readonly _i: Scaled
  declare readonly _o: Scaled
  declare readonly _cr: Scaled
  declare readonly _cw: Scaled
  declare readonly _r: Scaled
  declare readonly _x: Scaled
  declare readonly _scale: number
  /** @internal 10^scale as a double when the parts are numbers (exact, scale <= 22), else 0. */
  declare readonly _unit: number
  /** @internal */
  declare _exact: ExactCost | undefined

  constructor(
    scale: number,
    unit: number,
    total: Scaled,
    input: Scaled,
    output: Scaled,
    cacheRead: Scaled,
    cacheWrite: Scaled,
    reasoning: Scaled,
    other: Scaled,
    model: string,
    provider: string,
    rule: ResolutionRule,
    priced: boolean,
    source: 'catalog' | 'custom' | 'provider',
    serviceTier: 'standard' | 'flex' | 'priority',
    batch: boolean,
    unpriced: readonly UnpricedUsage[],
  ) {
    this.currency = 'USD'
    this.totalCost = typeof total === 'number' ? total / unit : Number(formatScaled(total, scale))
    this.model = model
    this.provider = provider
    this.rule = rule
    this.priced = priced
    this.source = source
    this.serviceTier = serviceTier
    this.batch = batch
    this.unpriced = unpriced
    this._t = total
    this._i = input
    this._o = output
    this._cr = cacheRead
    this._cw = cacheWrite
    this._r = reasoning
    this._x = other
    this._scale = scale
    this._unit = typeof total === 'number' ? unit : 0
    this._exact = undefined
  }

  /** @internal One part as the closest double. */
  _part(value: Scaled): number {
    return typeof value === 'number' ? value / this._unit : Number(formatScaled(value, this._scale))
  }

  get inputCost(): number {
    return this._part(this._i)
  }

  get outputCost(): number {
    return this._part(this._o)
  }

  get cacheReadCost(): number {
    return this._part(this._cr)
  }

  get cacheWriteCost(): number {
    return this._part(this._cw)
  }

  get reasoningCost(): number {
    return this._part(this._r)
  }

  get otherCost(): number {
    return this._part(this._x)
  }

  /** Exact decimal strings and nano-USD: one small object on first access; each string is formatted when read. */
  get exact(): ExactCost {
    let exact = this._exact
    if (exact === undefined) {
      exact = new ExactCostImpl(this)
      this._exact = exact
    }
    return exact
  }

  /** `console.log(result)` and `util.inspect` show the plain form (the part costs are getters). */
  [Symbol.for('nodejs.util.inspect.custom')](): unknown {
    return this.toJSON()
  }

  toJSON(): Omit<CostResult, 'exact' | 'toJSON'> & { exact: ExactCost } {
    return {
      totalCost: this.totalCost,
      inputCost: this.inputCost,
      outputCost: this.outputCost,
      cacheReadCost: this.cacheReadCost,
      cacheWriteCost: this.cacheWriteCost,
      reasoningCost: this.reasoningCost,
      otherCost: this.otherCost,
      currency: this.currency,
      model: this.model,
      provider: this.provider,
      rule: this.rule,
      priced: this.priced,
      source: this.source,
      serviceTier: this.serviceTier,
      batch: this.batch,
      unpriced: this.unpriced,
      exact: (this.exact as ExactCostImpl).toJSON(),
    }
  }
}

/**
 * `result.exact`: getters over the result's scaled integers, so reading `exact.totalCost` formats one string,
 * not eight. `toJSON()` (used by `JSON.stringify`) gives a plain object with every field.
 */
class ExactCostImpl implements ExactCost {
  declare readonly _r: CostResultImpl

  constructor(result: CostResultImpl) {
    this._r = result
  }

  get totalCost(): string {
    return formatScaled(this._r._t, this._r._scale)
  }

  get totalNanoUsd(): number {
    return nanoCeil(this._r._t, this._r._scale)
  }

  get inputCost(): string {
    return formatScaled(this._r._i, this._r._scale)
  }

  get outputCost(): string {
    return formatScaled(this._r._o, this._r._scale)
  }

  get cacheReadCost(): string {
    return formatScaled(this._r._cr, this._r._scale)
  }

  get cacheWriteCost(): string {
    return formatScaled(this._r._cw, this._r._scale)
  }

  get reasoningCost(): string {
    return formatScaled(this._r._r, this._r._scale)
  }

  get otherCost(): string {
    return formatScaled(this._r._x, this._r._scale)
  }

  toJSON(): ExactCost {
    return {
      totalCost: this.totalCost,
      totalNanoUsd: this.totalNanoUsd,
      inputCost: this.inputCost,
      outputCost: this.outputCost,
      cacheReadCost: this.cacheReadCost,
      cacheWriteCost: this.cacheWriteCost,
      reasoningCost: this.reasoningCost,
      otherCost: this.otherCost,
    }
  }
}

/** Ceil(value / 10^(scale - 9)) as a number of nano-USD (value >= 0). */
function nanoCeil(value: Scaled, scale: number): number {
  if (scale <= 9) {
    const factor = 10 ** (9 - scale)
    if (typeof value === 'number') {
      const n = value * factor
      if (n <= MAX_SAFE) return n
    }
    return checkedNano(BigInt(value) * 10n ** BigInt(9 - scale))
  }
  if (typeof value === 'number' && scale - 9 <= 22) {
    const divisor = 10 ** (scale - 9)
    let q = Math.floor(value / divisor)
    let r = value - q * divisor
    if (r < 0) {
      q -= 1
      r += divisor
    } else if (r >= divisor) {
      q += 1
      r -= divisor
    }
    return r > 0 ? q + 1 : q
  }
  const big = BigInt(value)
  const divisor = 10n ** BigInt(scale - 9)
  const q = big / divisor
  return checkedNano(big % divisor === 0n ? q : q + 1n)
}

/** Refuses a cost the ledger cannot hold exactly (more than 2^53 - 1 nano-USD, about $9 million per call). */
function checkLedgerRange(total: bigint, scale: number): void {
  const limit = BigInt(MAX_SAFE) * 10n ** BigInt(scale) / 1_000_000_000n
  if (total > limit) {
    throw new InvalidInputError('usage', `this call would cost $${formatScaled(total, scale)}, more than the $9,007,199 (2^53 nano-USD) one call can be recorded exactly; check the token counts`)
  }
}

function checkedNano(value: bigint): number {
  if (value > BigInt(MAX_SAFE)) throw new RangeError(`cost of ${value} nano-USD is beyond 2^53 and cannot be held exactly as a number`)
  return Number(value)
}

/**
 * The cost in integer nano-USD (1e-9 USD), rounded up: what the budget ledger records for a call.
 * Same as `result.exact.totalNanoUsd`.
 */
export function toNanoUsd(result: CostResult): number {
  if (result instanceof CostResultImpl) return nanoCeil(result._t, result._scale)
  return result.exact.totalNanoUsd
}

function isNormalized(u: unknown): u is NormalizedUsage {
  return (
    typeof u === 'object' &&
    u !== null &&
    typeof (u as NormalizedUsage).cacheReadTokens === 'number' &&
    typeof (u as NormalizedUsage).cacheWriteTokens === 'number' &&
    'reasoningTokens' in u
  )
}

function badCount(field: string, value: unknown): InvalidInputError {
  return new InvalidInputError(
    `usage.${field}`,
    `\`usage.${field}\` must be a whole number of tokens from 0 to ${MAX_TOKENS}, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`,
  )
}

/** Checks an optional count; undefined -> 0. */
function count(value: unknown, field: string): number {
  if (value === undefined) return 0
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKENS) return value
  throw badCount(field, value)
}

/** Checks a required count; null -> 0 only for the two fields that may be null. */
function requiredCount(value: unknown, field: string): number {
  if (value === null) return 0
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKENS) return value
  throw badCount(field, value)
}

function tierOf(value: unknown, field: string): 'standard' | 'flex' | 'priority' {
  if (value === undefined || value === null || value === 'standard' || value === 'default' || value === 'auto') return 'standard'
  if (value === 'flex' || value === 'priority') return value
  throw new InvalidInputError(field, `\`${field}\` must be 'flex', 'priority', 'standard', 'default' or 'auto', got ${JSON.stringify(value)}`)
}

const pricesCache = new WeakMap<CustomPrices, PreparedEntry>()

interface Priced {
  resolved: ResolvedModel
  prepared: PreparedEntry
}

function resolveFor(model: string, options: PricingOptions, catalog: PriceCatalog): Priced | undefined {
  if (options.prices !== undefined) {
    let prepared = pricesCache.get(options.prices)
    if (!prepared) {
      prepared = catalog.prepare(customEntry(model, options.prices, { provider: options.provider ?? 'custom' }))
      pricesCache.set(options.prices, prepared)
    }
    return { resolved: { key: model, entry: prepared.entry, rule: 'prices-option', explain: `${model} (per-call prices)` }, prepared }
  }
  const resolution = catalog.lookup(model, options.provider)
  if (resolution === undefined) {
    if (options.onUnpriced === 'zero') return undefined
    catalog.resolveInternal(model, options.provider) // throws UnknownModelError with tried + suggestions
    throw new UnknownModelError({ model, provider: options.provider, tried: [model], suggestions: [] })
  }
  if (resolution.timed.length === 0) return resolution
  const at = options.at === undefined ? Date.now() : options.at instanceof Date ? options.at.getTime() : options.at
  return catalog.atTime(resolution, at, model, options.provider)
}

/**
 * Cost of one call (SPEC 3.3). `usage` is a {@link NormalizedUsage} or any response, stream (array of
 * chunks) or usage shape {@link normalizeUsage} accepts. Synchronous and pure.
 *
 * @throws UnknownModelError when the model has no price (unless `onUnpriced: 'zero'`).
 * @throws InvalidInputError for negative, fractional, non-finite or huge counts, or cached > input.
 * @throws MissingUsageError when `usage` carries no usage.
 */
export function calculateCost(input: CalculateCostInput): CostResult {
  if (input === null || typeof input !== 'object') throw new InvalidInputError('input', '`calculateCost` takes an object { model, usage, ... }')
  const raw = input.usage
  const usage = isNormalized(raw) ? raw : normalizeUsage(raw, { provider: input.provider, model: input.model })
  // The model that served the call (from the response) wins over the requested one when it resolves.
  let model = input.model
  const catalog = input.catalog ?? defaultCatalog
  if (usage.model !== undefined && usage.model !== model && usage.modelSource !== 'request' && input.prices === undefined) {
    if (model === undefined || catalog.lookup(usage.model, input.provider) !== undefined) model = usage.model
  }
  if (typeof model !== 'string' || model === '') throw new InvalidInputError('model', '`model` is required (the usage does not name one)')
  const priced = resolveFor(model, input, catalog)
  const provider = input.provider ?? (priced ? priced.resolved.entry.provider : 'unknown')
  const usageTier = usage.serviceTier
  const inputTier = input.serviceTier
  const tier = usageTier !== undefined ? tierOf(usageTier, 'usage.serviceTier') : inputTier === undefined ? 'standard' : tierOf(inputTier, 'serviceTier')
  const batch = input.batch === true
  if (input.batch !== undefined && typeof input.batch !== 'boolean') throw new InvalidInputError('batch', `\`batch\` must be a boolean, got ${JSON.stringify(input.batch)}`)

  // Validate counts (also for unpriced calls: bad input is bad input).
  // Direct named reads (keyed reads of absent properties are slow in V8).
  const inputTokens = requiredCount(usage.inputTokens, 'inputTokens')
  const outputTokens = requiredCount(usage.outputTokens, 'outputTokens')
  const cacheRead = count(usage.cacheReadTokens, 'cacheReadTokens')
  const cacheWrite = count(usage.cacheWriteTokens, 'cacheWriteTokens')
  // Optional counts: absent on most usages, so test for undefined here and call the checker only when present.
  const w1 = usage.cacheWrite1hTokens
  const write1h = w1 === undefined ? 0 : count(w1, 'cacheWrite1hTokens')
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
    if (typeof reasoningRaw !== 'number' || !Number.isSafeInteger(reasoningRaw) || reasoningRaw < 0 || reasoningRaw > MAX_TOKENS) throw badCount('reasoningTokens', reasoningRaw)
    reasoning = reasoningRaw
  }
  if (write1h > cacheWrite) throw new InvalidInputError('usage.cacheWrite1hTokens', `\`usage.cacheWrite1hTokens\` (${write1h}) cannot exceed \`usage.cacheWriteTokens\` (${cacheWrite})`)
  const write5m = cacheWrite - write1h
  const uncached = inputTokens - cacheRead - cacheWrite - audioIn - imageIn
  if (uncached < 0) {
    const field = cacheRead > inputTokens ? 'usage.cacheReadTokens' : cacheWrite > inputTokens - cacheRead ? 'usage.cacheWriteTokens' : 'usage.inputAudioTokens'
    throw new InvalidInputError(field, `cache reads (${cacheRead}) + cache writes (${cacheWrite}) + audio (${audioIn}) + image (${imageIn}) input tokens exceed \`usage.inputTokens\` (${inputTokens}); inputTokens must include them`)
  }
  const textOut = outputTokens - reasoning - audioOut - imageOut
  if (textOut < 0) {
    throw new InvalidInputError('usage.reasoningTokens', `reasoning (${reasoning}) + audio (${audioOut}) + image (${imageOut}) output tokens exceed \`usage.outputTokens\` (${outputTokens}); outputTokens must include them`)
  }

  if (priced === undefined) {
    return new CostResultImpl(0, 1, 0, 0, 0, 0, 0, 0, 0, model, provider, 'exact', false, 'catalog', tier, batch, NONE_UNPRICED)
  }
  const { resolved, prepared } = priced
  const source = resolved.entry.source

  // Provider-reported cost (OpenRouter usage.cost, gateway header) wins when present and positive.
  const providerCost = usage.providerCost
  if (providerCost !== undefined) {
    const parsed = typeof providerCost === 'number' ? decimalFromNumber(providerCost) : undefined
    if (!parsed) throw new InvalidInputError('usage.providerCost', `\`usage.providerCost\` must be a finite number >= 0, got ${String(providerCost)}`)
    if (parsed.int > 0n) {
      checkLedgerRange(parsed.int, parsed.scale)
      return new CostResultImpl(parsed.scale, 1, parsed.int, 0n, 0n, 0n, 0n, 0n, parsed.int, resolved.key, provider, resolved.rule, true, 'provider', tier, batch, NONE_UNPRICED)
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
      return new CostResultImpl(prepared.scale, prepared.unit, total, i, o, cr, cw, r, 0, resolved.key, provider, resolved.rule, true, source, tier, batch, NONE_UNPRICED)
    }
  }

  // Exact BigInt path.
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
        return new CostResultImpl(0, 1, 0, 0, 0, 0, 0, 0, 0, resolved.key, provider, resolved.rule, false, source, tier, batch, parts.length === 0 ? NONE_UNPRICED : Object.freeze(parts))
      }
      throw unpricedUsageError(model, input.provider, resolved, prepared, parts)
    }
    // Entries priced per second/character/image/query bill those units, not tokens: their tokens are not a gap.
    if (gaps !== 0 && prepared.priceKind === 'tokens') unpriced = Object.freeze(withTokenParts(gaps, unpriced))
  }
  const total = i + cr + cw + o + r + x
  checkLedgerRange(total, scale)
  return new CostResultImpl(scale, 1, total, i, o, cr, cw, r, x, resolved.key, provider, resolved.rule, true, source, tier, batch, unpriced)
}

/** Modes whose call produces images priced per image (one image when the usage does not say how many). */
function isImageMode(mode: string): boolean {
  return mode === 'image_generation' || mode === 'image_edit'
}

/** `inputTokens` / `outputTokens` for the token parts in `gaps`, followed by the other unpriced parts. */
function withTokenParts(gaps: number, others: readonly UnpricedUsage[]): UnpricedUsage[] {
  const parts: UnpricedUsage[] = []
  if ((gaps & MISSING_INPUT) !== 0) parts.push('inputTokens')
  if ((gaps & MISSING_OUTPUT) !== 0) parts.push('outputTokens')
  for (const part of others) parts.push(part)
  return parts
}

const PART_NAMES: Record<UnpricedUsage, string> = {
  inputTokens: 'input tokens',
  outputTokens: 'output tokens',
  webSearchRequests: 'web searches',
  audioSeconds: 'seconds',
  inputCharacters: 'characters',
  searchUnits: 'queries / search units',
  imageCount: 'images',
}

/**
 * The error for a model the catalog knows but cannot price for this usage (ADR 0009): an
 * {@link UnknownModelError} (same code, same fields, `tried` = the key that matched, no suggestions) whose
 * message says that the model is known, what had no price, and how to add one.
 */
function unpricedUsageError(model: string, provider: string | undefined, resolved: ResolvedModel, prepared: PreparedEntry, parts: readonly UnpricedUsage[]): UnknownModelError {
  const error = new UnknownModelError({ model, provider, tried: [resolved.key], suggestions: [] })
  const entry = resolved.entry
  const what = parts.length > 0 ? parts.map((p) => PART_NAMES[p]).join(', ') : 'this call'
  const fields = Object.keys(entry.prices)
  const has =
    prepared.priceKind === 'none'
      ? 'the price table has no price for it at all'
      : `it is priced only by ${fields.slice(0, 4).join(', ')}${fields.length > 4 ? ', ...' : ''}`
  const hint = registerHint(entry.mode)
  const message =
    `Model \`${model}\`${provider ? ` (provider ${provider})` : ''} is known (catalog key \`${resolved.key}\`, mode ${entry.mode}) but has no price for this kind of usage (${what}): ${has}. ` +
    `It is not priced as $0. Register a price with catalog.register('${resolved.key}', { ${hint} }) or pass \`prices\` to this call; ` +
    "with onUnpriced: 'zero' the call is returned as priced: false."
  const old = error.message
  Object.defineProperty(error, 'message', { value: message, writable: true, configurable: true, enumerable: false })
  const stack = error.stack
  if (typeof stack === 'string' && stack.includes(old)) error.stack = stack.replace(old, message)
  return error
}

/** The price fields a user would register for a mode (for error messages). */
function registerHint(mode: string): string {
  switch (mode) {
    case 'image_generation':
    case 'image_edit':
      return 'output_cost_per_image: <USD>'
    case 'video_generation':
      return 'output_cost_per_second: <USD>'
    case 'audio_transcription':
      return 'input_cost_per_second: <USD>'
    case 'audio_speech':
      return 'input_cost_per_character: <USD>'
    case 'search':
    case 'rerank':
    case 'vector_store':
      return 'input_cost_per_query: <USD>'
    default:
      return 'inputPerMillion: <USD>, outputPerMillion: <USD>'
  }
}

/** Per-request charges as one scaled decimal: web search, seconds, characters, queries, images, per request. */
function otherCharges(
  usage: NormalizedUsage,
  options: PricingOptions,
  prepared: PreparedEntry,
  catalog: PriceCatalog,
  resolved: ResolvedModel,
  inputTokens: number,
  outputTokens: number,
  imageOutTokens: number,
): { int: bigint; scale: number; unpriced: readonly UnpricedUsage[]; priced: boolean; reported: boolean } {
  let int = 0n
  let scale = prepared.scale
  let unpriced: UnpricedUsage[] | undefined
  // Whether any part was reported (a count above 0) and whether any part had a rate (a fee counts as priced).
  let priced = false
  let reported = false
  const missing = (part: UnpricedUsage): void => {
    ;(unpriced ??= []).push(part)
  }
  const add = (amount: bigint, amountScale: number): void => {
    if (amountScale > scale) {
      int *= 10n ** BigInt(amountScale - scale)
      scale = amountScale
      int += amount
    } else int += amount * 10n ** BigInt(scale - amountScale)
  }
  const quantity = (field: string, value: unknown): { int: bigint; scale: number } => {
    const parsed = typeof value === 'number' && value <= MAX_TOKENS ? decimalFromNumber(value) : undefined
    if (!parsed) throw new InvalidInputError(field, `\`${field}\` must be a finite number from 0 to ${MAX_TOKENS}, got ${String(value)}`)
    return parsed
  }
  const wholeQuantity = (field: string, value: unknown): bigint => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TOKENS) throw new InvalidInputError(field, `\`${field}\` must be a whole number from 0 to ${MAX_TOKENS}, got ${String(value)}`)
    return BigInt(value)
  }
  const hasTokens = inputTokens > 0 || outputTokens > 0

  if (usage.webSearchRequests !== undefined) {
    const n = wholeQuantity('usage.webSearchRequests', usage.webSearchRequests)
    const size = options.searchContextSize ?? 'medium'
    const rate =
      prepared.other(`search_context_cost_per_query_${size}`) ??
      prepared.other('search_context_cost_per_query_medium') ??
      prepared.other('search_context_cost_per_query_low')
    if (n > 0n) reported = true
    if (rate !== undefined) {
      add(n * rate, prepared.scale)
      if (n > 0n) priced = true
    } else if (n > 0n) missing('webSearchRequests')
  }
  // Per token when the usage has tokens and the entry token rates, else per second: charged once, never both.
  if (usage.audioSeconds !== undefined && (!hasTokens || prepared.priceKind !== 'tokens')) {
    // LiteLLM's whisper entries carry the same rate as input and output per second.
    const seconds = quantity('usage.audioSeconds', usage.audioSeconds)
    const rate = positiveFirst(prepared.other('input_cost_per_second'), prepared.other('output_cost_per_second'))
    if (seconds.int > 0n) reported = true
    if (rate !== undefined) {
      add(seconds.int * rate, prepared.scale + seconds.scale)
      if (seconds.int > 0n) priced = true
    } else if (seconds.int > 0n) missing('audioSeconds')
  }
  if (usage.inputCharacters !== undefined) {
    const n = wholeQuantity('usage.inputCharacters', usage.inputCharacters)
    const rate = prepared.other('input_cost_per_character')
    if (n > 0n) reported = true
    if (rate !== undefined) {
      add(n * rate, prepared.scale)
      if (n > 0n) priced = true
    } else if (n > 0n) missing('inputCharacters')
  }
  if (usage.searchUnits !== undefined) {
    const n = wholeQuantity('usage.searchUnits', usage.searchUnits)
    const rate = prepared.other('input_cost_per_query')
    if (n > 0n) reported = true
    if (rate !== undefined) {
      add(n * rate, prepared.scale)
      if (n > 0n) priced = true
    } else if (n > 0n) missing('searchUnits')
  }
  const perRequest = prepared.other('input_cost_per_request')
  if (perRequest !== undefined) {
    add(perRequest, prepared.scale)
    priced = true
  }

  // Images priced per image / per pixel, when the usage has no token counts for them.
  const imageCountRaw = usage.imageCount ?? options.image?.count
  if (imageOutTokens === 0 && (options.image !== undefined || usage.imageCount !== undefined || (!hasTokens && isImageMode(resolved.entry.mode)))) {
    const n = imageCountRaw === undefined ? 1n : wholeQuantity(usage.imageCount !== undefined ? 'usage.imageCount' : 'image.count', imageCountRaw)
    const image = imagePrice(options, prepared, catalog, resolved)
    if (n > 0n) reported = true
    if (image !== undefined) {
      add(n * image.int, image.scale)
      if (n > 0n) priced = true
    } else if (n > 0n) missing('imageCount')
  }
  return { int, scale, unpriced: unpriced ?? NONE_UNPRICED, priced, reported }
}

/** `a` when it is a rate above 0, else `b` when it is, else whichever is present (a rate of 0: free). */
function positiveFirst(a: bigint | undefined, b: bigint | undefined): bigint | undefined {
  if (a !== undefined && a > 0n) return a
  if (b !== undefined && b > 0n) return b
  return a ?? b
}

const SIZE_RE = /^(\d+)\s*[x×-]+\s*(\d+)$/i

/**
 * Price of one image: `quality/WxH/model` entry (per image, else per pixel), else the model's per-image price;
 * undefined when neither has a per-image or per-pixel rate (the images are unpriced).
 */
function imagePrice(options: PricingOptions, prepared: PreparedEntry, catalog: PriceCatalog, resolved: ResolvedModel): { int: bigint; scale: number } | undefined {
  const size = options.image?.size
  let width = 0
  let height = 0
  if (size !== undefined) {
    const m = SIZE_RE.exec(size.trim())
    if (!m) throw new InvalidInputError('image.size', `\`image.size\` must look like "1024x1024", got ${JSON.stringify(size)}`)
    width = Number(m[1])
    height = Number(m[2])
  }
  const quality = options.image?.quality
  let entryPrepared = prepared
  if (width > 0) {
    const base = resolved.key
    const sizeKey = `${width}-x-${height}`
    const candidates = quality ? [`${quality}/${sizeKey}/${base}`] : [`${sizeKey}/${base}`, `standard/${sizeKey}/${base}`]
    if (quality === 'standard') candidates.push(`${sizeKey}/${base}`)
    for (const key of candidates) {
      const entry = catalog.get(key)
      if (entry) {
        entryPrepared = catalog.prepare(entry)
        break
      }
    }
  }
  // Generated images: the per-image rate that is not 0 (Titan: input 0, output 0.008), else a 0 rate (free).
  const perImage = positiveFirst(entryPrepared.other('input_cost_per_image'), entryPrepared.other('output_cost_per_image'))
  if (perImage !== undefined && perImage > 0n) return { int: perImage, scale: entryPrepared.scale }
  const perPixelIn = entryPrepared.other('input_cost_per_pixel') ?? 0n
  const perPixelOut = entryPrepared.other('output_cost_per_pixel') ?? 0n
  if ((perPixelIn > 0n || perPixelOut > 0n) && width > 0) {
    return { int: BigInt(width * height) * (perPixelIn + perPixelOut), scale: entryPrepared.scale }
  }
  if (perPixelIn > 0n || perPixelOut > 0n) throw new InvalidInputError('image.size', `${resolved.key} is priced per pixel; pass \`image: { size: "1024x1024" }\``)
  if (perImage !== undefined) return { int: perImage, scale: entryPrepared.scale }
  // A per-pixel rate of 0 (free) still prices the image.
  if (entryPrepared.other('input_cost_per_pixel') !== undefined || entryPrepared.other('output_cost_per_pixel') !== undefined) return { int: 0n, scale: entryPrepared.scale }
  return undefined
}

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
  if (usage === undefined) throw new InvalidInputError('completionResponse', '`completionCost` needs `completionResponse` or `usage`')
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

/** Worst-case cost used to reserve budget (SPEC 5.2). */
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
      else if (part && typeof part === 'object' && typeof (part as { text?: unknown }).text === 'string') n += (part as { text: string }).text.length
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
  if (input === null || typeof input !== 'object') throw new InvalidInputError('input', '`estimateCost` takes an object { model, inputTokens | messages, maxOutputTokens }')
  const catalog = input.catalog ?? defaultCatalog
  let inputTokens: number
  let method: 'tokens' | 'characters'
  if (input.inputTokens !== undefined) {
    if (!Number.isSafeInteger(input.inputTokens) || input.inputTokens < 0 || input.inputTokens > MAX_TOKENS) throw new InvalidInputError('inputTokens', `\`inputTokens\` must be a whole number from 0 to ${MAX_TOKENS}, got ${String(input.inputTokens)}`)
    inputTokens = input.inputTokens
    method = 'tokens'
  } else if (input.messages !== undefined) {
    const margin = input.margin ?? 0.25
    if (!Number.isFinite(margin) || margin < 0 || margin > 10) throw new InvalidInputError('margin', `\`margin\` must be between 0 and 10, got ${String(margin)}`)
    const messages = typeof input.messages === 'string' ? [{ content: input.messages }] : input.messages
    if (!Array.isArray(messages)) throw new InvalidInputError('messages', '`messages` must be an array of { role, content } or a string')
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
    if (input.onUnpriced !== 'zero') throw unpricedUsageError(input.model, input.provider, priced.resolved, priced.prepared, parts)
    priced = undefined
  }
  let outputTokens: number
  let outputBound: 'maxOutputTokens' | 'model-max' = 'maxOutputTokens'
  if (input.maxOutputTokens !== undefined) {
    if (!Number.isSafeInteger(input.maxOutputTokens) || input.maxOutputTokens < 0 || input.maxOutputTokens > MAX_TOKENS) throw new InvalidInputError('maxOutputTokens', `\`maxOutputTokens\` must be a whole number from 0 to ${MAX_TOKENS}, got ${String(input.maxOutputTokens)}`)
    outputTokens = input.maxOutputTokens
  } else if (priced && priced.resolved.entry.maxOutputTokens > 0) {
    outputTokens = priced.resolved.entry.maxOutputTokens
    outputBound = 'model-max'
  } else {
    throw new InvalidInputError('maxOutputTokens', `\`maxOutputTokens\` is required: the catalog does not know the maximum output of ${input.model}`)
  }
  const tier = tierOf(input.serviceTier, 'serviceTier')
  const provider = input.provider ?? (priced ? priced.resolved.entry.provider : 'unknown')
  if (!priced) {
    return { totalCost: 0, nanoUsd: 0, exact: '0', inputTokens, outputTokens, method, outputBound, model: input.model, provider, rule: 'exact', priced: false, source: 'catalog', serviceTier: tier, unpriced: NONE_UNPRICED }
  }
  const { prepared, resolved } = priced
  let threshold = 0
  for (const t of prepared.thresholds) {
    if (inputTokens > t) {
      threshold = t
      break
    }
  }
  const rates = prepared.tiers.length > 0 ? prepared.tierRates(prepared.tierFor(inputTokens), input.batch === true) : prepared.rates(tier, threshold, input.batch === true)
  const outRate = rates.big.reasoning > rates.big.output ? rates.big.reasoning : rates.big.output
  let unpriced = NONE_UNPRICED
  if (rates.missing !== 0) {
    const inputGap = inputTokens > 0 && (rates.missing & MISSING.input) !== 0
    const outputGap = outputTokens > 0 && (rates.missing & MISSING.output) !== 0 && (rates.missing & MISSING.reasoning) !== 0
    if (inputGap || outputGap) unpriced = Object.freeze(withTokenParts((inputGap ? MISSING.input : 0) | (outputGap ? MISSING.output : 0), NONE_UNPRICED))
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

