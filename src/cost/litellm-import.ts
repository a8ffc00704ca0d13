/**
 * Converts LiteLLM's `model_prices_and_context_window.json` into the compact table llm-budget bundles.
 * Used by `scripts/build-prices.mjs` at build time and, loaded lazily, by `catalog.refresh()`.
 * Everything is validated with zod: prices must be finite decimal numbers >= 0 and below a sentinel bound.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import Decimal from 'decimal.js'
import { parseDecimal } from './decimal.js'
import {
  RETIRED_FLAG,
  SENTINEL_PRICE_USD,
  TIER_BASES,
  classifyField,
  looksLikePrice,
  type CompactPriceTable,
  type DataVersion,
  type PriceSource,
} from './table.js'
import type { PriceEntry } from './types.js'

const priceSchema = z
  .union([
    z.number(),
    z
      .string()
      .trim()
      .regex(/^[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/, 'a decimal number'),
  ])
  .transform((value, ctx) => {
    if (typeof value === 'number' && !Number.isFinite(value)) {
      ctx.addIssue({ code: 'custom', message: `price must be finite, got ${value}` })
      return z.NEVER
    }
    const decimal = new Decimal(typeof value === 'number' ? String(value) : value)
    if (!decimal.isFinite() || decimal.isNegative()) {
      ctx.addIssue({ code: 'custom', message: `price must be a finite number >= 0, got ${String(value)}` })
      return z.NEVER
    }
    if (decimal.gte(SENTINEL_PRICE_USD)) {
      ctx.addIssue({
        code: 'custom',
        message: `price ${String(value)} looks like a sentinel value (>= ${SENTINEL_PRICE_USD} USD per unit)`,
      })
      return z.NEVER
    }
    return decimal.toFixed()
  })

const searchContextSchema = z
  .object({
    search_context_size_low: priceSchema.optional(),
    search_context_size_medium: priceSchema.optional(),
    search_context_size_high: priceSchema.optional(),
  })
  .loose()

/** A bound of a tier's `range`: a whole number of input tokens (LiteLLM writes them as floats, `256000.0`). */
const tierBound = z.number().int().nonnegative().max(1e12)

/**
 * One LiteLLM `tiered_pricing` tier. Token tiers have `range: [start, end]` (input tokens of the request) and
 * per-token rates; search tiers (`max_results_range`, exa_ai / firecrawl search) price a query by the number
 * of results requested, which a usage object does not carry: they are recognised and left out (a query
 * count on such a model is reported in `result.unpriced`).
 */
const tokenTierSchema = z
  .object({ range: z.tuple([tierBound, tierBound]).refine(([a, b]) => a < b, 'range start must be below its end') })
  .loose()
const searchTierSchema = z.object({ max_results_range: z.tuple([z.number(), z.number()]) }).loose()

const TIER_RATE_KEYS = new Set<string>(TIER_BASES)

/**
 * Flattens token tiers into `<rate>_tier_<start>_<end>` fields (see table.ts). Returns problems for rates
 * the calculator would not apply (so the build fails rather than misprice), invalid ranges and overlaps.
 */
function flattenTiers(raw: unknown, prices: Record<string, string>, problems: string[], unpriced: Set<string>): void {
  const list = z.array(z.record(z.string(), z.unknown())).min(1).safeParse(raw)
  if (!list.success) {
    problems.push(`tiered_pricing: ${list.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
    return
  }
  const ranges: Array<[number, number]> = []
  list.data.forEach((raw, i) => {
    if (!('range' in raw) && searchTierSchema.safeParse(raw).success) {
      unpriced.add('tiered_pricing.max_results_range') // search tier by max results: not priced per token (see above)
      return
    }
    const parsed = tokenTierSchema.safeParse(raw)
    if (!parsed.success) {
      problems.push(
        `tiered_pricing.${i}: ${parsed.error.issues.map((x) => `${x.path.join('.')}: ${x.message}`).join('; ')}`,
      )
      return
    }
    const tier = parsed.data
    const [start, end] = tier.range
    let hasInput = false
    for (const [key, value] of Object.entries(tier)) {
      if (key === 'range') continue
      if (!TIER_RATE_KEYS.has(key)) {
        problems.push(`tiered_pricing.${i}.${key}: not a tier rate the calculator applies`)
        continue
      }
      const price = priceSchema.safeParse(value)
      if (!price.success) {
        problems.push(`tiered_pricing.${i}.${key}: ${price.error.issues.map((x) => x.message).join('; ')}`)
        continue
      }
      if (key === 'input_cost_per_token') hasInput = true
      prices[`${key}_tier_${start}_${end}`] = price.data
    }
    if (!hasInput) problems.push(`tiered_pricing.${i}: a token tier needs input_cost_per_token`)
    ranges.push([start, end])
  })
  ranges.sort((a, b) => a[0] - b[0])
  for (let i = 1; i < ranges.length; i++) {
    if (ranges[i]![0] < ranges[i - 1]![1])
      problems.push(`tiered_pricing: ranges [${ranges[i - 1]!.join(', ')}] and [${ranges[i]!.join(', ')}] overlap`)
  }
}

const entrySchema = z
  .object({
    litellm_provider: z.string().min(1),
    mode: z.string().optional(),
    max_output_tokens: z.union([z.number().int().nonnegative(), z.string(), z.null()]).optional(),
    search_context_cost_per_query: searchContextSchema.optional(),
  })
  .loose()

/** A model entry after validation: provider, mode, and used prices as decimal strings. */
export interface ImportedEntry {
  provider: string
  mode: string
  maxOutputTokens: number
  retired: boolean
  prices: Record<string, string>
}

/** A rejected entry (refresh reports them; the build script fails on them). */
export interface RejectedEntry {
  key: string
  reason: string
}

/** What {@link importLiteLLMTable} found. */
export interface LiteLLMImport {
  /** Valid entries, with the prices the calculator bills. */
  entries: Map<string, ImportedEntry>
  /** Invalid entries, with the reason. */
  rejected: RejectedEntry[]
  /** Price fields present in the table that the calculator deliberately does not bill (see `UNPRICED_FIELDS`). */
  unpricedFields: string[]
  /**
   * Keys that look like prices but are neither billed nor declared unpriced, with up to 3 models that have each:
   * a new fee the calculator would drop silently. The price build fails on any.
   */
  unknownPriceFields: Array<{ field: string; models: string[] }>
}

/** Keys in LiteLLM's file that are not models. */
const NOT_MODELS = new Set(['sample_spec', 'fallback_generalizations'])

/**
 * Validates one LiteLLM table (parsed JSON). Returns accepted entries and the rejected ones with reasons.
 * Only the fields the calculator uses are kept; prices become plain decimal strings.
 */
export function importLiteLLMTable(json: unknown): LiteLLMImport {
  const top = z.record(z.string(), z.unknown()).safeParse(json)
  if (!top.success) throw new TypeError('A LiteLLM price table must be a JSON object of model entries')
  const entries = new Map<string, ImportedEntry>()
  const rejected: RejectedEntry[] = []
  const unpriced = new Set<string>()
  const unknown = new Map<string, string[]>()
  for (const [key, raw] of Object.entries(top.data)) {
    if (NOT_MODELS.has(key)) continue
    if (key === '__proto__' || key === 'constructor' || key === 'prototype') {
      rejected.push({ key, reason: 'reserved key' })
      continue
    }
    const parsed = entrySchema.safeParse(raw)
    if (!parsed.success) {
      rejected.push({ key, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') })
      continue
    }
    const prices: Record<string, string> = {}
    const problems: string[] = []
    for (const [field, value] of Object.entries(parsed.data)) {
      if (field === 'search_context_cost_per_query') continue
      if (field === 'tiered_pricing') {
        if (value !== null && value !== undefined) flattenTiers(value, prices, problems, unpriced)
        continue
      }
      const kind = classifyField(field)
      if (kind === 'unpriced') unpriced.add(field)
      else if (kind === 'unknown' && looksLikePrice(field)) {
        const models = unknown.get(field) ?? []
        if (models.length < 3) models.push(key)
        unknown.set(field, models)
      }
      if (kind !== 'used' || value === null || value === undefined) continue
      const price = priceSchema.safeParse(value)
      if (price.success) prices[field] = price.data
      else problems.push(`${field}: ${price.error.issues.map((i) => i.message).join('; ')}`)
    }
    const search = parsed.data.search_context_cost_per_query
    if (search) {
      for (const size of ['low', 'medium', 'high'] as const) {
        const value = search[`search_context_size_${size}`]
        if (value !== undefined) prices[`search_context_cost_per_query_${size}`] = value
      }
    }
    // Nested search-context prices were validated by the object schema above (priceSchema inside).
    if (problems.length > 0) {
      rejected.push({ key, reason: problems.join('; ') })
      continue
    }
    const maxOut = parsed.data.max_output_tokens
    entries.set(key, {
      provider: parsed.data.litellm_provider,
      mode: parsed.data.mode ?? 'chat',
      maxOutputTokens: typeof maxOut === 'number' ? maxOut : 0,
      retired: false,
      prices,
    })
  }
  return {
    entries,
    rejected,
    unpricedFields: [...unpriced].sort(),
    unknownPriceFields: [...unknown]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([field, models]) => ({ field, models })),
  }
}

/** Builds the compact table from imported entries. */
export function compactTable(
  entries: Map<string, ImportedEntry>,
  dataVersion: Omit<DataVersion, 'models' | 'retired'>,
  license: string,
  unpricedFields?: readonly string[],
): CompactPriceTable {
  const providers: string[] = []
  const modes: string[] = []
  const fields: string[] = []
  const index = (list: string[], map: Map<string, number>, value: string): number => {
    let i = map.get(value)
    if (i === undefined) {
      i = list.length
      list.push(value)
      map.set(value, i)
    }
    return i
  }
  const providerIndex = new Map<string, number>()
  const modeIndex = new Map<string, number>()
  const fieldIndex = new Map<string, number>()
  const lines: string[] = ['']
  let retired = 0
  const keys = [...entries.keys()].sort()
  for (const key of keys) {
    if (/[\t\n\r]/.test(key)) throw new TypeError(`model key ${JSON.stringify(key)} contains a tab or newline`)
    const entry = entries.get(key)!
    if (entry.retired) retired++
    const row: Array<string | number> = [
      key,
      index(providers, providerIndex, entry.provider),
      index(modes, modeIndex, entry.mode),
      entry.retired ? RETIRED_FLAG : 0,
      entry.maxOutputTokens,
    ]
    for (const field of Object.keys(entry.prices).sort())
      row.push(`${index(fields, fieldIndex, field)}=${entry.prices[field]!}`)
    lines.push(row.join('\t'))
  }
  lines.push('')
  const table: CompactPriceTable = {
    format: 2,
    dataVersion: { ...dataVersion, models: keys.length, retired },
    license,
    providers,
    modes,
    fields,
    rows: lines.join('\n'),
  }
  if (unpricedFields !== undefined) table.unpricedFields = [...unpricedFields].sort()
  return table
}

function samePrices(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) {
    const x = parseDecimal(a[k]!)
    const y = b[k] === undefined ? undefined : parseDecimal(b[k])
    if (!x || !y || x.int !== y.int || x.scale !== y.scale) return false
  }
  return true
}

/**
 * Compares an imported table with the previous one (`previousKeys`, read with `get`): the keys added, whose
 * prices changed (decimal equality), and removed (not counting ones already retired); `merged` holds every
 * imported entry plus the previous entries the import lacks, marked retired (never dropped).
 * Shared by `catalog.refresh()` and `llm-budget prices update`.
 */
export function mergeWithPrevious(
  imported: ReadonlyMap<string, ImportedEntry>,
  previousKeys: Iterable<string>,
  get: (key: string) => PriceEntry | undefined,
): { merged: Map<string, ImportedEntry>; added: string[]; changed: string[]; removed: string[] } {
  const added: string[] = []
  const changed: string[] = []
  const removed: string[] = []
  const merged = new Map(imported)
  for (const [key, entry] of imported) {
    const old = get(key)
    if (!old) added.push(key)
    else if (!samePrices(old.prices, entry.prices)) changed.push(key)
  }
  for (const key of previousKeys) {
    if (merged.has(key)) continue
    const old = get(key)!
    if (!old.retired) removed.push(key)
    merged.set(key, {
      provider: old.provider,
      mode: old.mode,
      maxOutputTokens: old.maxOutputTokens,
      retired: true,
      prices: { ...old.prices },
    })
  }
  return { merged, added, changed, removed }
}

/**
 * Merges a current table with an older one: every current entry, plus the older table's entries whose key
 * the current table no longer has, marked retired (never dropped).
 */
export function mergeRetired(
  current: Map<string, ImportedEntry>,
  older: Map<string, ImportedEntry>,
): Map<string, ImportedEntry> {
  const merged = new Map(current)
  for (const [key, entry] of older) {
    if (!merged.has(key)) merged.set(key, { ...entry, retired: true })
  }
  return merged
}

/** Convenience for the build script and refresh: one or two raw tables to a compact table. */
export function buildCompactTable(options: {
  current: unknown
  retired?: unknown
  sources: PriceSource[]
  license: string
}): { table: CompactPriceTable; rejected: RejectedEntry[]; unknownPriceFields: LiteLLMImport['unknownPriceFields'] } {
  const current = importLiteLLMTable(options.current)
  let entries = current.entries
  const rejected = [...current.rejected]
  const unpriced = new Set(current.unpricedFields)
  const unknown = [...current.unknownPriceFields]
  if (options.retired !== undefined) {
    const older = importLiteLLMTable(options.retired)
    rejected.push(...older.rejected.map((r) => ({ key: r.key, reason: `(retired table) ${r.reason}` })))
    entries = mergeRetired(entries, older.entries)
    for (const field of older.unpricedFields) unpriced.add(field)
    for (const u of older.unknownPriceFields) if (!unknown.some((x) => x.field === u.field)) unknown.push(u)
  }
  const id = `litellm@${options.sources.map((s) => s.commit.slice(0, 8)).join('+')}`
  return {
    table: compactTable(entries, { format: 'litellm', id, sources: options.sources }, options.license, [...unpriced]),
    rejected,
    unknownPriceFields: unknown,
  }
}
