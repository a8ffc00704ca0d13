// Totals stay exact after spend records are evicted: getCurrentCost, getModelCost and querySpend agree through the
// store's daily rollups, and a query the rollups cannot answer says it is partial.
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'

const DAY = 86_400_000
const T0 = Date.UTC(2026, 10, 29, 9)

function setup() {
  const clock = fakeClock(T0)
  const store = memoryStore({ maxRecords: 10 })
  return { clock, store, manager: new BudgetManager({ store, clock }) }
}

describe('spend past record retention', () => {
  it('25 calls with maxRecords 10: getCurrentCost, getModelCost and querySpend all say 25 calls', async () => {
    const { manager, clock, store } = setup()
    await manager.createBudget({ user: 'alice', totalBudget: 100, duration: 'daily' })
    for (let i = 0; i < 25; i++) {
      await manager.updateCost({ user: 'alice', cost: 0.01, model: i % 5 === 0 ? 'gpt-4o-mini' : 'gpt-4o' })
      clock.advance(1000)
    }
    expect((await store.queryRecords({})).length).toBeLessThanOrEqual(10)
    expect(await manager.getCurrentCost('alice')).toBe(0.25)
    expect(await manager.getModelCost('alice')).toEqual({ 'gpt-4o': 0.2, 'gpt-4o-mini': 0.05 })
    const report = await manager.querySpend({ scope: 'user:alice', groupBy: ['model'] })
    expect([report.exact.cost, report.calls, report.partial]).toEqual(['0.250000000', 25, false])
    expect(report.groups.map((g) => [g.key.model, g.calls, g.exact.cost])).toEqual([
      ['gpt-4o', 20, '0.200000000'],
      ['gpt-4o-mini', 5, '0.050000000'],
    ])
    const byDay = await manager.querySpend({ groupBy: ['day'] })
    expect(byDay.groups.map((g) => [g.key.day, g.calls])).toEqual([['2026-11-29', 25]])
    expect((await manager.querySpend({ model: 'gpt-4o-mini', from: Date.UTC(2026, 10, 29) })).calls).toBe(5)
  })

  it('combines rollups of earlier days with the records of later ones, and says partial when it cannot', async () => {
    const { manager, clock } = setup()
    for (let i = 0; i < 12; i++) await manager.record({ user: 'bob', tags: ['batch'] }, { cost: 0.5, model: 'gpt-4o' })
    clock.advance(DAY)
    for (let i = 0; i < 3; i++) await manager.record({ user: 'bob' }, { cost: 1, model: 'gpt-4o' })
    const all = await manager.querySpend({ scope: 'user:bob', groupBy: ['day'] })
    expect([all.exact.cost, all.calls, all.partial]).toEqual(['9.000000000', 15, false])
    expect(all.groups.map((g) => [g.key.day, g.calls, g.exact.cost])).toEqual([
      ['2026-11-29', 12, '6.000000000'],
      ['2026-11-30', 3, '3.000000000'],
    ])
    expect((await manager.querySpend({ tags: ['batch'] })).calls).toBe(12)
    // Grouped by user, or from the middle of an evicted day: rollups cannot answer, the records left are a lower bound.
    const byUser = await manager.querySpend({ groupBy: ['user'] })
    expect([byUser.partial, byUser.calls <= 10]).toEqual([true, true])
    const midDay = await manager.querySpend({ from: T0 - 1 })
    expect(midDay.partial).toBe(true)
    // From where records are complete, the records answer alone.
    const recent = await manager.querySpend({ from: Date.UTC(2026, 10, 30) })
    expect([recent.calls, recent.partial]).toEqual([3, false])
  })
})
