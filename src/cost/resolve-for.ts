/**
 * The price of one call: per-call `prices`, else the catalog's resolution (the custom price in force at the
 * call's time when prices were registered with `effectiveFrom`).
 *
 * @internal
 * @packageDocumentation
 */
import { UnknownModelError } from '../errors.js'
import { catalogAtTime, catalogLookup, catalogPrepare, catalogResolve, type PriceCatalog } from './catalog.js'
import { customEntry } from './custom-prices.js'
import type { PreparedEntry } from './prepared.js'
import type { CustomPrices, PricingOptions, ResolvedModel } from './types.js'

const pricesCache = new WeakMap<CustomPrices, PreparedEntry>()

/** A resolved model with its prepared prices. */
export interface Priced {
  resolved: ResolvedModel
  prepared: PreparedEntry
}

/** The time of a call in epoch ms (`at`, default now). */
export function timeOf(at: Date | number | undefined): number {
  return at === undefined ? Date.now() : at instanceof Date ? at.getTime() : at
}

/** Resolves the price of a call; undefined for an unknown model with `onUnpriced: 'zero'`, else throws. */
export function resolveFor(model: string, options: PricingOptions, catalog: PriceCatalog): Priced | undefined {
  if (options.prices !== undefined) {
    let prepared = pricesCache.get(options.prices)
    if (!prepared) {
      prepared = catalogPrepare(catalog, customEntry(model, options.prices, { provider: options.provider ?? 'custom' }))
      pricesCache.set(options.prices, prepared)
    }
    return {
      resolved: { key: model, entry: prepared.entry, rule: 'prices-option', explain: `${model} (per-call prices)` },
      prepared,
    }
  }
  const resolution = catalogLookup(catalog, model, options.provider)
  if (resolution === undefined) {
    if (options.onUnpriced === 'zero') return undefined
    catalogResolve(catalog, model, options.provider) // throws UnknownModelError with tried + suggestions
    throw new UnknownModelError({ model, provider: options.provider, tried: [model], suggestions: [] })
  }
  if (resolution.timed.length === 0) return resolution
  return catalogAtTime(catalog, resolution, timeOf(options.at), model, options.provider)
}
