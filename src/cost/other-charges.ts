/**
 * Charges that are not per token: web searches, seconds, characters, queries, images, per-request fees.
 *
 * @internal
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { describeValue, truncate } from '../internal/describe.js'
import { catalogPrepare, type PriceCatalog } from './catalog.js'
import { MAX_TOKENS } from './counts.js'
import { decimalFromNumber } from './decimal.js'
import type { PreparedEntry } from './prepared.js'
import { NONE_UNPRICED } from './result.js'
import type { NormalizedUsage, PricingOptions, ResolvedModel, UnpricedUsage } from './types.js'

/** Modes whose call produces images priced per image (one image when the usage does not say how many). */
export function isImageMode(mode: string): boolean {
  return mode === 'image_generation' || mode === 'image_edit'
}

/** Per-request charges as one scaled decimal: web search, seconds, characters, queries, images, per request. */
export function otherCharges(
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
    if (!parsed)
      throw new InvalidInputError(
        field,
        `\`${field}\` must be a finite number from 0 to ${MAX_TOKENS}, got ${describeValue(value)}`,
      )
    return parsed
  }
  const wholeQuantity = (field: string, value: unknown): bigint => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > MAX_TOKENS)
      throw new InvalidInputError(
        field,
        `\`${field}\` must be a whole number from 0 to ${MAX_TOKENS}, got ${describeValue(value)}`,
      )
    return BigInt(value)
  }
  const hasTokens = inputTokens > 0 || outputTokens > 0

  if (usage.webSearchRequests !== undefined) {
    const n = wholeQuantity('usage.webSearchRequests', usage.webSearchRequests)
    const size = options.searchContextSize ?? usage.searchContextSize ?? 'medium'
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
  if (
    imageOutTokens === 0 &&
    (options.image !== undefined || usage.imageCount !== undefined || (!hasTokens && isImageMode(resolved.entry.mode)))
  ) {
    const n =
      imageCountRaw === undefined
        ? 1n
        : wholeQuantity(usage.imageCount !== undefined ? 'usage.imageCount' : 'image.count', imageCountRaw)
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

// `\u00d7` is the multiplication sign, written as an escape so that the built chunk stays ASCII (one non-ASCII
// character makes V8 hold and scan the whole chunk's source as two-byte text, see docs/decisions/0003).
const SIZE_RE = /^(\d+)\s*[x\u00d7-]+\s*(\d+)$/i

/**
 * Price of one image: `quality/WxH/model` entry (per image, else per pixel), else the model's per-image price;
 * undefined when neither has a per-image or per-pixel rate (the images are unpriced).
 */
function imagePrice(
  options: PricingOptions,
  prepared: PreparedEntry,
  catalog: PriceCatalog,
  resolved: ResolvedModel,
): { int: bigint; scale: number } | undefined {
  const size = options.image?.size
  let width = 0
  let height = 0
  if (size !== undefined) {
    const m = SIZE_RE.exec(size.trim())
    if (!m)
      throw new InvalidInputError('image.size', `\`image.size\` must look like "1024x1024", got ${describeValue(size)}`)
    width = Number(m[1])
    height = Number(m[2])
  }
  const quality = options.image?.quality
  let entryPrepared = prepared
  if (width > 0) {
    const base = resolved.key
    const sizeKey = `${width}-x-${height}`
    const candidates = quality
      ? [`${quality}/${sizeKey}/${base}`]
      : [`${sizeKey}/${base}`, `standard/${sizeKey}/${base}`]
    if (quality === 'standard') candidates.push(`${sizeKey}/${base}`)
    for (const key of candidates) {
      const entry = catalog.get(key)
      if (entry) {
        entryPrepared = catalogPrepare(catalog, entry)
        break
      }
    }
  }
  // Generated images: the per-image rate that is not 0 (Titan: input 0, output 0.008), else a 0 rate (free).
  const perImage = positiveFirst(
    entryPrepared.other('input_cost_per_image'),
    entryPrepared.other('output_cost_per_image'),
  )
  if (perImage !== undefined && perImage > 0n) return { int: perImage, scale: entryPrepared.scale }
  const perPixelIn = entryPrepared.other('input_cost_per_pixel') ?? 0n
  const perPixelOut = entryPrepared.other('output_cost_per_pixel') ?? 0n
  if ((perPixelIn > 0n || perPixelOut > 0n) && width > 0) {
    return { int: BigInt(width * height) * (perPixelIn + perPixelOut), scale: entryPrepared.scale }
  }
  if (perPixelIn > 0n || perPixelOut > 0n)
    throw new InvalidInputError(
      'image.size',
      `${truncate(resolved.key)} is priced per pixel; pass \`image: { size: "1024x1024" }\``,
    )
  if (perImage !== undefined) return { int: perImage, scale: entryPrepared.scale }
  // A per-pixel rate of 0 (free) still prices the image.
  if (
    entryPrepared.other('input_cost_per_pixel') !== undefined ||
    entryPrepared.other('output_cost_per_pixel') !== undefined
  )
    return { int: 0n, scale: entryPrepared.scale }
  return undefined
}
