import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { formatNano, fractionOfNano, nanoToUsd, usdToNano } from '../../src/budget/money.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'
import fc from 'fast-check'

describe('exact money', () => {
  it('converts USD numbers to nano-USD exactly, rounding fractions of a nano up', () => {
    expect(usdToNano(0.000001)).toBe(1000)
    expect(usdToNano(0.01)).toBe(10_000_000)
    expect(usdToNano(0.1 + 0.2)).toBe(300_000_001) // 0.30000000000000004 is above 0.3: rounded up
    expect(usdToNano(1e-10)).toBe(1)
    expect(usdToNano(1.23e-7)).toBe(123)
    expect(usdToNano('0.0000000001')).toBe(1)
    expect(usdToNano('9007199.254740991')).toBe(Number.MAX_SAFE_INTEGER)
    expect(() => usdToNano('9007199.254740992')).toThrow(/largest amount/)
    expect(() => usdToNano(-1)).toThrow(/>= 0/)
    expect(() => usdToNano(Number.NaN)).toThrow(/finite/)
    expect(() => usdToNano(Number.POSITIVE_INFINITY)).toThrow(/finite/)
    expect(formatNano(5_000_000_000)).toBe('5.000000000')
    expect(formatNano(1)).toBe('0.000000001')
    expect(nanoToUsd(1_000_000_000)).toBe(1)
    expect(fractionOfNano(5_000_000_000, 0.8)).toBe(4_000_000_000)
    expect(fractionOfNano(3, 0.5)).toBe(2)
  })

  it('property: cents round-trip exactly and sums of nano equal the nano of decimal sums', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 10_000_000 }), { maxLength: 50 }), (cents) => {
        let nano = 0
        for (const c of cents) nano += usdToNano(c / 100)
        const total = cents.reduce((a, b) => a + b, 0)
        expect(nano).toBe(total * 10_000_000)
      }),
    )
  })

  it('1,000,000 charges of $0.000001 read back as exactly 1 and "1.000000000"', async () => {
    const clock = fakeClock(Date.UTC(2026, 10, 1))
    const manager = new BudgetManager({ store: memoryStore({ maxRecords: 1000 }), clock, dedupeTtlMs: 60_000 })
    await manager.setBudget('user:micro', { maxBudget: 2, duration: 'monthly' })
    await manager.setBudget('team:micro', { maxBudget: 2 })
    const context = { user: 'micro', team: 'micro' }
    for (let batch = 0; batch < 1000; batch++) {
      const pending: Promise<unknown>[] = new Array(1000)
      for (let i = 0; i < 1000; i++) pending[i] = manager.record(context, 0.000001)
      await Promise.all(pending)
      clock.advance(100)
    }
    const user = await manager.getStatus('user:micro')
    expect(user.spend).toBe(1)
    expect(user.exact.spend).toBe('1.000000000')
    const team = await manager.getStatus('team:micro')
    expect(team.exact.spend).toBe('1.000000000')
    expect(await manager.getCurrentCost('micro')).toBe(1)
  }, 240_000)
})

describe('usdToNano fast path', () => {
  it('property: agrees with exact decimal arithmetic on the shortest decimal of any double', () => {
    const slow = (x: number): number => usdToNano(String(x))
    fc.assert(
      fc.property(fc.double({ min: 0, max: 9_000_000, noNaN: true, noDefaultInfinity: true }), (x) => {
        expect(usdToNano(x)).toBe(slow(x))
      }),
      { numRuns: 20_000 },
    )
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4_000_000_000_000 }), (n) => {
        expect(usdToNano(n / 1e9)).toBe(n)
        expect(formatNano(n)).toBe(`${Math.floor(n / 1e9)}.${String(n % 1e9).padStart(9, '0')}`)
      }),
      { numRuns: 20_000 },
    )
  })
})
