import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { BudgetConfigError } from '../../src/errors.js'
import { parseOptions } from '../../src/internal/options.js'
import { closest, editDistance } from '../../src/internal/suggest.js'
import { describeValue } from '../../src/internal/describe.js'

const schema = z.object({ store: z.string().optional(), maxRecords: z.number().int().min(0).optional() })

describe('parseOptions', () => {
  it('returns the parsed options, and {} for undefined', () => {
    expect(parseOptions('thing()', schema, { store: 'x', maxRecords: 3 })).toEqual({ store: 'x', maxRecords: 3 })
    expect(parseOptions('thing()', schema, undefined)).toEqual({})
  })

  it('refuses an unknown key and suggests the closest known one', () => {
    const error = (() => {
      try {
        parseOptions('thing()', schema, { stroe: 'x' })
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(BudgetConfigError)
    expect((error as BudgetConfigError).field).toBe('stroe')
    expect((error as Error).message).toBe('thing() has no option `"stroe"`. Did you mean `store`?')
    expect(() => parseOptions('thing()', schema, { maxRecord: 5 })).toThrow('Did you mean `maxRecords`?')
    expect(() => parseOptions('thing()', schema, { zzzzzz: 1 })).toThrow('Known options: `store`, `maxRecords`.')
  })

  it('names the option and the value it got for an invalid value', () => {
    expect(() => parseOptions('thing()', schema, { maxRecords: -1 })).toThrow(/thing\(\): `maxRecords` .*, got -1$/)
    expect(() => parseOptions('thing()', schema, 'nope')).toThrow('thing() takes an options object, got "nope"')
    expect(() => parseOptions('thing()', schema, [])).toThrow(BudgetConfigError)
  })
})

describe('suggest and describe', () => {
  it('computes edit distances and offers only plausible suggestions', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3)
    expect(editDistance('', 'abc')).toBe(3)
    expect(closest('STROE', ['store', 'clock'])).toBe('store')
    expect(closest('completely-different', ['store', 'clock'])).toBeUndefined()
  })

  it('bounds what a message quotes', () => {
    const quoted = describeValue('x'.repeat(10_000_000))
    expect(quoted.length).toBeLessThan(300)
    expect(quoted).toContain('9999800 more characters')
  })
})
