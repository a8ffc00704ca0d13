/**
 * "The cheapest model that can do this": candidates priced for the same token counts with the catalog, filtered by
 * what each model can do (LiteLLM's capability flags and context window, bundled in `data/capabilities.ts`).
 */
import { InvalidInputError } from '../errors.js'
import { describeValue } from '../internal/describe.js'
import { calculateCost } from './calculate.js'
import { defaultCatalog, type PriceCatalog, tableKeys } from './catalog.js'
import { CAPABILITY_FLAGS, CAPABILITY_ROWS, CAPABILITY_TABLE_VERSION } from './data/capabilities.js'
import { BUNDLED_TABLE } from './data/prices.js'

/** A capability a model may have, as LiteLLM records it (`supports_function_calling` is `toolCalling`, ...). */
export type ModelCapability = (typeof CAPABILITY_FLAGS)[number]

/** What a model can do. */
export interface ModelCapabilities {
  /** The most input tokens it accepts, or `null` when the table does not say. */
  maxInputTokens: number | null
  /** The capabilities it has. */
  supports: ReadonlySet<ModelCapability>
}

/** What the chosen model must be able to do. */
export type ModelRequirements = { [K in ModelCapability]?: boolean } & {
  /** Context the call needs, in tokens (default: `inputTokens + outputTokens`). */
  contextTokens?: number | undefined
}

/** Input of {@link cheapestModel}. */
export interface CheapestModelInput {
  /** Models to choose from. Default: every chat model in the catalog with a price that is not retired. */
  candidates?: readonly string[] | undefined
  /** Input tokens of the call. */
  inputTokens: number
  /** Output tokens of the call. */
  outputTokens: number
  /** Capabilities the model must have; `false` or absent means "not required". */
  require?: ModelRequirements | undefined
  /** Provider hint for resolving candidate names. */
  provider?: string | undefined
  /** Catalog to price with. Default: the bundled catalog. */
  catalog?: PriceCatalog | undefined
}

/** One priced candidate. */
export interface ModelChoice {
  /** The candidate as given. */
  model: string
  /** The catalog key it resolved to. */
  key: string
  /** USD for the given token counts. */
  cost: number
  /** Exact decimal USD. */
  exact: string
  capabilities: ModelCapabilities
}

/** The answer of {@link cheapestModel}. */
export interface CheapestModelResult extends ModelChoice {
  /** Every candidate that qualified, cheapest first. */
  ranked: ModelChoice[]
  /** Candidates left out, with why. */
  excluded: { model: string; reason: string }[]
}

let capabilityIndex: Map<string, ModelCapabilities> | undefined

function index(): Map<string, ModelCapabilities> {
  if (capabilityIndex !== undefined) return capabilityIndex
  // The capability lines follow the bundled price table's rows one for one (the names are stored there only).
  const lines = CAPABILITY_ROWS.split('\n')
  const keys = tableKeys(BUNDLED_TABLE)
  const built = new Map<string, ModelCapabilities>()
  for (let i = 0; i < keys.length; i++) {
    const capability = lines[i]
    if (capability === undefined || capability === '') continue
    const comma = capability.indexOf(',')
    const mask = parseInt(capability.slice(comma + 1), 36)
    const supports = new Set<ModelCapability>(CAPABILITY_FLAGS.filter((_, f) => (mask & (1 << f)) !== 0))
    const maxInputTokens = parseInt(capability.slice(0, comma), 36)
    built.set(keys[i]!, { maxInputTokens: maxInputTokens > 0 ? maxInputTokens : null, supports })
  }
  if (keys.length !== lines.length || BUNDLED_TABLE.dataVersion.id !== CAPABILITY_TABLE_VERSION) {
    throw new Error(
      `the bundled capability data (${lines.length} lines, ${CAPABILITY_TABLE_VERSION}) does not match the price table (${keys.length} rows, ${BUNDLED_TABLE.dataVersion.id}); run npm run prices:build`,
    )
  }
  capabilityIndex = built
  return capabilityIndex
}

const NONE: ModelCapabilities = { maxInputTokens: null, supports: new Set() }

/** What a model can do, by name (resolved with the catalog like a price lookup). Unknown models know nothing. */
export function modelCapabilities(
  model: string,
  options: { provider?: string | undefined; catalog?: PriceCatalog | undefined } = {},
): ModelCapabilities {
  const resolved = (options.catalog ?? defaultCatalog).tryResolve(
    model,
    options.provider === undefined ? {} : { provider: options.provider },
  )
  return index().get(resolved?.key ?? model) ?? index().get(model) ?? NONE
}

function checkCount(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be a whole number of tokens >= 0, got ${describeValue(value)}`,
    )
  }
  return value
}

/**
 * The cheapest candidate that meets the requirements, priced for the given token counts.
 *
 * @example
 * ```ts
 * import { cheapestModel } from 'llm-budget/cost'
 *
 * const choice = cheapestModel({
 *   candidates: ['gpt-4o', 'gpt-4o-mini', 'claude-3-5-haiku-20241022'],
 *   inputTokens: 20_000,
 *   outputTokens: 1_000,
 *   require: { vision: true, toolCalling: true },
 * })
 * console.log(choice.model, choice.cost) // gpt-4o-mini 0.0036
 * ```
 * @throws InvalidInputError for bad input, or when no candidate qualifies (the message says why each was left out).
 */
export function cheapestModel(input: CheapestModelInput): CheapestModelResult {
  if (typeof input !== 'object' || input === null)
    throw new InvalidInputError('input', '`cheapestModel` takes { candidates?, inputTokens, outputTokens, require? }')
  const inputTokens = checkCount('inputTokens', input.inputTokens)
  const outputTokens = checkCount('outputTokens', input.outputTokens)
  const require = input.require ?? {}
  for (const key of Object.keys(require)) {
    if (key !== 'contextTokens' && !(CAPABILITY_FLAGS as readonly string[]).includes(key)) {
      throw new InvalidInputError(
        `require.${key}`,
        `unknown requirement ${describeValue(key, 64)}; known: contextTokens, ${CAPABILITY_FLAGS.join(', ')}`,
      )
    }
  }
  const contextTokens =
    require.contextTokens === undefined
      ? inputTokens + outputTokens
      : checkCount('require.contextTokens', require.contextTokens)
  const catalog = input.catalog ?? defaultCatalog
  const candidates =
    input.candidates ??
    catalog.keys().filter((key) => {
      const entry = catalog.get(key)
      return entry !== undefined && entry.mode === 'chat' && !entry.retired
    })
  if (!Array.isArray(candidates) || candidates.length === 0)
    throw new InvalidInputError('candidates', '`candidates` must be a non-empty array of model names')
  const required = CAPABILITY_FLAGS.filter((flag) => require[flag] === true)
  const ranked: ModelChoice[] = []
  const excluded: { model: string; reason: string }[] = []
  for (const model of candidates) {
    const resolved = catalog.tryResolve(model, input.provider === undefined ? {} : { provider: input.provider })
    if (resolved === undefined) {
      excluded.push({ model, reason: 'unknown model' })
      continue
    }
    const capabilities = index().get(resolved.key) ?? NONE
    const missing = required.filter((flag) => !capabilities.supports.has(flag))
    if (missing.length > 0) {
      excluded.push({ model, reason: `lacks ${missing.join(', ')}` })
      continue
    }
    if (
      capabilities.maxInputTokens !== null
        ? capabilities.maxInputTokens < contextTokens
        : require.contextTokens !== undefined
    ) {
      excluded.push({
        model,
        reason:
          capabilities.maxInputTokens === null
            ? 'context window unknown'
            : `context window ${capabilities.maxInputTokens} < ${contextTokens}`,
      })
      continue
    }
    const priced = calculateCost({
      model,
      usage: { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: null },
      catalog,
      onUnpriced: 'zero',
      ...(input.provider === undefined ? {} : { provider: input.provider }),
    })
    if (!priced.priced || (priced.unpriced?.length ?? 0) > 0) {
      excluded.push({ model, reason: 'no price for this usage' })
      continue
    }
    ranked.push({ model, key: resolved.key, cost: priced.totalCost, exact: priced.exact.totalCost, capabilities })
  }
  ranked.sort((a, b) => compareDecimal(a.exact, b.exact) || a.model.localeCompare(b.model))
  const best = ranked[0]
  if (best === undefined) {
    const why = excluded
      .slice(0, 10)
      .map((e) => `${describeValue(e.model, 64)}: ${e.reason}`)
      .join('; ')
    throw new InvalidInputError(
      'candidates',
      `no candidate meets the requirements (${why}${excluded.length > 10 ? `; and ${excluded.length - 10} more` : ''})`,
    )
  }
  return { ...best, ranked, excluded }
}

/** Compares two non-negative decimal strings exactly. */
function compareDecimal(a: string, b: string): number {
  const [ai = '', af = ''] = a.split('.')
  const [bi = '', bf = ''] = b.split('.')
  if (ai.length !== bi.length) return ai.length - bi.length
  if (ai !== bi) return ai < bi ? -1 : 1
  const width = Math.max(af.length, bf.length)
  const x = af.padEnd(width, '0')
  const y = bf.padEnd(width, '0')
  return x === y ? 0 : x < y ? -1 : 1
}
