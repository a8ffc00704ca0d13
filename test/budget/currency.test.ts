// Currency conversion helpers: codes, rate tables and functions, exact limit conversion, formatting.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import Decimal from 'decimal.js'
import { BudgetConfigError, InvalidInputError } from '../../src/errors.js'
import {
  formatMoney,
  limitToNano,
  nanoToCurrency,
  parseCurrency,
  parseExchangeRates,
  rateAt,
} from '../../src/budget/currency.js'

const Exact = Decimal.clone({ precision: 200 })

describe('currency', () => {
  it('accepts ISO 4217 codes and refuses others with the field named', () => {
    expect(parseCurrency('eur')).toBe('EUR')
    expect(parseCurrency('JPY')).toBe('JPY')
    expect(() => parseCurrency('EURO')).toThrow(BudgetConfigError)
    expect(() => parseCurrency('XYZ')).toThrow(/not an ISO 4217 currency code/)
    expect(() => parseCurrency(5)).toThrow(/got 5/)
  })

  it('validates rate tables; USD is always 1; a missing or bad rate is a config error', async () => {
    const rates = parseExchangeRates({ eur: 1.08, GBP: 1.27 })!
    expect(rates).toEqual({ EUR: 1.08, GBP: 1.27 })
    expect(() => parseExchangeRates({ EUR: 0 })).toThrow(/exchangeRates\.EUR/)
    expect(() => parseExchangeRates({ EUR: -1 })).toThrow(BudgetConfigError)
    expect(() => parseExchangeRates({ NOPE: 1 })).toThrow(BudgetConfigError)
    expect(await rateAt(rates, 'USD', 5)).toEqual({ rate: 1, at: 5 })
    expect(await rateAt(rates, 'EUR', 5)).toEqual({ rate: 1.08, at: 5 })
    await expect(rateAt(rates, 'CHF', 5)).rejects.toThrow(/exchange rate for CHF/)
    await expect(rateAt(undefined, 'EUR', 5)).rejects.toThrow(/needs the manager's `exchangeRates`/)
    const asked: [string, number][] = []
    const fn = async (code: string, at: Date) => (asked.push([code, at.getTime()]), 0.0067)
    expect(await rateAt(fn, 'JPY', 1_000)).toEqual({ rate: 0.0067, at: 1_000 })
    expect(asked).toEqual([['JPY', 1_000]])
    await expect(rateAt(async () => Number.NaN, 'JPY', 1)).rejects.toBeInstanceOf(BudgetConfigError)
  })

  it('converts limits exactly, rounding down to whole nano-USD', () => {
    expect(limitToNano(100, 1.08)).toBe(108_000_000_000) // 100 EUR * 1.08 = 108 USD
    expect(limitToNano(0.1, 0.3)).toBe(30_000_000) // 0.03 USD exactly, where 0.1 * 0.3 in doubles is 0.030000000000000002
    expect(limitToNano(1, 0.0000000015)).toBe(1) // 1.5 nano-USD rounds down to 1
    expect(() => limitToNano(9e6, 2)).toThrow(InvalidInputError)
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 5e4, noNaN: true }),
        fc.double({ min: 1e-4, max: 100, noNaN: true }),
        (amount, rate) => {
          const expected = new Exact(String(amount)).times(String(rate)).times(1e9).floor().toNumber()
          return limitToNano(amount, rate) === expected
        },
      ),
      { numRuns: 2_000 },
    )
  })

  it('reads nano-USD back in the currency and formats money with Intl', () => {
    expect(nanoToCurrency(108_000_000_000, 1.08)).toBeCloseTo(100, 12)
    expect(formatMoney(92.5926, 'EUR')).toBe('€92.59')
    expect(formatMoney(5, 'USD')).toBe('$5.00')
    expect(formatMoney(1500, 'JPY')).toBe('¥1,500')
  })
})
