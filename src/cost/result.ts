/**
 * The cost result: one allocation with a fixed hidden class, exact parts as scaled integers, decimal strings
 * formatted only when read; and the conversion to integer nano-USD that the ledger records.
 *
 * @internal
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { formatScaled } from './decimal.js'
import type { CostResult, ExactCost, ResolutionRule, UnpricedUsage, UsageAdjustment } from './types.js'

const MAX_SAFE = Number.MAX_SAFE_INTEGER
/** A scaled integer: a number while exact, else a BigInt. */
export type Scaled = number | bigint

/** `unpriced` of a call whose usage was fully priced (shared, frozen). */
export const NONE_UNPRICED: readonly UnpricedUsage[] = Object.freeze([])

/** `adjusted` of a call whose usage was consistent (shared, frozen). */
export const NONE_ADJUSTED: readonly UsageAdjustment[] = Object.freeze([])

/**
 * A cost result: one allocation with a fixed hidden class (every field assigned in the constructor, in one
 * order, no class-field initializers). `totalCost` is computed eagerly; the part costs (`inputCost`, ...) are
 * prototype getters over the scaled integers (a division on access), and exact strings are formatted on the
 * first access of `exact`. `toJSON()` gives a plain object with every field.
 */
export class CostResultImpl implements CostResult {
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
  declare adjusted: readonly UsageAdjustment[]
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
    adjusted: readonly UsageAdjustment[],
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
    this.adjusted = adjusted
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
      adjusted: this.adjusted,
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
export function nanoCeil(value: Scaled, scale: number): number {
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
export function checkLedgerRange(total: bigint, scale: number): void {
  const limit = (BigInt(MAX_SAFE) * 10n ** BigInt(scale)) / 1_000_000_000n
  if (total > limit) {
    throw new InvalidInputError(
      'usage',
      `this call would cost $${formatScaled(total, scale)}, more than the $9,007,199 (2^53 nano-USD) one call can be recorded exactly; check the token counts`,
    )
  }
}

function checkedNano(value: bigint): number {
  if (value > BigInt(MAX_SAFE))
    throw new RangeError(`cost of ${value} nano-USD is beyond 2^53 and cannot be held exactly as a number`)
  return Number(value)
}

/**
 * The cost in integer nano-USD (1e-9 USD), rounded up: what the budget ledger records for a call.
 * Same as `result.exact.totalNanoUsd`.
 */
export function costToNano(result: CostResult): number {
  if (result instanceof CostResultImpl) return nanoCeil(result._t, result._scale)
  return result.exact.totalNanoUsd
}
