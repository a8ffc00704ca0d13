/**
 * Tiny exact decimal helpers on scaled integers (BigInt), enough for prices and costs.
 * Internal: not part of the public API.
 *
 * @internal
 * @packageDocumentation
 */

/** A decimal as an integer and a count of decimal places: value = int / 10^scale. */
export interface ScaledDecimal {
  int: bigint
  scale: number
}

const DECIMAL_RE = /^([0-9]+)(?:\.([0-9]+))?(?:[eE]([-+]?[0-9]+))?$/

/** Parses a non-negative decimal string (plain or with exponent) exactly. Returns undefined if malformed. */
export function parseDecimal(text: string): ScaledDecimal | undefined {
  return plainDecimal(text) ?? parseWithExponent(text)
}

/**
 * The common form (`0.0000025`, `12`: digits, at most one point with digits on both sides) without the regular
 * expression: compiling one costs more than the whole first cost's arithmetic. Anything else is left to
 * {@link parseWithExponent}, which accepts every string this accepts, with the same value.
 */
function plainDecimal(text: string): ScaledDecimal | undefined {
  const n = text.length
  let dot = -1
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i)
    if (c === 46 && dot < 0) dot = i
    else if (c < 48 || c > 57) return undefined
  }
  if (n === 0 || dot === 0 || dot === n - 1) return undefined
  if (dot < 0) return trim({ int: BigInt(text), scale: 0 })
  return trim({ int: BigInt(text.slice(0, dot) + text.slice(dot + 1)), scale: n - dot - 1 })
}

function parseWithExponent(text: string): ScaledDecimal | undefined {
  const match = DECIMAL_RE.exec(text.trim())
  if (!match) return undefined
  const whole = match[1]!
  const fraction = match[2] ?? ''
  const exponent = match[3] === undefined ? 0 : Number(match[3])
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 400) return undefined
  let int = BigInt(whole + fraction)
  let scale = fraction.length - exponent
  if (scale < 0) {
    int *= 10n ** BigInt(-scale)
    scale = 0
  }
  return trim({ int, scale })
}

/** Removes trailing zeros from the scaled form. */
export function trim(value: ScaledDecimal): ScaledDecimal {
  let { int, scale } = value
  if (int === 0n) return { int: 0n, scale: 0 }
  while (scale > 0 && int % 10n === 0n) {
    int /= 10n
    scale--
  }
  return { int, scale }
}

/** Converts a finite non-negative JS number to its shortest exact decimal (the digits `String(n)` shows). */
export function decimalFromNumber(value: number): ScaledDecimal | undefined {
  if (!Number.isFinite(value) || value < 0) return undefined
  return parseDecimal(String(value))
}

/** Rescales to a larger scale (exact). */
export function rescale(value: ScaledDecimal, scale: number): bigint {
  if (scale < value.scale) throw new RangeError('rescale would lose digits')
  return value.int * 10n ** BigInt(scale - value.scale)
}

/** Formats `int / 10^scale` as a plain decimal string without trailing zeros (`"0.0001275"`, `"0"`). */
export function formatScaled(int: bigint | number, scale: number): string {
  if (int === 0 || int === 0n) return '0'
  let digits = typeof int === 'bigint' ? int.toString() : integerString(int)
  let negative = false
  if (digits.startsWith('-')) {
    negative = true
    digits = digits.slice(1)
  }
  if (scale > 0) {
    if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits
    const point = digits.length - scale
    let fraction = digits.slice(point)
    let end = fraction.length
    while (end > 0 && fraction.charCodeAt(end - 1) === 48) end--
    fraction = fraction.slice(0, end)
    digits = fraction.length > 0 ? `${digits.slice(0, point)}.${fraction}` : digits.slice(0, point)
  }
  return negative ? `-${digits}` : digits
}

function integerString(n: number): string {
  // Safe integers print without exponent below 1e21.
  return Number.isSafeInteger(n) ? String(n) : BigInt(n).toString()
}
