// The ledger keys of a call: every key of a scope starts with the scope's key prefix, whether the prefix was kept by
// the compiled budget (a per-model, rate, parallel or burst limit needed it) or built only for the period's key.
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { scopePrefix } from '../../src/stores/ledger/keys.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore, ReserveRequest } from '../../src/stores/types.js'
import { fakeClock } from '../../src/testing/index.js'

const IDS = ['alice', 'a|b c', 'x:y', 'é#%', `long|${'z'.repeat(200)}`]

describe('ledger keys of a scope', () => {
  it.each([
    ['a period only', { maxBudget: 10, duration: 'monthly' }],
    ['no window', { maxBudget: 10 }],
    ['a per-model limit', { maxBudget: 10, duration: 'daily', modelMaxBudget: { 'gpt-4o': { maxBudget: 5 } } }],
    ['rate and parallel limits', { maxBudget: 10, duration: 'weekly', rpmLimit: 100, maxParallelRequests: 3 }],
    ['a burst limit', { maxBudget: 10, duration: 'monthly', burst: { maxBudget: 2, duration: '1m' } }],
  ] as const)('with %s, every key starts with the prefix of its scope', async (_name, definition) => {
    const inner = memoryStore()
    const reserved: ReserveRequest[] = []
    const store: BudgetStore = {
      ...inner,
      reserve: (request) => {
        reserved.push(request)
        return inner.reserve(request)
      },
    }
    const manager = new BudgetManager({ store, clock: fakeClock(Date.UTC(2026, 10, 5)) })
    for (const id of IDS) {
      await manager.setBudget({ type: 'user', id }, definition)
      await manager.setBudget({ type: 'team', id }, definition)
    }
    for (const id of IDS) {
      for (let i = 0; i < 2; i++) {
        await (await manager.reserve({ user: id, team: id, model: 'gpt-4o' }, 0.01)).commit(0.01)
      }
    }
    expect(reserved).toHaveLength(IDS.length * 2)
    for (const [n, request] of reserved.entries()) {
      const id = IDS[Math.floor(n / 2)]!
      const user = `${scopePrefix({ type: 'user', id })}|`
      const team = `${scopePrefix({ type: 'team', id })}|`
      const keys = request.entries.map((e) => e.key)
      expect(keys.filter((k) => k.startsWith(user) && k.endsWith('|usd')).length).toBeGreaterThan(0)
      expect(keys.filter((k) => k.startsWith(team) && k.endsWith('|usd')).length).toBeGreaterThan(0)
      for (const key of keys) expect(key.startsWith(user) || key.startsWith(team) || !key.includes(id)).toBe(true)
    }
    // The same keys as a manager with nothing cached: the first call of each scope, repeated.
    const again = new BudgetManager({ store, clock: fakeClock(Date.UTC(2026, 10, 5)) })
    const before = reserved.length
    await (await again.reserve({ user: IDS[1]!, team: IDS[1]!, model: 'gpt-4o' }, 0.01)).commit(0.01)
    expect(reserved[before]!.entries.map((e) => e.key)).toEqual(reserved[2]!.entries.map((e) => e.key))
  })
})
