/**
 * Commit pricing: what a commit input (a USD number, or `{ cost | usage, model, status, ... }`) costs, with the record
 * fields it implies. Never a silent $0: a commit with neither cost nor usage is the reservation's estimate, flagged.
 *
 * @packageDocumentation
 */
import type { PriceCatalog } from '../cost/catalog.js'
import { InvalidInputError } from '../errors.js'
import type { JsonValue } from '../stores/types.js'
import type { CallStatus, CommitInput } from './manager-types.js'
import { formatNano, usdInputToNano } from './money.js'
import { priceUsage, usageTokens } from './pricing.js'
import { EMPTY_METADATA, validateId, validateMetadata } from './scopes.js'

/** A priced commit: the amounts, the outcome and the record fields. */
export interface PricedCommit {
  nano: number
  tokens: number
  status: CallStatus
  estimated: boolean
  fields: Record<string, JsonValue>
  /**
   * `fields` holds no more than `metadata`, `modelServed`, `provider` and `priceSource`, in that order (a commit
   * with a cost and no usage, the common case): its record can be built as one object (`commit-record.ts`).
   */
  plain: boolean
}

const STATUSES: readonly CallStatus[] = ['success', 'failure', 'aborted', 'estimated', 'cache_hit']

/** Prices a commit input. Throws InvalidInputError for bad input (nothing changes). */
export function priceCommit(
  catalog: PriceCatalog | undefined,
  input: CommitInput | undefined,
  fallback: { nano: number; tokens: number; model: string | undefined; provider: string | undefined },
): PricedCommit {
  const fields: Record<string, JsonValue> = {}
  if (input === undefined) {
    return {
      nano: fallback.nano,
      tokens: fallback.tokens,
      status: 'estimated',
      estimated: true,
      fields: { priceSource: 'estimate' },
      plain: true,
    }
  }
  if (typeof input === 'number') {
    return {
      nano: usdInputToNano(input, 'cost'),
      tokens: fallback.tokens,
      status: 'success',
      estimated: false,
      fields: { priceSource: 'caller' },
      plain: true,
    }
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new InvalidInputError(
      'commit',
      '`commit` takes a USD number or `{ cost?, usage?, model?, provider?, status?, estimated?, metadata? }`',
    )
  }
  if (input.status !== undefined && !STATUSES.includes(input.status))
    throw new InvalidInputError('status', `\`status\` must be one of ${STATUSES.join(', ')}`)
  if (input.estimated !== undefined && typeof input.estimated !== 'boolean')
    throw new InvalidInputError('estimated', '`estimated` must be a boolean')
  if (input.model !== undefined) validateId('model', input.model)
  if (input.provider !== undefined) validateId('provider', input.provider)
  if (input.metadata !== undefined) fields.metadata = validateMetadata('metadata', input.metadata, EMPTY_METADATA)
  const model = input.model ?? fallback.model
  const provider = input.provider ?? fallback.provider
  if (model !== undefined) fields.modelServed = model
  if (provider !== undefined) fields.provider = provider
  if (input.saved !== undefined && input.status !== 'cache_hit')
    throw new InvalidInputError('saved', '`saved` is only for a commit with status `cache_hit`')
  if (input.status === 'cache_hit') {
    fields.priceSource = 'cache'
    fields.cacheHit = true
    if (input.saved !== undefined) {
      const saved = usdInputToNano(input.saved, 'saved')
      fields.savedNanoUsd = saved
      fields.saved = formatNano(saved)
    }
    return { nano: 0, tokens: 0, status: 'cache_hit', estimated: false, fields, plain: false }
  }
  if (input.cost !== undefined) {
    const nano = usdInputToNano(input.cost, 'cost')
    let tokens = fallback.tokens
    if (input.usage !== undefined) {
      const counted = usageTokens(input.usage, model, provider)
      tokens = counted.tokens
      fields.usage = counted.usage as unknown as JsonValue
    }
    const estimated = input.estimated ?? input.status === 'estimated'
    fields.priceSource = 'caller'
    const status = input.status ?? (estimated ? 'estimated' : 'success')
    return { nano, tokens, status, estimated, fields, plain: input.usage === undefined }
  }
  if (input.usage !== undefined) {
    const priced = priceUsage(catalog, model, provider, input.usage)
    fields.usage = priced.usage as unknown as JsonValue
    fields.costBreakdown = priced.breakdown
    fields.priceSource = priced.source
    fields.catalogVersion = priced.catalogVersion
    fields.pricedModel = priced.pricedModel
    if (priced.servedModel !== undefined) fields.modelServed = priced.servedModel
    fields.provider = priced.provider
    const estimated = input.estimated ?? false
    return {
      nano: priced.nano,
      tokens: priced.tokens,
      status: input.status ?? (estimated ? 'estimated' : 'success'),
      estimated,
      fields,
      plain: false,
    }
  }
  // Neither cost nor usage: never a silent $0; the estimate, flagged.
  fields.priceSource = 'estimate'
  const status = input.status ?? 'estimated'
  return { nano: fallback.nano, tokens: fallback.tokens, status, estimated: true, fields, plain: true }
}
