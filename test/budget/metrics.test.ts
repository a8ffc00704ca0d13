import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { budgetMetrics } from '../../src/budget/metrics.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'

function line(text: string, name: string, labels: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
}

describe('budgetMetrics', () => {
  it('counts spend exactly, calls by status, tokens by direction, and blocked calls by scope type', async () => {
    const manager = new BudgetManager()
    const metrics = budgetMetrics(manager)
    await manager.setBudget('user:alice', { maxBudget: 0.05 })
    const usage = { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 400 } }
    for (let i = 0; i < 3; i++) {
      await (
        await manager.reserve({ user: 'alice' }, { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 200 })
      ).commit({ usage, model: 'gpt-4o-2024-08-06', provider: 'openai' })
    }
    await (await manager.reserve({ user: 'alice' }, 0.001)).commit({ status: 'cache_hit' })
    await expect(manager.reserve({ user: 'alice' }, 1)).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' })
    const text = metrics.text()
    // gpt-4o-2024-08-06: 600 uncached x $2.50/M + 400 cached x $1.25/M + 200 x $10/M = $0.0040 per call, x 3.
    expect(line(text, 'llm_budget_spend_usd_total', 'model="gpt-4o-2024-08-06",provider="openai"')).toBe(
      'llm_budget_spend_usd_total{model="gpt-4o-2024-08-06",provider="openai"} 0.012000000',
    )
    expect(
      line(text, 'llm_budget_calls_total', 'model="gpt-4o-2024-08-06",provider="openai",status="success"'),
    ).toMatch(/ 3$/)
    expect(text).toMatch(/llm_budget_calls_total\{[^}]*status="cache_hit"\} 1/)
    expect(
      line(text, 'llm_budget_tokens_total', 'model="gpt-4o-2024-08-06",provider="openai",direction="input"'),
    ).toMatch(/ 3000$/)
    expect(
      line(text, 'llm_budget_tokens_total', 'model="gpt-4o-2024-08-06",provider="openai",direction="cache_read"'),
    ).toMatch(/ 1200$/)
    expect(
      line(text, 'llm_budget_blocked_total', 'scope_type="user",action="block",model="unknown",provider="unknown"'),
    ).toMatch(/ 1$/)
    expect(text).toContain('# TYPE llm_budget_spend_usd_total counter')
    metrics.dispose()
    await (await manager.reserve({ user: 'alice' }, 0.001)).commit(0.001)
    expect(metrics.text()).toBe(text)
  })

  it('escapes label values and caps the number of series', async () => {
    const manager = new BudgetManager()
    const metrics = budgetMetrics(manager, { maxSeries: 2 })
    for (const model of ['a"b', 'c\\d', 'e f', 'g']) await manager.record({}, { cost: 0.5, model })
    const text = metrics.text()
    expect(text).toContain('model="a\\"b"')
    expect(text).toContain('model="c\\\\d"')
    expect(text).toMatch(/llm_budget_spend_usd_total\{model="other",provider="unknown"\} 1\.000000000/)
  })

  it('counts store errors with the action taken', async () => {
    const broken: BudgetStore = { ...memoryStore(), name: 'broken', reserve: () => Promise.reject(new Error('down')) }
    const manager = new BudgetManager({ store: broken })
    await manager.setBudget('user:bob', { maxBudget: 1 })
    const metrics = budgetMetrics(manager)
    await expect(manager.reserve({ user: 'bob' }, 0.1)).rejects.toMatchObject({ code: 'STORAGE' })
    expect(line(metrics.text(), 'llm_budget_store_errors_total', 'operation="reserve",action="deny"')).toMatch(/ 1$/)
  })

  it('refuses bad options', () => {
    const manager = new BudgetManager()
    expect(() => budgetMetrics(manager, { prefix: 'bad name' })).toThrow(/prefix/)
    expect(() => budgetMetrics(manager, { maxSeries: 0 })).toThrow(/maxSeries/)
  })
})
