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
    expect(definitions.map((d) => d.scope)).toEqual(['provider:openai', 'provider:anthropic', 'provider:azure', 'provider:vertex_ai', 'provider:groq'])
    expect(definitions[0]!.definition).toEqual({ maxBudget: 1000, duration: '30d' })
    // They are ordinary budgets: the manager accepts each duration.
    const manager = new BudgetManager({ store: memoryStore() })
    for (const { scope, definition } of definitions) await manager.setBudget(scope, definition)
    expect((await manager.getStatus('provider:anthropic')).limit).toBe(500)
    expect((await manager.getStatus('provider:azure')).resetsAt).not.toBeNull()
  })

  it('names the provider and field of a mistake', () => {
    expect(() => providerBudgetDefinitions({ openai: { budget_limt: 1, time_period: '1d' } })).toThrow('did you mean `budget_limit`?')
    expect(() => providerBudgetDefinitions({ openai: { budget_limit: -1, time_period: '1d' } })).toThrow(/providerBudgets\.openai\.budget_limit/)
    expect(() => providerBudgetDefinitions({ openai: { budget_limit: 1 } })).toThrow(/time_period/)
    expect(() => providerBudgetDefinitions({ 'bad name!': { budget_limit: 1, time_period: '1d' } })).toThrow(BudgetConfigError)
    expect(() => providerBudgetDefinitions([])).toThrow(BudgetConfigError)
  })
})
