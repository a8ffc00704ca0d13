// The `providerBudgets` constructor option: validated by the constructor, applied once before the first use, and
// idempotent across instances sharing a store.
import { describe, expect, it } from 'vitest'
import { BudgetConfigError, BudgetExceededError, BudgetManager, memoryStore } from '../../src/index.js'
import { reserveResolved } from '../../src/budget/manager.js'
import { resolveContext } from '../../src/budget/scopes.js'
import type { BudgetStore } from '../../src/stores/types.js'

const CONFIG = {
  openai: { budget_limit: 0.01, time_period: '30d' },
  anthropic: { budget_limit: 500, time_period: '1d' },
}
const ESTIMATE = { model: 'gpt-4o', provider: 'openai', inputTokens: 1_000, maxOutputTokens: 500 } // $0.0075

describe('new BudgetManager({ providerBudgets })', () => {
  it('applies the LiteLLM config before the first reservation, which it then limits', async () => {
    const manager = new BudgetManager({ store: memoryStore(), providerBudgets: CONFIG })
    // The very first call, without awaiting anything else: the provider budget already holds.
    const first = await manager.reserve({ user: 'a', provider: 'openai' }, ESTIMATE)
    await expect(manager.reserve({ user: 'a', provider: 'openai' }, ESTIMATE)).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    await first.release()
    expect((await manager.getStatus('provider:anthropic')).limit).toBe(500)
    expect((await manager.getBudget('provider:openai'))?.definition).toMatchObject({ maxBudget: 0.01, duration: '30d' })
  })

  it('once applied, admission against the memory store is synchronous again (no promise per call)', async () => {
    const manager = new BudgetManager({ store: memoryStore(), providerBudgets: CONFIG })
    const resolved = resolveContext({ user: 'a', provider: 'anthropic' })
    // The first call waits for the option to be written; every later one is answered at once, as without the option.
    const first = reserveResolved(manager, resolved, 0.002)
    expect(first).toBeInstanceOf(Promise)
    await (await first).commit(0.001)
    const second = reserveResolved(manager, resolved, 0.002)
    expect(second).not.toBeInstanceOf(Promise)
    await (second as Awaited<typeof second>).commit(0.001)
    expect((await manager.getStatus('provider:anthropic')).exact.spend).toBe('0.002000000')
  })

  it('is idempotent across instances: a second instance leaves the stored budget (history, alerts) alone', async () => {
    const store = memoryStore()
    const a = new BudgetManager({ store, providerBudgets: CONFIG })
    await a.getStatus('provider:openai')
    await a.setBudget('provider:openai', { maxBudget: 0.01, duration: '30d', alertThresholds: [0.5] })
    const historyBefore = await a.getHistory('provider:openai')
    const b = new BudgetManager({ store, providerBudgets: CONFIG })
    await b.getStatus('provider:openai')
    expect(await b.getHistory('provider:openai')).toHaveLength(historyBefore.length)
    expect((await b.getBudget('provider:openai'))?.definition.alertThresholds).toEqual([0.5])
    // A changed config updates the limit and period, keeping the rest of the definition.
    const c = new BudgetManager({ store, providerBudgets: { openai: { budget_limit: 2, time_period: '7d' } } })
    expect((await c.getBudget('provider:openai'))?.definition).toMatchObject({
      maxBudget: 2,
      duration: '7d',
      alertThresholds: [0.5],
    })
  })

  it('a budget the application sets itself before the first call is not overwritten by the option', async () => {
    const manager = new BudgetManager({ store: memoryStore(), providerBudgets: CONFIG })
    await manager.setBudget('provider:openai', { maxBudget: 3, duration: 'daily' })
    await manager.increaseBudget('provider:anthropic', { amount: 5, until: Date.now() + 3_600_000 })
    expect((await manager.getBudget('provider:openai'))?.definition).toMatchObject({ maxBudget: 3, duration: 'daily' })
    expect((await manager.getStatus('provider:openai')).limit).toBe(3)
    expect((await manager.getStatus('provider:anthropic')).limit).toBe(505)
    await manager.deleteBudget('provider:anthropic')
    await manager.reserve({ user: 'a', provider: 'anthropic' }, { ...ESTIMATE, provider: 'anthropic' })
    expect(await manager.getBudget('provider:anthropic')).toBeNull()
  })

  it('a store failure while applying fails the call loudly, and the next call applies it', async () => {
    const inner = memoryStore()
    let down = true
    const store: BudgetStore = new Proxy(inner, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver) as unknown
        if (property === 'putBudget' && down) return () => Promise.reject(new Error('store down'))
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value
      },
    })
    const manager = new BudgetManager({ store, providerBudgets: CONFIG })
    await expect(manager.getStatus('provider:openai')).rejects.toThrow(/store down/)
    down = false
    expect((await manager.getStatus('provider:openai')).limit).toBe(0.01)
  })

  it('refuses a bad config in the constructor, naming the provider and field', () => {
    expect(
      () => new BudgetManager({ providerBudgets: { openai: { budget_limt: 1, time_period: '1d' } } as never }),
    ).toThrow(/did you mean `budget_limit`/)
    expect(
      () => new BudgetManager({ providerBudgets: { openai: { budget_limit: 1, time_period: '3 fortnights' } } }),
    ).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ providerBudgets: [] as never })).toThrow(BudgetConfigError)
  })
})
