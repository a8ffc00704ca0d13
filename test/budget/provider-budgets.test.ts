// LiteLLM's provider_budget_config shape, verbatim, becomes provider:<name> budgets.
import { describe, expect, it } from 'vitest'
import { BudgetManager, BudgetConfigError, memoryStore } from '../../src/index.js'
import { providerBudgetDefinitions } from '../../src/budget/provider-budgets.js'

describe('providerBudgetDefinitions', () => {
  it('accepts the LiteLLM shape with every time_period LiteLLM accepts', async () => {
    const config = {
      openai: { budget_limit: 1000, time_period: '30d' },
      anthropic: { budget_limit: 500, time_period: '1d' },
      azure: { budget_limit: 0.5, time_period: '1mo' },
      vertex_ai: { budget_limit: 20, time_period: '7d' },
      groq: { budget_limit: 1, time_period: '1h' },
    }
    const definitions = providerBudgetDefinitions(config)
    expect(definitions.map((d) => d.scope)).toEqual([
      'provider:openai',
      'provider:anthropic',
      'provider:azure',
      'provider:vertex_ai',
      'provider:groq',
    ])
    expect(definitions[0]!.definition).toEqual({ maxBudget: 1000, duration: '30d' })
    // They are ordinary budgets: the manager accepts each duration.
    const manager = new BudgetManager({ store: memoryStore() })
    for (const { scope, definition } of definitions) await manager.setBudget(scope, definition)
    expect((await manager.getStatus('provider:anthropic')).limit).toBe(500)
    expect((await manager.getStatus('provider:azure')).resetsAt).not.toBeNull()
  })

  it('names the provider and field of a mistake', () => {
    expect(() => providerBudgetDefinitions({ openai: { budget_limt: 1, time_period: '1d' } })).toThrow(
      'did you mean `budget_limit`?',
    )
    expect(() => providerBudgetDefinitions({ openai: { budget_limit: -1, time_period: '1d' } })).toThrow(
      /providerBudgets\.openai\.budget_limit/,
    )
    expect(() => providerBudgetDefinitions({ openai: { budget_limit: 1 } })).toThrow(/time_period/)
    expect(() => providerBudgetDefinitions({ 'bad name!': { budget_limit: 1, time_period: '1d' } })).toThrow(
      BudgetConfigError,
    )
    expect(() => providerBudgetDefinitions([])).toThrow(BudgetConfigError)
  })

  it('manager.setProviderBudgets and manager.selectDeployment route by provider budget', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setProviderBudgets({
      openai: { budget_limit: 0.015, time_period: '1d' },
      anthropic: { budget_limit: 100, time_period: '30d' },
    })
    expect((await manager.getHistory('provider:openai'))[0]!.reason).toBe('provider budget')
    const deployments = [
      { id: 'oai', model: 'gpt-4o', provider: 'openai' },
      { id: 'claude', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' },
    ]
    const estimate = { inputTokens: 1_000, maxOutputTokens: 500 } // gpt-4o: $0.0075 per call, so openai holds 2
    const picks = await Promise.all(
      Array.from({ length: 5 }, () =>
        manager.selectDeployment(deployments, { context: { user: 'u' }, estimate, strategy: 'priority' }),
      ),
    )
    expect(picks.map((p) => p.deployment.id).sort()).toEqual(['claude', 'claude', 'claude', 'oai', 'oai'])
    await expect(
      manager.setProviderBudgets({ openai: { budget_limit: 1, time_period: 'fortnight' } }),
    ).rejects.toBeInstanceOf(BudgetConfigError)
    expect((await manager.getStatus('provider:openai')).limit).toBe(0.015)
  })
})
