import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { budgetMetrics } from '../../src/budget/metrics.js'
import { fakeClock } from '../../src/testing/clock.js'

function value(text: string, name: string, labels = ''): string | undefined {
  const prefix = labels === '' ? `${name} ` : `${name}{${labels}} `
  return text
    .split('\n')
    .find((l) => l.startsWith(prefix))
    ?.slice(prefix.length)
}

describe('per-budget gauges', () => {
  it('report spend, limit, remaining, utilisation and forecast equal to getStatus', async () => {
    const clock = fakeClock('2026-11-11T00:00:00Z')
    const manager = new BudgetManager({ clock })
    const metrics = budgetMetrics(manager)
    await manager.setBudget('team:search', { maxBudget: 100, duration: 'monthly' })
    await manager.setBudget('user:alice', { maxBudget: 10 })
    await manager.setBudget('org:acme', { softBudget: 5, duration: 'monthly' })
    await manager.record(
      { team: 'search', user: 'alice', org: 'acme' },
      { cost: 2.5, model: 'gpt-4o', provider: 'openai' },
    )
    const text = await metrics.collect()
    const status = await manager.getStatus('team:search')
    expect(value(text, 'llm_budget_scope_spend_usd', 'scope="team:search"')).toBe('2.500000000')
    expect(value(text, 'llm_budget_scope_limit_usd', 'scope="team:search"')).toBe('100.000000000')
    expect(value(text, 'llm_budget_scope_remaining_usd', 'scope="team:search"')).toBe('97.500000000')
    expect(Number(value(text, 'llm_budget_scope_utilization_ratio', 'scope="team:search"'))).toBe(0.025)
    expect(value(text, 'llm_budget_scope_projected_spend_usd', 'scope="team:search"')).toBe(status.exact.projectedSpend)
    // 10 of 30 days gone: $2.50 so far projects to $7.50 at the end of November.
    expect(status.projectedSpend).toBe(7.5)
    expect(value(text, 'llm_budget_scope_utilization_ratio', 'scope="user:alice"')).toBe('0.25')
    // A budget without a limit has spend but no limit, remaining or utilisation series.
    expect(value(text, 'llm_budget_scope_spend_usd', 'scope="org:acme"')).toBe('2.500000000')
    expect(value(text, 'llm_budget_scope_limit_usd', 'scope="org:acme"')).toBeUndefined()
    expect(value(text, 'llm_budget_scopes')).toBe('3')
    expect(value(text, 'llm_budget_scopes_omitted')).toBe('0')
    expect(text).toContain('# TYPE llm_budget_scope_spend_usd gauge')
    // text() shows the last collected gauges; counters move at once.
    await manager.record({ team: 'search' }, { cost: 1, model: 'gpt-4o', provider: 'openai' })
    expect(value(metrics.text(), 'llm_budget_scope_spend_usd', 'scope="team:search"')).toBe('2.500000000')
    expect(value(metrics.text(), 'llm_budget_spend_usd_total', 'model="gpt-4o",provider="openai"')).toBe('3.500000000')
    expect(value(await metrics.collect(), 'llm_budget_scope_spend_usd', 'scope="team:search"')).toBe('3.500000000')
  })

  it('cap the scopes at maxScopes, keeping the fullest, and filter by scope pattern', async () => {
    const manager = new BudgetManager()
    for (let i = 0; i < 300; i++) await manager.setBudget(`user:u${i}`, { maxBudget: 10 })
    await manager.setBudget('team:a', { maxBudget: 10 })
    for (let i = 0; i < 5; i++) await manager.record({ user: `u${i * 7}` }, { cost: 1 + i })
    const capped = await budgetMetrics(manager, { maxScopes: 5 }).collect()
    const scopes = capped
      .split('\n')
      .filter((l) => l.startsWith('llm_budget_scope_spend_usd{'))
      .map((l) => /scope="([^"]+)"/.exec(l)![1])
    expect(scopes.sort()).toEqual(['user:u0', 'user:u14', 'user:u21', 'user:u28', 'user:u7'])
    expect(value(capped, 'llm_budget_scopes')).toBe('301')
    expect(value(capped, 'llm_budget_scopes_omitted')).toBe('296')
    const teams = await budgetMetrics(manager, { scopes: ['team:*'] }).collect()
    expect(teams.split('\n').filter((l) => l.startsWith('llm_budget_scope_limit_usd{'))).toEqual([
      'llm_budget_scope_limit_usd{scope="team:a"} 10.000000000',
    ])
  })

  it('label blocked calls with the model and provider of the refused call', async () => {
    const manager = new BudgetManager()
    const metrics = budgetMetrics(manager)
    await manager.setBudget('user:bob', { maxBudget: 0.001 })
    await expect(
      manager.reserve(
        { user: 'bob', provider: 'openai' },
        { model: 'gpt-4o', inputTokens: 100_000, maxOutputTokens: 100 },
      ),
    ).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' })
    expect(
      value(
        metrics.text(),
        'llm_budget_blocked_total',
        'scope_type="user",action="block",model="gpt-4o",provider="openai"',
      ),
    ).toBe('1')
  })

  it('refuse bad options with the option named', () => {
    const manager = new BudgetManager()
    expect(() => budgetMetrics(manager, { scopes: [''] })).toThrow(/scopes/)
    expect(() => budgetMetrics(manager, { maxScopes: 0 })).toThrow(/maxScopes/)
    expect(() => budgetMetrics(manager, { maxScope: 3 } as never)).toThrow(/Did you mean `maxScopes`/)
  })
})
