/**
 * The price catalog: model name -> price entry, with an explanation of how the name resolved.
 *
 * @packageDocumentation
 */
import { InvalidInputError, UnknownModelError } from '../errors.js'
import { BUNDLED_TABLE } from './data/prices.js'
import { TinyLru } from './lru.js'
import { prepareEntry, type PreparedEntry } from './prepared.js'
import { RETIRED_FLAG, type CompactPriceTable, type DataVersion } from './table.js'
import type { CustomPrices, PriceEntry, ResolutionRule, ResolvedModel } from './types.js'
import { normalizeProvider } from './provider.js'
import { editDistance } from '../internal/suggest.js'
import { describeValue, truncate } from '../internal/describe.js'
import { customEntry, type RegisterOptions } from './custom-prices.js'
import { nameCandidates, providerNames } from './name-candidates.js'

export { normalizeProvider } from './provider.js'
export type { RegisterOptions } from './custom-prices.js'

/** Options of {@link PriceCatalog}. */
export interface PriceCatalogOptions {
  /**
   * The table to start from. Default: the bundled LiteLLM-derived table (parsed at first use).
   * Pass `'empty'` for a catalog with only the prices you register.
   */
  table?: CompactPriceTable | 'empty' | undefined
  /** Size of the resolution cache (a small LRU, see docs/decisions/0003). Default 2,000 names. */
  cacheSize?: number | undefined
}

/** Options of {@link PriceCatalog.refresh}. */
export interface RefreshOptions {
  /** URL of a LiteLLM-format JSON table (e.g. the raw model_prices_and_context_window.json on GitHub). */
  url?: string | undefined
  /** An already-parsed LiteLLM-format table (instead of `url`). */
  json?: unknown
  /** Timeout of the download, ms. Default 10,000. */
  timeoutMs?: number | undefined
  /** fetch implementation (default `globalThis.fetch`). */
  fetch?: typeof fetch | undefined
}

/** What a refresh changed. On failure the catalog keeps its previous table (`ok: false`, `error`). */
export interface RefreshReport {
  ok: boolean
  /** Why the refresh failed; the previous (bundled) table stays in use. */
  error?: string
  /** Keys that are new. */
  added: string[]
  /** Keys whose prices changed. */
  changed: string[]
  /** Keys the new table no longer has (kept, marked retired). */
  removed: string[]
  /** Entries that failed validation and were skipped. */
  rejected: Array<{ key: string; reason: string }>
  /** Data version now in use. */
  dataVersion: DataVersion
}

/** A resolution with its prepared prices (cached). Not part of the public API. */
export interface Resolution {
  resolved: ResolvedModel
  /** Prepared prices of `resolved.entry`. */
  prepared: PreparedEntry
  /** Custom prices with `effectiveFrom`, ascending; empty when the price does not depend on time. */
  timed: ReadonlyArray<{ from: number; resolved: ResolvedModel; prepared: PreparedEntry }>
}

/**
 * Module-level access to the catalog's private methods for the calculator (set by the class's static block).
 * Exported from this module only: the package entries do not re-export them, so they are not public API.
 */
export let catalogLookup: (catalog: PriceCatalog, model: string, provider: string | undefined) => Resolution | undefined
/** Like {@link catalogLookup}, but throws UnknownModelError (with the keys tried and suggestions). */
export let catalogResolve: (catalog: PriceCatalog, model: string, provider: string | undefined) => Resolution
/** Prepared (scaled-integer) prices of an entry, memoized per catalog. */
export let catalogPrepare: (catalog: PriceCatalog, entry: PriceEntry) => PreparedEntry
/** The custom price in force at `at` for a time-dependent resolution. */
export let catalogAtTime: (
  catalog: PriceCatalog,
  resolution: Resolution,
  at: number,
  model: string,
  provider: string | undefined,
) => { resolved: ResolvedModel; prepared: PreparedEntry }

/** Longest model name {@link PriceCatalog.suggest} looks for close matches of. */
const MAX_SUGGEST_LENGTH = 256

/** A catalog of model prices. Use {@link defaultCatalog} unless you need an isolated one. */
export class PriceCatalog {
  #table: CompactPriceTable | undefined
  #source: CompactPriceTable | 'empty' | undefined
  #entries = new Map<string, PriceEntry>()
  #custom = new Map<string, PriceEntry[]>()
  #aliases = new Map<string, string>()
  #deployments = new Map<string, Map<string, string>>()
  #providers: Set<string> | undefined
  #prepared = new WeakMap<PriceEntry, PreparedEntry>()
  #cache: TinyLru<string, Resolution>
  #lastModel: string | undefined
  #lastProvider: string | undefined
  #lastResolution: Resolution | undefined
  #version = 0

  static {
    catalogLookup = (catalog, model, provider) => catalog.#lookup(model, provider)
    catalogResolve = (catalog, model, provider) => catalog.#resolveInternal(model, provider)
    catalogPrepare = (catalog, entry) => catalog.#prepare(entry)
    catalogAtTime = (catalog, resolution, at, model, provider) => catalog.#atTime(resolution, at, model, provider)
  }

  constructor(options: PriceCatalogOptions = {}) {
    const size = options.cacheSize ?? 2000
    if (!Number.isSafeInteger(size) || size < 1)
      throw new InvalidInputError('cacheSize', `\`cacheSize\` must be a positive integer, got ${describeValue(size)}`)
    this.#cache = new TinyLru(size)
    this.#source = options.table
  }

  #loadTable(): CompactPriceTable {
    if (this.#table) return this.#table
    const source = this.#source
    if (source === 'empty') {
      this.#table = {
        format: 2,
        dataVersion: { format: 'litellm', id: 'empty', sources: [], models: 0, retired: 0 },
        license: '',
        providers: [],
        modes: [],
        fields: [],
        rows: '\n',
      }
    } else {
      this.#table = source ?? BUNDLED_TABLE
    }
    return this.#table
  }

  /** Source commits and dates of the price data in use. */
  get dataVersion(): DataVersion {
    return this.#loadTable().dataVersion
  }

  /** Licence notice of the price data in use. */
  get license(): string {
    return this.#loadTable().license
  }

  /** All catalog keys (bundled or refreshed, plus registered models). */
  keys(): string[] {
    const keys = new Set(tableKeys(this.#loadTable()))
    for (const key of this.#custom.keys()) keys.add(key)
    return [...keys]
  }

  /** The catalog's own entry for an exact key (no resolution), or undefined. Custom prices are not included. */
  get(key: string): PriceEntry | undefined {
    const cached = this.#entries.get(key)
    if (cached) return cached
    if (typeof key !== 'string' || key === '' || key.includes('\t') || key.includes('\n') || key.includes('\r'))
      return undefined
    const table = this.#loadTable()
    const start = table.rows.indexOf(`\n${key}\t`)
    if (start < 0) return undefined
    const end = table.rows.indexOf('\n', start + 1)
    const row = table.rows.slice(start + 1, end < 0 ? undefined : end).split('\t')
    const prices: Record<string, string> = {}
    for (let i = 5; i < row.length; i++) {
      const cell = row[i]!
      const eq = cell.indexOf('=')
      prices[table.fields[Number(cell.slice(0, eq))]!] = cell.slice(eq + 1)
    }
    const entry: PriceEntry = Object.freeze({
      key,
      provider: table.providers[Number(row[1])] ?? 'unknown',
      mode: table.modes[Number(row[2])] ?? 'chat',
      retired: (Number(row[3]) & RETIRED_FLAG) !== 0,
      maxOutputTokens: Number(row[4]) || 0,
      prices: Object.freeze(prices),
      source: 'catalog' as const,
      effectiveFrom: Number.NEGATIVE_INFINITY,
    })
    this.#entries.set(key, entry)
    return entry
  }

  /**
   * Registers custom prices for a model name. Custom prices win over catalog prices on every path
   * (every resolution step, every cost function). With `effectiveFrom`, they apply from that time on.
   *
   * @example catalog.register('my-finetune', { inputPerMillion: '3', outputPerMillion: '12' })
   */
  register(model: string, prices: CustomPrices, options: RegisterOptions = {}): this {
    if (typeof model !== 'string' || model.trim() === '')
      throw new InvalidInputError('model', '`model` must be a non-empty string')
    const entry = customEntry(model, prices, options)
    const list = [...(this.#custom.get(model) ?? []).filter((e) => e.effectiveFrom !== entry.effectiveFrom), entry]
    list.sort((a, b) => a.effectiveFrom - b.effectiveFrom)
    this.#custom.set(model, list)
    this.#invalidate()
    return this
  }

  /** Removes custom prices registered for a model. Returns true if there were any. */
  unregister(model: string): boolean {
    const had = this.#custom.delete(model)
    if (had) this.#invalidate()
    return had
  }

  /**
   * Adds an alias: `name` resolves like `target` (e.g. a gateway's model name, `my-gpt` -> `gpt-4o`).
   */
  alias(name: string, target: string): this {
    if (typeof name !== 'string' || name === '')
      throw new InvalidInputError('name', '`name` must be a non-empty string')
    if (typeof target !== 'string' || target === '')
      throw new InvalidInputError('target', '`target` must be a non-empty string')
    if (name === target) throw new InvalidInputError('target', `alias \`${truncate(name)}\` cannot point to itself`)
    this.#aliases.set(name, target)
    this.#invalidate()
    return this
  }

  /**
   * Adds deployment names for a provider (Azure deployment name -> base model), e.g.
   * `catalog.deployments('azure', { 'prod-4o': 'gpt-4o' })`. Pass provider `*` for any provider.
   */
  deployments(provider: string, map: Record<string, string>): this {
    const key = provider === '*' ? '*' : normalizeProvider(provider)
    if (!key) throw new InvalidInputError('provider', '`provider` must be a provider name or `*`')
    const target = this.#deployments.get(key) ?? new Map<string, string>()
    for (const [name, model] of Object.entries(map)) {
      if (typeof model !== 'string' || model === '')
        throw new InvalidInputError(
          `map.${truncate(name, 80)}`,
          `deployment \`${truncate(name)}\` must map to a model name`,
        )
      target.set(name, model)
    }
    this.#deployments.set(key, target)
    this.#invalidate()
    return this
  }

  #invalidate(): void {
    this.#cache.clear()
    this.#lastModel = undefined
    this.#lastResolution = undefined
    this.#version++
  }

  /** Internal: bumps on every change (used by callers that memoize). */
  get version(): number {
    return this.#version
  }

  /**
   * Resolves a model name to one entry and says how. Order: custom prices at every step, then exact key
   * (when its provider matches the hint), `provider/model`, aliases and deployment maps, provider and
   * Bedrock region / cross-region prefixes stripped, a date suffix stripped. Never matches by prefix.
   *
   * @throws UnknownModelError with the keys tried and the closest known names.
   */
  resolve(
    model: string,
    options: { provider?: string | undefined; at?: Date | number | undefined } = {},
  ): ResolvedModel {
    const resolution = this.#resolveInternal(model, options.provider)
    if (resolution.timed.length === 0) return resolution.resolved
    const at = options.at === undefined ? Date.now() : options.at instanceof Date ? options.at.getTime() : options.at
    return this.#atTime(resolution, at, model, options.provider).resolved
  }

  /** Like {@link resolve} but returns undefined for an unknown model. */
  tryResolve(model: string, options: { provider?: string | undefined } = {}): ResolvedModel | undefined {
    return this.#lookup(model, options.provider)?.resolved
  }

  /** True when the model resolves. */
  has(model: string, options: { provider?: string | undefined } = {}): boolean {
    return this.#lookup(model, options.provider) !== undefined
  }

  /** Resolution with prepared prices; throws UnknownModelError. */
  #resolveInternal(model: string, provider: string | undefined): Resolution {
    const found = this.#lookup(model, provider)
    if (found) return found
    if (typeof model !== 'string' || model === '')
      throw new InvalidInputError('model', '`model` must be a non-empty string')
    const tried = nameCandidates(model, normalizeProvider(provider), (name) => this.#isProvider(name)).map((c) => c.key)
    throw new UnknownModelError({ model, provider, tried: [...new Set(tried)], suggestions: this.suggest(model) })
  }

  /** Cached resolution or undefined. */
  #lookup(model: string, provider: string | undefined): Resolution | undefined {
    // Kept tiny so that it inlines into calculateCost: a repeated model is two comparisons.
    if (model === this.#lastModel && provider === this.#lastProvider) return this.#lastResolution
    return this.#lookupCached(model, provider)
  }

  #lookupCached(model: string, provider: string | undefined): Resolution | undefined {
    if (typeof model !== 'string' || model === '') return undefined
    const cacheKey = provider === undefined ? model : `${provider}\u0000${model}`
    let resolution = this.#cache.get(cacheKey)
    if (resolution === undefined) {
      resolution = this.#resolveUncached(model, provider)
      if (resolution === undefined) return undefined
      this.#cache.set(cacheKey, resolution)
    }
    this.#lastModel = model
    this.#lastProvider = provider
    this.#lastResolution = resolution
    return resolution
  }

  /** Prepared prices of an entry (memoized). */
  #prepare(entry: PriceEntry): PreparedEntry {
    let prepared = this.#prepared.get(entry)
    if (!prepared) {
      prepared = prepareEntry(entry)
      this.#prepared.set(entry, prepared)
    }
    return prepared
  }

  #isProvider(name: string): boolean {
    if (!this.#providers) this.#providers = providerNames(this.#loadTable().providers)
    return this.#providers.has(name)
  }

  #findCustom(key: string): PriceEntry[] | undefined {
    return this.#custom.get(key)
  }

  #resolveUncached(model: string, providerHint: string | undefined, depth = 0): Resolution | undefined {
    if (depth > 8) return undefined
    const provider = normalizeProvider(providerHint)
    // 2a. The exact key (the first candidate name is always `model` itself), provider matching when one is given.
    const exactEntry = this.get(model)
    const exactMatches = exactEntry !== undefined && (!provider || providerMatches(exactEntry.provider, provider))
    // With no custom price that could win over it, answered before the other candidate names are worked out (the
    // first cost then does not compile that code).
    if (exactMatches && this.#custom.size === 0) return this.#resolution(exactEntry, 'exact', model)
    const candidates = nameCandidates(model, provider, (name) => this.#isProvider(name))
    // 1. Custom prices win on every path.
    for (const c of candidates) {
      const custom = this.#findCustom(c.key)
      if (custom) return this.#customResolution(c.key, custom, model, c.rule)
    }
    // 2. Catalog: exact (provider must match when a provider is given), provider/model.
    if (exactMatches) return this.#resolution(exactEntry, 'exact', model)
    const rest = candidates.slice(1)
    const prefixed = rest[0]?.rule === 'provider-prefixed' ? rest[0] : undefined
    if (prefixed) {
      const entry = this.get(prefixed.key)
      if (entry) return this.#resolution(entry, 'provider-prefixed', `${model} -> ${prefixed.key}`)
    }
    // 3. Aliases and deployment maps (the target resolves with the same rules).
    const deployment =
      (provider ? this.#deployments.get(provider)?.get(model) : undefined) ?? this.#deployments.get('*')?.get(model)
    const alias = this.#aliases.get(model)
    const target = deployment ?? alias
    if (target !== undefined) {
      const inner = this.#resolveUncached(target, providerHint, depth + 1)
      if (inner) {
        const rule: ResolutionRule = deployment !== undefined ? 'deployment' : 'alias'
        return {
          ...inner,
          resolved: { ...inner.resolved, rule, explain: `${model} -> ${target} (${rule}); ${inner.resolved.explain}` },
        }
      }
    }
    // 4. Stripped forms, 5. date suffix stripped (only reached when the dated key is absent).
    const slash = model.indexOf('/')
    const impliedProvider =
      slash > 0 && this.#isProvider(model.slice(0, slash)) ? normalizeProvider(model.slice(0, slash)) : undefined
    for (const c of rest) {
      if (c === prefixed) continue
      const entry = this.get(c.key)
      if (entry) return this.#resolution(entry, c.rule, `${c.via} -> ${c.key}`)
      // A stripped form may itself be a deployment (of the prefix's provider) or an alias.
      const implied = provider ?? impliedProvider
      const deploymentTarget =
        (implied ? this.#deployments.get(implied)?.get(c.key) : undefined) ?? this.#deployments.get('*')?.get(c.key)
      const aliasTarget = deploymentTarget ?? this.#aliases.get(c.key)
      if (aliasTarget !== undefined) {
        const rule: ResolutionRule = deploymentTarget !== undefined ? 'deployment' : 'alias'
        const inner = this.#resolveUncached(aliasTarget, providerHint ?? implied, depth + 1)
        if (inner)
          return {
            ...inner,
            resolved: {
              ...inner.resolved,
              rule,
              explain: `${model} -> ${c.key} -> ${aliasTarget} (${rule}); ${inner.resolved.explain}`,
            },
          }
      }
    }
    // 6. Exact key of another provider (e.g. azure hint, only the openai entry exists).
    if (exactEntry)
      return this.#resolution(
        exactEntry,
        'provider-mismatch',
        `${model} (entry is ${exactEntry.provider}, hint ${provider})`,
      )
    return undefined
  }

  #resolution(entry: PriceEntry, rule: ResolutionRule, explain: string): Resolution {
    return {
      resolved: { key: entry.key, entry, rule, explain: `${explain} (${rule})` },
      prepared: this.#prepare(entry),
      timed: [],
    }
  }

  #customResolution(key: string, list: PriceEntry[], model: string, via: ResolutionRule): Resolution {
    const explain = `${model}${key === model ? '' : ` -> ${key}`} (custom price${via === 'exact' ? '' : `, ${via}`})`
    const timed = list.map((entry) => ({
      from: entry.effectiveFrom,
      resolved: { key, entry, rule: 'custom' as const, explain },
      prepared: this.#prepare(entry),
    }))
    const always = timed.filter((t) => t.from === Number.NEGATIVE_INFINITY)
    if (timed.length === 1 && always.length === 1)
      return { resolved: timed[0]!.resolved, prepared: timed[0]!.prepared, timed: [] }
    // Time-dependent: the base is the catalog's own resolution (if any) before the first effective date.
    const first = timed[0]!
    return { resolved: first.resolved, prepared: first.prepared, timed }
  }

  /** Picks the custom price in effect at `at` for a time-dependent resolution. */
  #atTime(
    resolution: Resolution,
    at: number,
    model: string,
    provider: string | undefined,
  ): { resolved: ResolvedModel; prepared: PreparedEntry } {
    let chosen: { resolved: ResolvedModel; prepared: PreparedEntry } | undefined
    for (const t of resolution.timed) if (t.from <= at) chosen = t
    if (chosen) return chosen
    // Before the first effective date: whatever the catalog says without custom prices.
    const saved = this.#custom
    this.#custom = new Map()
    try {
      const base = this.#resolveUncached(model, provider)
      if (base) return base
    } finally {
      this.#custom = saved
    }
    const key = resolution.resolved.key
    throw new UnknownModelError({ model, provider, tried: [key], suggestions: [] })
  }

  /** Closest known model names (edit distance, whole-segment prefixes first), at most `limit`. */
  suggest(model: string, limit = 5): string[] {
    // No model name is this long: a huge input gets no suggestions rather than a scan proportional to its size.
    if (typeof model !== 'string' || model.length > MAX_SUGGEST_LENGTH) return []
    const query = model.toLowerCase()
    const keys = this.keys()
    const withSlash = query.includes('/')
    const prefixes: string[] = []
    const scored: Array<{ key: string; score: number }> = []
    for (const key of keys) {
      if (!withSlash && key.includes('/')) continue
      const lower = key.toLowerCase()
      if (query.startsWith(lower) && /[-.:@/_]/.test(query.charAt(lower.length))) prefixes.push(key)
      if (Math.abs(lower.length - query.length) > 12) continue
      scored.push({ key, score: editDistance(query, lower) })
    }
    prefixes.sort((a, b) => b.length - a.length)
    scored.sort((a, b) => a.score - b.score || a.key.length - b.key.length || (a.key < b.key ? -1 : 1))
    const out: string[] = []
    for (const key of [...prefixes, ...scored.map((s) => s.key)]) {
      if (!out.includes(key)) out.push(key)
      if (out.length >= limit) break
    }
    return out
  }

  /**
   * Replaces the table with a compact price table, e.g. a price file written by `llm-budget prices update`
   * (`JSON.parse` of its text). The table is validated first (shape, indices, prices finite decimals >= 0
   * below the sentinel bound); on any problem it throws and the catalog keeps its current table. Registered
   * prices, aliases and deployment maps are kept.
   *
   * @example await defaultCatalog.load(JSON.parse(readFileSync('llm-budget-prices.json', 'utf8')))
   * @returns The data version now in use.
   * @throws InvalidInputError (field `table`) when the table is not valid.
   */
  async load(json: unknown): Promise<DataVersion> {
    const { parseCompactTable } = await import('./price-file.js')
    let table: CompactPriceTable
    try {
      table = parseCompactTable(json)
    } catch (error) {
      throw new InvalidInputError('table', error instanceof Error ? error.message : String(error))
    }
    this.#table = table
    this.#providers = undefined
    this.#entries.clear()
    this.#invalidate()
    return table.dataVersion
  }

  /**
   * Loads a newer LiteLLM-format table at run time (opt-in; the only network access of the cost module).
   * Validates it, reports added / changed / removed models, and keeps the previous table on any failure.
   * Models the new table lacks stay available, marked retired.
   */
  async refresh(options: RefreshOptions): Promise<RefreshReport> {
    const previous = this.#loadTable()
    const failed = (error: string): RefreshReport => ({
      ok: false,
      error,
      added: [],
      changed: [],
      removed: [],
      rejected: [],
      dataVersion: previous.dataVersion,
    })
    let json = options.json
    try {
      if (json === undefined) {
        if (!options.url) return failed('refresh() needs `url` or `json`')
        const timeoutMs = options.timeoutMs ?? 10_000
        if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
          return failed(`\`timeoutMs\` must be a positive number, got ${String(timeoutMs)}`)
        const fetchImpl = options.fetch ?? globalThis.fetch
        const controller = new AbortController()
        const timer = setTimeout(() => controller.abort(), timeoutMs)
        try {
          const response = await fetchImpl(options.url, { signal: controller.signal })
          if (!response.ok) return failed(`GET ${options.url}: HTTP ${response.status}`)
          json = await response.json()
        } finally {
          clearTimeout(timer)
        }
      }
      const { importLiteLLMTable, compactTable, mergeWithPrevious } = await import('./litellm-import.js')
      const imported = importLiteLLMTable(json)
      if (imported.entries.size === 0)
        return { ...failed('the new table has no valid model entries'), rejected: imported.rejected }
      const { merged, added, changed, removed } = mergeWithPrevious(imported.entries, tableKeys(previous), (key) =>
        this.get(key),
      )
      const source = {
        file: options.url ?? '(json)',
        commit: 'unknown',
        date: new Date().toISOString().slice(0, 10),
        role: 'current' as const,
      }
      const table = compactTable(
        merged,
        { format: 'litellm', id: `refresh@${source.date}`, sources: [source, ...previous.dataVersion.sources] },
        previous.license,
      )
      this.#table = table
      this.#providers = undefined
      this.#entries.clear()
      this.#invalidate()
      return { ok: true, added, changed, removed, rejected: imported.rejected, dataVersion: table.dataVersion }
    } catch (error) {
      return failed(error instanceof Error ? error.message : String(error))
    }
  }
}

/** All keys of a compact table, in order. @internal */
export function tableKeys(table: CompactPriceTable): string[] {
  const keys: string[] = []
  const rows = table.rows
  let start = rows.indexOf('\n')
  while (start >= 0 && start < rows.length - 1) {
    const tab = rows.indexOf('\t', start + 1)
    const end = rows.indexOf('\n', start + 1)
    if (tab < 0 || end < 0) break
    keys.push(rows.slice(start + 1, tab))
    start = end
  }
  return keys
}

function providerMatches(entryProvider: string, provider: string): boolean {
  if (entryProvider === provider) return true
  if (entryProvider.startsWith(`${provider}-`)) return true
  return provider === 'bedrock' && entryProvider === 'bedrock_converse'
}

/** The shared catalog with the bundled prices, used by the cost functions unless given another. */
export const defaultCatalog: PriceCatalog = new PriceCatalog()
