/**
 * Usage the price entry has no rate for (ADR 0009): the names of the parts, and the error for a call of which
 * nothing could be priced.
 *
 * @internal
 * @packageDocumentation
 */
import { UnknownModelError } from '../errors.js'
import { truncate } from '../internal/describe.js'
import { MISSING_INPUT, MISSING_OUTPUT, type PreparedEntry } from './prepared.js'
import type { ResolvedModel, UnpricedUsage } from './types.js'
/** `inputTokens` / `outputTokens` for the token parts in `gaps`, followed by the other unpriced parts. */
export function withTokenParts(gaps: number, others: readonly UnpricedUsage[]): UnpricedUsage[] {
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
  citationTokens: 'citation tokens',
}

/**
 * The error for a model the catalog knows but cannot price for this usage (ADR 0009): an
 * {@link UnknownModelError} (same code, same fields, `tried` = the key that matched, no suggestions) whose
 * message says that the model is known, what had no price, and how to add one.
 */
export function unpricedUsageError(
  model: string,
  provider: string | undefined,
  resolved: ResolvedModel,
  prepared: PreparedEntry,
  parts: readonly UnpricedUsage[],
): UnknownModelError {
  const entry = resolved.entry
  const what = parts.length > 0 ? parts.map((p) => PART_NAMES[p]).join(', ') : 'this call'
  const fields = Object.keys(entry.prices)
  const has =
    prepared.priceKind === 'none'
      ? 'the price table has no price for it at all'
      : `it is priced only by ${fields.slice(0, 4).join(', ')}${fields.length > 4 ? ', ...' : ''}`
  const hint = registerHint(entry.mode)
  const key = truncate(resolved.key)
  const message =
    `Model \`${truncate(model)}\`${provider ? ` (provider ${truncate(provider)})` : ''} is known (catalog key \`${key}\`, mode ${entry.mode}) but has no price for this kind of usage (${what}): ${has}. ` +
    `It is not priced as $0. Register a price with catalog.register('${key}', { ${hint} }) or pass \`prices\` to this call; ` +
    "with onUnpriced: 'zero' the call is returned as priced: false."
  return new UnknownModelError({ model, provider, tried: [resolved.key], suggestions: [], message })
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
