// Usage the price table has no rate for is never silent in the ledger: the spend record names it.
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'

describe('unpriced usage in spend records', () => {
  it('a call whose web searches have no price on the model records them under costBreakdown.unpriced', async () => {
    const manager = new BudgetManager()
    const usage = {
      inputTokens: 1000,
      outputTokens: 200,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: null,
      webSearchRequests: 2,
    }
    await (await manager.reserve({ user: 'alice' }, 0.1)).commit({ usage, model: 'gpt-4o' })
    const [record] = await manager.spendRecords({})
    // gpt-4o: 1,000 x $2.50/M + 200 x $10/M = $0.0045; the 2 searches have no rate on this model.
    expect(record?.cost).toBe('0.004500000')
    expect(record?.costBreakdown).toMatchObject({ unpriced: ['webSearchRequests'] })
  })

  it('a fully priced call has no unpriced list', async () => {
    const manager = new BudgetManager()
    await (
      await manager.reserve({ user: 'alice' }, 0.1)
    ).commit({ usage: { prompt_tokens: 10, completion_tokens: 5 }, model: 'gpt-4o' })
    const [record] = await manager.spendRecords({})
    expect(record?.costBreakdown).not.toHaveProperty('unpriced')
  })
})
