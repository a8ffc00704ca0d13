// parseDecimal: the plain form (digits, one optional point) is read without the regular expression (ADR 0003,
// fourth amendment); its results must be those of the expression path, which every exponent form takes.
import Decimal from 'decimal.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { parseDecimal } from '../../src/cost/decimal.js'

const D = Decimal.clone({ precision: 200 })

const digits = (min: number, max: number) =>
  fc.array(fc.constantFrom(...'0123456789'), { minLength: min, maxLength: max }).map((d) => d.join(''))

describe('parseDecimal', () => {
  it('reads plain decimals exactly, the same as the exponent path (`e0`)', () => {
    fc.assert(
      fc.property(digits(1, 30), fc.option(digits(1, 30), { nil: undefined }), (whole, fraction) => {
        const text = fraction === undefined ? whole : `${whole}.${fraction}`
        const plain = parseDecimal(text)
        expect(plain).toEqual(parseDecimal(`${text}e0`))
        expect(new D(plain!.int.toString()).div(new D(10).pow(plain!.scale)).equals(text)).toBe(true)
      }),
      { numRuns: 2000 },
    )
  })

  it('refuses what the expression refuses, and still reads exponents and surrounding spaces', () => {
    for (const bad of ['', '.', '.5', '5.', '1.2.3', '-1', '+1', '1e', 'e5', '1,5', '0x10', 'NaN', '1_000', '٣'])
      expect(parseDecimal(bad), JSON.stringify(bad)).toBeUndefined()
    expect(parseDecimal('0.0000025')).toEqual({ int: 25n, scale: 7 })
    expect(parseDecimal('120')).toEqual({ int: 120n, scale: 0 })
    expect(parseDecimal('1.500')).toEqual({ int: 15n, scale: 1 })
    expect(parseDecimal(' 1.50 ')).toEqual({ int: 15n, scale: 1 })
    expect(parseDecimal('2.5e-6')).toEqual({ int: 25n, scale: 7 })
    expect(parseDecimal('3E2')).toEqual({ int: 300n, scale: 0 })
  })
})
