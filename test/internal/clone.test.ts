import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { cloneJson } from '../../src/internal/clone.js'

describe('cloneJson', () => {
  it('makes an equal, independent copy of any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = cloneJson(value)
        expect(copy).toEqual(value)
        if (typeof value === 'object' && value !== null) expect(copy).not.toBe(value)
      }),
    )
  })

  it('keeps __proto__ as an own data key and never touches prototypes', () => {
    const input = JSON.parse('{"__proto__": {"polluted": true}, "a": [1, {"b": "c"}]}') as Record<string, unknown>
    const copy = cloneJson(input)
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype)
    expect(Object.keys(copy)).toEqual(['__proto__', 'a'])
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
    ;((copy.a as unknown[])[1] as Record<string, string>).b = 'changed'
    expect(((input.a as unknown[])[1] as Record<string, string>).b).toBe('c')
  })
})
