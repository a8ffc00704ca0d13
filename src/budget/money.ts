/**
 * Exact money for the budget ledger: USD numbers given by users become integer nano-USD (1e-9 USD) without
 * floating-point arithmetic, and integers become USD numbers or exact decimal strings for display.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'

/** Nano-USD per USD. */
export const NANO_PER_USD = 1_000_000_000
/** The largest amount a store can hold exactly, in nano-USD (2^53 - 1, about $9,007,199.25). */
export const MAX_NANO = Number.MAX_SAFE_INTEGER
/** {@link MAX_NANO} in USD, for messages. */
export const MAX_USD = MAX_NANO / NANO_PER_USD

/** Below this many USD the fast conversion path is exact (see {@link usdToNano}). */
const FAST_LIMIT_USD = 4_194_304

const DECIMAL = /^(\d+)(?:\.(\d*))?(?:e([-+]?\d+))?$/i

/**
 * The exact value of a decimal text (as `String(number)` prints it), rounded up to whole nano-USD, as a
 * bigint. `undefined` when the text is not a non-negative decimal.
 */
function decimalTextToNano(text: string): bigint | undefined {
  const match = DECIMAL.exec(text)
  if (match === null) return undefined
  const whole = match[1]!
  const fraction = match[2] ?? ''
  const exponent = match[3] === undefined ? 0 : Number(match[3])
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 400) return undefined
  // value = digits * 10^(exponent - fraction.length); nano = value * 10^9
  const digits = BigInt(whole + fraction)
  const shift = exponent - fraction.length + 9
  if (shift >= 0) return digits * 10n ** BigInt(shift)
  const divisor = 10n ** BigInt(-shift)
  const quotient = digits / divisor
  return digits % divisor === 0n ? quotient : quotient + 1n
}

/**
 * Converts a USD amount to integer nano-USD exactly, rounding a fraction of a nano-USD up. The number is
 * read as the shortest decimal that prints it (`0.000001` is exactly 1000 nano-USD, not 999.9999...), so
 * no `Math.round(x * 1e9)` error creeps in. Decimal strings are accepted too.
 *
 * @throws InvalidInputError for a negative, non-finite or non-numeric amount, or one above {@link MAX_USD}.
 */
export function usdToNano(amount: number | string, field = 'amount'): number {
  let text: string
  if (typeof amount === 'number') {
    if (!Number.isFinite(amount) || amount < 0) {
      throw new InvalidInputError(field, `\`${field}\` must be a finite number of USD >= 0, got ${String(amount)}`)
    }
    // Fast path, exact: below 2^22 USD the doubles are closer together than 1e-9, so when n / 1e9 gives back
    // the same double, the shortest decimal of `amount` is exactly n nano-USD (no other integer maps there).
    if (amount < FAST_LIMIT_USD) {
      const n = Math.round(amount * NANO_PER_USD)
      if (n / NANO_PER_USD === amount) return n
    }
    text = String(amount)
  } else if (typeof amount === 'string') {
    text = amount.trim()
  } else {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be a number of USD, got ${amount === null ? 'null' : typeof amount}`,
    )
  }
  const nano = decimalTextToNano(text)
  if (nano === undefined) {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be a non-negative decimal number of USD, got ${JSON.stringify(text.slice(0, 40))}`,
    )
  }
  if (nano > BigInt(MAX_NANO)) {
    throw new InvalidInputError(
      field,
      `\`${field}\` is ${text} USD, above the largest amount a store can hold exactly (${formatNano(MAX_NANO)} USD per counter and window); use a smaller limit or a shorter window`,
    )
  }
  return Number(nano)
}

/** Integer nano-USD to a USD number (the closest double to the exact value). */
export function nanoToUsd(nano: number | bigint): number {
  if (typeof nano === 'bigint') return Number(formatNano(nano))
  return nano / NANO_PER_USD
}

/** The last amount {@link formatNano} wrote from a number, and its text (calls often cost the same). */
let lastNano = Number.NaN
let lastText = ''

/** Integer nano-USD to an exact decimal string with nine decimals: `5000000000` -> `"5.000000000"`. */
export function formatNano(nano: number | bigint): string {
  if (nano === lastNano) return lastText
  if (typeof nano === 'number' && Number.isSafeInteger(nano) && nano >= 0) {
    const whole = Math.floor(nano / NANO_PER_USD)
    const fraction = nano - whole * NANO_PER_USD
    // One flat string (a template makes a tree of pieces, kept as long as the spend record that holds it).
    const text = [whole, '.', fraction < 100_000_000 ? String(fraction).padStart(9, '0') : fraction].join('')
    lastNano = nano
    lastText = text
    return text
  }
  let value = typeof nano === 'bigint' ? nano : BigInt(nano)
  const negative = value < 0n
  if (negative) value = -value
  const whole = value / 1_000_000_000n
  const fraction = (value % 1_000_000_000n).toString().padStart(9, '0')
  return `${negative ? '-' : ''}${whole.toString()}.${fraction}`
}

/**
 * `ceil(nano * fraction)` exactly, for thresholds given as fractions of a limit (`0.8` of `$5` = 4e9 nano).
 */
export function fractionOfNano(nano: number, fraction: number): number {
  const text = String(fraction)
  const match = DECIMAL.exec(text)
  if (match === null) throw new InvalidInputError('fraction', `not a non-negative decimal: ${text}`)
  const fractionDigits = match[2] ?? ''
  const exponent = match[3] === undefined ? 0 : Number(match[3])
  const digits = BigInt(match[1]! + fractionDigits)
  const shift = exponent - fractionDigits.length
  const product = BigInt(nano) * digits
  if (shift >= 0) return Number(product * 10n ** BigInt(shift))
  const divisor = 10n ** BigInt(-shift)
  const quotient = product / divisor
  return Number(product % divisor === 0n ? quotient : quotient + 1n)
}

/**
 * A USD amount given by a caller (a cost, an estimate, an increase): a number, converted with {@link usdToNano}.
 * Anything else, a numeric string included, is an `InvalidInputError`, the same on every path.
 */
export function usdInputToNano(amount: unknown, field: string): number {
  if (typeof amount !== 'number') {
    throw new InvalidInputError(
      field,
      `\`${field}\` must be a number of USD, got ${amount === null ? 'null' : typeof amount === 'string' ? `the string ${JSON.stringify(amount.slice(0, 40))}` : typeof amount}`,
    )
  }
  return usdToNano(amount, field)
}
