/**
 * Spend is tracked for every scope a call names, budget or not; the LiteLLM-compatible getters read it back the
 * same way whichever path recorded it, and `resetCost` resets everything they report.
 */
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { withBudget } from '../../src/budget/with-budget.js'
import { BudgetConfigError, InvalidInputError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'

const T0 = Date.UTC(2026, 10, 15, 12)
const DAY = 86_400_000

function setup() {
  const clock = fakeClock(T0)
  const store = memoryStore()
  return { clock, store, manager: new BudgetManager({ store, clock }) }
}

/** A chat-completions-shaped function: answers with the served (dated) model and its usage. */
function chat(request: { model: string; messages: { role: string; content: string }[]; max_tokens: number }) {
  return Promise.resolve({
    model: `${request.model}-2024-08-06`,
    usage: { prompt_tokens: 1000, completion_tokens: 500 },
  })
}

describe('getCurrentCost', () => {
  it('reads back the spend of a user without a budget, as `erin` and as `user:erin`, and after a budget is created mid-window', async () => {
    const { manager, clock } = setup()
    const call = withBudget(chat, { manager, context: { user: 'erin' } })
    await call({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 600 })
    const spent = (await manager.querySpend({ scope: 'user:erin' })).cost
    expect(spent).toBeGreaterThan(0)
    expect(await manager.getCurrentCost('erin')).toBe(spent)
    expect(await manager.getCurrentCost('user:erin')).toBe(spent)
    clock.advance(DAY)
    await manager.updateCost({ user: 'erin', cost: 0.25 })
    const allTime = spent + 0.25
    expect(await manager.getCurrentCost('erin')).toBeCloseTo(allTime, 9)
    // A monthly budget created mid-month counts what erin spent earlier in the month.
    await manager.setBudget('user:erin', { maxBudget: 10, duration: 'monthly' })
    expect(await manager.getCurrentCost('erin')).toBeCloseTo(allTime, 9)
    expect((await manager.getStatus('user:erin')).spend).toBeCloseTo(allTime, 9)
  })

  it('a calendar budget created mid-window counts only the spend in that window', async () => {
    const { manager, clock } = setup()
    await manager.updateCost({ user: 'frank', cost: 1 })
    clock.advance(DAY)
    await manager.updateCost({ user: 'frank', cost: 0.5 })
    await manager.setBudget('user:frank', { maxBudget: 10, duration: 'daily' })
    expect(await manager.getCurrentCost('frank')).toBe(0.5)
    await manager.updateCost({ user: 'frank', cost: 0.25 })
    expect(await manager.getCurrentCost('frank')).toBe(0.75)
    await manager.deleteBudget('user:frank')
    expect(await manager.getCurrentCost('frank')).toBe(1.75)
  })

  it('refuses a scope of another type instead of reading another user', async () => {
    const { manager } = setup()
    await expect(manager.getCurrentCost('team:search')).rejects.toThrow(InvalidInputError)
    await expect(manager.getModelCost('team:search')).rejects.toThrow(/user/)
    expect(await manager.getCurrentCost('user:nobody')).toBe(0)
  })

  it('tracks every named scope, budget or not: team, org and tags read back through getStatus-free balances', async () => {
    const { manager } = setup()
    await manager.record({ user: 'gail', team: 'search', tags: ['batch'] }, { cost: 0.4 })
    await manager.setBudget('team:search', { maxBudget: 5 })
    expect((await manager.getStatus('team:search')).spend).toBe(0.4)
    await manager.setBudget('tag:batch', { maxBudget: 5, duration: 'monthly' })
    expect((await manager.getStatus('tag:batch')).spend).toBe(0.4)
  })
})

describe('getModelCost and resetCost', () => {
  it('one key per served model, whichever path recorded it', async () => {
    const { manager } = setup()
    await manager.createBudget({ user: 'hal', totalBudget: 10, duration: 'monthly' })
    const call = withBudget(chat, { manager, context: { user: 'hal' } })
    await call({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 600 })
    await manager.updateCost({
      user: 'hal',
      completionResponse: { model: 'gpt-4o-2024-08-06', usage: { prompt_tokens: 1000, completion_tokens: 500 } },
    })
    const byModel = await manager.getModelCost('hal')
    expect(Object.keys(byModel)).toEqual(['gpt-4o-2024-08-06'])
    expect(byModel['gpt-4o-2024-08-06']).toBeCloseTo(await manager.getCurrentCost('hal'), 9)
  })

  it('resetCost resets everything the getters report, with and without a budget', async () => {
    const { manager, clock } = setup()
    await manager.createBudget({ user: 'ivy', totalBudget: 10, duration: 'monthly' })
    await manager.updateCost({ user: 'ivy', cost: 1, model: 'gpt-4o' })
    await manager.updateCost({ user: 'jon', cost: 2, model: 'gpt-4o' })
    clock.advance(1000)
    await manager.resetCost('ivy')
    await manager.resetCost('user:jon')
    for (const user of ['ivy', 'jon']) {
      expect(await manager.getCurrentCost(user)).toBe(0)
      expect(await manager.getModelCost(user)).toEqual({})
    }
    clock.advance(1000)
    await manager.updateCost({ user: 'jon', cost: 0.5, model: 'gpt-4o' })
    expect(await manager.getCurrentCost('jon')).toBe(0.5)
    expect(await manager.getModelCost('jon')).toEqual({ 'gpt-4o': 0.5 })
    // Deleting ivy's budget falls back to all-time spend, which the reset also cleared.
    await manager.deleteBudget('user:ivy')
    expect(await manager.getCurrentCost('ivy')).toBe(0)
  })
})

describe('memory for scopes without budgets', () => {
  it('an untouched all-time key is forgotten after `spendTrackingTtlMs`, and spending again slides it', async () => {
    const clock = fakeClock(T0)
    const manager = new BudgetManager({ store: memoryStore(), clock, spendTrackingTtlMs: 30 * DAY })
    await manager.updateCost({ user: 'kim', cost: 1 })
    clock.advance(20 * DAY)
    await manager.updateCost({ user: 'kim', cost: 1 })
    clock.advance(20 * DAY)
    expect(await manager.getCurrentCost('kim')).toBe(2)
    clock.advance(11 * DAY)
    expect(await manager.getCurrentCost('kim')).toBe(0)
  })

  it('refuses a bad `spendTrackingTtlMs`', () => {
    expect(() => new BudgetManager({ spendTrackingTtlMs: -1 })).toThrow(BudgetConfigError)
  })
})
