// The tenant views' remembered prefixed keys: the same text as joining prefix and key, and bounded together
// across every view of one handler whatever keys the tenants send.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import {
  MAX_PREFIXED_KEYS,
  MAX_REMEMBERED_KEY_LENGTH,
  PrefixedKeys,
  tenantStore,
  type PrefixedKeyBudget,
} from '../../src/stores/tenant.js'

const T0 = 1_800_000_000_000

describe('PrefixedKeys', () => {
  it('answers prefix + key, remembered or not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a/', 'bb/'), fc.string({ maxLength: 20 })), { maxLength: 200 }),
        (calls) => {
          const budget: PrefixedKeyBudget = { size: 0 }
          const views = { 'a/': new PrefixedKeys(budget), 'bb/': new PrefixedKeys(budget) }
          for (const [prefix, key] of calls) expect(views[prefix as 'a/' | 'bb/'].get(prefix, key)).toBe(prefix + key)
        },
      ),
    )
  })

  it('keeps at most MAX_PREFIXED_KEYS for all views together, and a cleared view gives its share back', () => {
    const budget: PrefixedKeyBudget = { size: 0 }
    const views = Array.from({ length: 5 }, () => new PrefixedKeys(budget))
    for (let i = 0; i < MAX_PREFIXED_KEYS * 2; i++) {
      const view = views[i % views.length]!
      expect(view.get('t/', `key-${i}`)).toBe(`t/key-${i}`)
      expect(budget.size).toBeLessThanOrEqual(MAX_PREFIXED_KEYS)
    }
    expect(budget.size).toBeGreaterThan(0)
    for (const view of views) view.clear()
    expect(budget.size).toBe(0)
    // A key longer than MAX_REMEMBERED_KEY_LENGTH is joined, not remembered.
    const long = 'k'.repeat(MAX_REMEMBERED_KEY_LENGTH + 1)
    expect(views[0]!.get('t/', long)).toBe(`t/${long}`)
    expect(budget.size).toBe(0)
  })

  it('gives a tenant view with remembered keys the same balances as one without', async () => {
    const shared = memoryStore()
    const time = <T>(_operation: string, run: () => Promise<T>): Promise<T> => run()
    const remembered = tenantStore(shared, 'acme', time, new PrefixedKeys({ size: 0 }))
    const plain = tenantStore(shared, 'acme', time)
    const keys = ['user:u1|usd', 'team:t1|usd']
    for (const [i, view] of [remembered, plain, remembered].entries()) {
      const callId = `c${i}`
      const entries = keys.map((key) => ({ key, amount: 10, limit: null, expiresAt: null }))
      expect((await view.reserve({ callId, now: T0, holdExpiresAt: T0 + 60_000, entries })).ok).toBe(true)
      await view.commit({
        callId,
        now: T0,
        entries: keys.map((key) => ({ key, amount: 7, expiresAt: null })),
        dedupeUntil: T0 + 1,
      })
    }
    expect(await plain.balances({ keys, now: T0 })).toEqual(await remembered.balances({ keys, now: T0 }))
    expect((await shared.balances({ keys: keys.map((key) => `acme/${key}`), now: T0 })).map((b) => b.spent)).toEqual([
      21, 21,
    ])
  })
})
