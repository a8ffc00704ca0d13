/**
 * Budgets declared in another currency. The ledger stays in exact USD; a budget's limit in its own currency is
 * converted with an exchange rate (USD per one unit, e.g. `EUR: 1.08`) that is fixed when the budget's window opens
 * and kept for that window, so a later rate change never breaches or loosens a window retroactively.
 */
import { z } from 'zod'
import { BudgetConfigError, InvalidInputError, isBudgetError } from '../errors.js'
import { describeValue, truncate } from '../internal/describe.js'
import { MAX_NANO } from './money.js'

/** USD per one unit of a currency, as a table, or a function asked when a window opens (sync or async). */
export type ExchangeRates =
  Readonly<Record<string, number>> | ((currency: string, at: Date) => number | Promise<number>)

/** A rate in force: USD per unit, and when it was taken (epoch ms). */
export interface PinnedRate {
  rate: number
  at: number
}

let known: Set<string> | undefined
function knownCurrencies(): Set<string> {
  known ??= new Set(typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('currency') : [])
  return known
}

/**
 * The ISO 4217 code, upper-cased, or a `BudgetConfigError`. Codes come from the runtime's `Intl` data; a runtime
 * without `Intl.supportedValuesOf` accepts any three letters.
 */
export function parseCurrency(value: unknown, field = 'currency'): string {
  if (typeof value !== 'string' || !/^[A-Za-z]{3}$/.test(value)) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` must be an ISO 4217 code such as 'USD' or 'EUR', got ${describeValue(value)}`,
    )
  }
  const code = value.toUpperCase()
  const codes = knownCurrencies()
  if (codes.size > 0 && !codes.has(code)) {
    throw new BudgetConfigError(
      field,
      `\`${field}\` ${describeValue(value)} is not an ISO 4217 currency code known to this runtime`,
    )
  }
  return code
}

const rateTable = z.record(z.string(), z.number().finite().positive().max(1e6))

/** Validates the manager's `exchangeRates` option: each code known, each rate a positive finite number. */
export function parseExchangeRates(value: unknown): ExchangeRates | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'function') return value as ExchangeRates
  const parsed = rateTable.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const at = issue.path.map(String).join('.')
    throw new BudgetConfigError(
      `exchangeRates${at ? `.${at}` : ''}`,
      `\`exchangeRates${at ? `.${at}` : ''}\` must be USD per one unit, a positive finite number (e.g. { EUR: 1.08 }): ${issue.message}`,
    )
  }
  const table: Record<string, number> = {}
  for (const [code, rate] of Object.entries(parsed.data)) table[parseCurrency(code, `exchangeRates.${code}`)] = rate
  return table
}

/**
 * The rate in force for `currency` at `at`: 1 for USD, else from the table or the function, validated.
 *
 * @throws BudgetConfigError when there is no rate, the rate is not a positive finite number, or the function fails.
 */
export async function rateAt(rates: ExchangeRates | undefined, currency: string, at: number): Promise<PinnedRate> {
  if (currency === 'USD') return { rate: 1, at }
  if (rates === undefined) {
    throw new BudgetConfigError(
      'exchangeRates',
      `a budget in ${currency} needs the manager's \`exchangeRates\` option (USD per one ${currency}, e.g. { ${currency}: 1.08 })`,
    )
  }
  let rate: unknown
  if (typeof rates === 'function') {
    try {
      rate = await rates(currency, new Date(at))
    } catch (error) {
      if (isBudgetError(error)) throw error
      throw new BudgetConfigError(
        'exchangeRates',
        `the \`exchangeRates\` function failed for ${currency}: ${truncate(error instanceof Error ? error.message : String(error))}`,
        { cause: error },
      )
    }
  } else rate = rates[currency]
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0 || rate > 1e6) {
    throw new BudgetConfigError(
      'exchangeRates',
      `the exchange rate for ${currency} must be a positive finite number of USD per unit, got ${describeValue(rate)}`,
    )
  }
  return { rate, at }
}

const DECIMAL = /^(\d+)(?:\.(\d*))?(?:e([-+]?\d+))?$/i

/** A non-negative number as an exact fraction `digits / 10^scale` of its shortest decimal text. */
function exact(value: number, field: string): { digits: bigint; scale: number } {
  const match = DECIMAL.exec(String(value))
  if (!Number.isFinite(value) || value < 0 || match === null)
    throw new InvalidInputError(field, `\`${field}\` must be a finite number >= 0, got ${describeValue(value)}`)
  const fraction = match[2] ?? ''
  const exponent = match[3] === undefined ? 0 : Number(match[3])
  let digits = BigInt(match[1]! + fraction)
  let scale = fraction.length - exponent
  if (scale < 0) {
    digits *= 10n ** BigInt(-scale)
    scale = 0
  }
  return { digits, scale }
}

/**
 * A limit in another currency as integer nano-USD, exactly: `amount * rate * 1e9`, rounded down (a converted
 * limit never allows more than was declared).
 *
 * @throws InvalidInputError when the result passes what a store holds exactly (2^53 - 1 nano-USD).
 */
export function limitToNano(amount: number, rate: number): number {
  const a = exact(amount, 'maxBudget')
  const r = exact(rate, 'rate')
  const product = a.digits * r.digits * 1_000_000_000n
  const nano = product / 10n ** BigInt(a.scale + r.scale)
  if (nano > BigInt(MAX_NANO)) {
    throw new InvalidInputError(
      'maxBudget',
      `${amount} at ${rate} USD per unit is above the largest amount a store can hold exactly; use a smaller limit or a shorter window`,
    )
  }
  return Number(nano)
}

/** Integer nano-USD in units of a currency at `rate` USD per unit (a number, for status and messages). */
export function nanoToCurrency(nano: number, rate: number): number {
  return nano / 1_000_000_000 / rate
}

/** Money formatted for people in its currency, e.g. `€92.59` or `$5.00` (`Intl.NumberFormat`). */
export { formatMoney } from '../internal/format-money.js'
