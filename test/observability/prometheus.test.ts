import { Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { budgetMetrics } from '../../src/budget/metrics.js'
import { registerBudgetMetrics } from '../../src/integrations/prometheus.js'
import { fakeClock } from '../../src/testing/clock.js'

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const at = line.lastIndexOf(' ')
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

describe('registerBudgetMetrics (real prom-client)', () => {
  it('exposes the same series and values as budgetMetrics().collect()', async () => {
    // A fixed clock: the projected spend depends on the time of the scrape.
    const manager = new BudgetManager({ clock: fakeClock('2026-11-16T00:00:00Z') })
    const registry = new Registry()
    const registered = registerBudgetMetrics(manager, { registry })
    const plain = budgetMetrics(manager)
    await manager.setBudget('team:search', { maxBudget: 50, duration: 'monthly' })
    await manager.setBudget('user:bob', { maxBudget: 0.001 })
    const usage = { prompt_tokens: 1000, completion_tokens: 200 }
    await (
      await manager.reserve(
        { team: 'search', provider: 'openai' },
        { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 200 },
      )
    ).commit({ usage, model: 'gpt-4o', provider: 'openai' })
    await manager.record({ team: 'search' }, { cost: 1.25, model: 'claude-sonnet-4-5', provider: 'anthropic' })
    await expect(
      manager.reserve({ user: 'bob', provider: 'openai' }, { model: 'gpt-4o', inputTokens: 100_000 }),
    ).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' })

    const fromProm = samples(await registry.metrics())
    const fromText = samples(await plain.collect())
    expect(fromProm.size).toBeGreaterThan(10)
    // prom-client orders labels as declared: the same series keys come out of both.
    expect([...fromProm.keys()].sort()).toEqual([...fromText.keys()].sort())
    for (const [series, value] of fromText) expect(fromProm.get(series), series).toBeCloseTo(value, 9)
    expect(fromProm.get('llm_budget_scope_limit_usd{scope="team:search"}')).toBe(50)
    expect(fromProm.get('llm_budget_scope_spend_usd{scope="team:search"}')).toBeCloseTo(1.2545, 9)
    expect(
      fromProm.get('llm_budget_blocked_total{scope_type="user",action="block",model="gpt-4o",provider="openai"}'),
    ).toBe(1)
    expect(fromProm.get('llm_budget_tokens_total{model="gpt-4o",provider="openai",direction="output"}')).toBe(200)
    expect(await registry.getMetricsAsJSON()).toContainEqual(
      expect.objectContaining({ name: 'llm_budget_scope_utilization_ratio', type: 'gauge' }),
    )

    registered.dispose()
    expect((await registry.metrics()).trim()).toBe('')
  })

  it('refuses a registry that is not one, and unknown options', () => {
    const manager = new BudgetManager()
    expect(() => registerBudgetMetrics(manager, { registry: {} as Registry })).toThrow(/registry/)
    expect(() => registerBudgetMetrics(manager, { registy: new Registry() } as never)).toThrow(
      /Did you mean `registry`/,
    )
  })
})
