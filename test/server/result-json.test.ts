// resultJson writes the hot answers (reserve, commit) directly; whatever it is given, its text must be exactly
// JSON.stringify's. Fuzzed result shapes (holey arrays, -0, huge and fractional numbers, NaN, extra or unknown
// keys, other prototypes) and any JSON value, plus a toJSON put on the prototypes.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { resultJson } from '../../src/server/result-json.js'

const number = fc.oneof(
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.double(),
  fc.constantFrom(-0, 0, 1e21, 1.5e-7, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31, 2 ** 53 - 1),
)
const scalar = fc.oneof(number, fc.boolean(), fc.constant(null), fc.constant(undefined), fc.string())
const key = fc.constantFrom('ok', 'duplicate', 'refusedIndex', 'balances', 'spent', 'reserved', 'before', 'after')
const flat = fc.dictionary(fc.oneof(key, fc.string()), scalar, { maxKeys: 4 })
/** An array as a store builds it: sometimes holey (`new Array(n)` then filled), sometimes with a hole left. */
const balances = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.record({ before: number, after: number, reserved: number }),
        fc.record({ spent: number, reserved: number }),
        flat,
        scalar,
      ),
      { maxLength: 4 },
    ),
    fc.boolean(),
    fc.boolean(),
  )
  .map(([items, holey, hole]) => {
    if (!holey) return items
    const out = new Array(items.length + (hole ? 1 : 0))
    items.forEach((item, i) => (out[i] = item))
    return out
  })
const result = fc.oneof(
  fc.record({ duplicate: fc.boolean(), balances }),
  fc.record({ ok: fc.boolean(), duplicate: fc.boolean(), balances }),
  fc.record({ ok: fc.constant(false), refusedIndex: number, balances }),
  fc.record({ released: fc.boolean() }),
  fc.dictionary(fc.oneof(key, fc.string()), fc.oneof(scalar, balances), { maxKeys: 4 }),
)

describe('resultJson', () => {
  it('writes exactly what JSON.stringify writes, for result shapes and any JSON value', () => {
    fc.assert(
      fc.property(fc.oneof(result, fc.jsonValue()), (value) => {
        expect(resultJson(value)).toBe(JSON.stringify(value))
      }),
      { numRuns: 5_000 },
    )
  })

  it('writes the usual answers directly, and leaves other prototypes and toJSON to JSON.stringify', () => {
    const commit = { duplicate: false, balances: [{ before: 1, after: 2 ** 40 + 0.5, reserved: 0 }] }
    expect(resultJson(commit)).toBe(
      '{"duplicate":false,"balances":[{"before":1,"after":1099511627776.5,"reserved":0}]}',
    )
    class Balance {
      constructor(readonly spent: number) {}
      toJSON() {
        return { spentNanoUsd: this.spent }
      }
    }
    const odd = { ok: true, balances: [new Balance(3)] }
    expect(resultJson(odd)).toBe(JSON.stringify(odd))
    expect(resultJson(Object.assign(Object.create(null), { ok: true }))).toBe('{"ok":true}')
    const proto = Object.prototype as { toJSON?: () => unknown }
    proto.toJSON = () => 'replaced'
    try {
      expect(resultJson(commit)).toBe(JSON.stringify(commit))
      expect(resultJson(commit)).toBe('"replaced"')
    } finally {
      delete proto.toJSON
    }
    expect(resultJson(commit)).toContain('"duplicate":false')
  })
})
