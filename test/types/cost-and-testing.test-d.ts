// Type tests of the published declarations: `llm-budget` resolves to the built dist/ (`npm test` builds first).
/**
 * Type tests of `calculateCost`'s result (the documented field types) and of `runStoreContract`, which must
 * take vitest's own `it`.
 */
import { describe, expectTypeOf, it, test } from 'vitest'
import { calculateCost, estimateCost, type CostResult, type ExactCost, type UsageAdjustment } from 'llm-budget/cost'
import { memoryStore } from 'llm-budget'
import type { BudgetStore } from 'llm-budget/store'
import { runStoreContract, type ContractIt, type MakeStore } from 'llm-budget/testing'

describe('calculateCost', () => {
  it('result fields have the documented types', () => {
    const cost = calculateCost({ model: 'gpt-4o', usage: { prompt_tokens: 10, completion_tokens: 5 } })
    expectTypeOf(cost).toEqualTypeOf<CostResult>()
    expectTypeOf(cost.totalCost).toEqualTypeOf<number>()
    expectTypeOf(cost.inputCost).toEqualTypeOf<number>()
    expectTypeOf(cost.outputCost).toEqualTypeOf<number>()
    expectTypeOf(cost.cacheReadCost).toEqualTypeOf<number>()
    expectTypeOf(cost.cacheWriteCost).toEqualTypeOf<number>()
    expectTypeOf(cost.reasoningCost).toEqualTypeOf<number>()
    expectTypeOf(cost.otherCost).toEqualTypeOf<number>()
    expectTypeOf(cost.currency).toEqualTypeOf<'USD'>()
    expectTypeOf(cost.model).toEqualTypeOf<string>()
    expectTypeOf(cost.provider).toEqualTypeOf<string>()
    expectTypeOf(cost.priced).toEqualTypeOf<boolean>()
    expectTypeOf(cost.batch).toEqualTypeOf<boolean>()
    expectTypeOf(cost.source).toEqualTypeOf<'catalog' | 'custom' | 'provider'>()
    expectTypeOf(cost.serviceTier).toEqualTypeOf<'standard' | 'flex' | 'priority'>()
    expectTypeOf(cost.unpriced).toEqualTypeOf<
      readonly (
        | 'inputTokens'
        | 'outputTokens'
        | 'webSearchRequests'
        | 'audioSeconds'
        | 'inputCharacters'
        | 'searchUnits'
        | 'imageCount'
        | 'citationTokens'
      )[]
    >()
    expectTypeOf(cost.adjusted).toEqualTypeOf<readonly UsageAdjustment[]>()
    // Exact money: decimal strings and integer nano-USD.
    expectTypeOf(cost.exact).toEqualTypeOf<ExactCost>()
    expectTypeOf(cost.exact.totalCost).toEqualTypeOf<string>()
    expectTypeOf(cost.exact.totalNanoUsd).toEqualTypeOf<number>()
    expectTypeOf(cost.exact.cacheReadCost).toEqualTypeOf<string>()
    expectTypeOf(cost.toJSON().exact).toEqualTypeOf<ExactCost>()
    expectTypeOf(cost.toJSON()).not.toHaveProperty('toJSON')
    // `exact` is read-only.
    // @ts-expect-error `exact` is readonly: assigning it must not compile
    // eslint-disable-next-line no-self-assign -- the assignment is what is type-tested
    cost.exact = cost.exact
    // `model` may come from the usage (a provider response names its model); `usage` is required.
    calculateCost({ usage: { model: 'gpt-4o', prompt_tokens: 1 } })
    // @ts-expect-error `usage` is required
    calculateCost({ model: 'gpt-4o' })
    expectTypeOf(
      estimateCost({ model: 'gpt-4o', inputTokens: 10, maxOutputTokens: 10 }).totalCost,
    ).toEqualTypeOf<number>()
  })
})

describe('runStoreContract', () => {
  it("accepts vitest's `it` and `test`, and sync or async store factories", () => {
    expectTypeOf(it).toExtend<ContractIt>()
    expectTypeOf(test).toExtend<ContractIt>()
    expectTypeOf(runStoreContract).toBeCallableWith(it, () => memoryStore())
    expectTypeOf(runStoreContract).toBeCallableWith(it, async () => memoryStore(), { concurrency: 100 })
    expectTypeOf(runStoreContract).toBeCallableWith(test, (): Promise<BudgetStore> => Promise.resolve(memoryStore()))
    expectTypeOf(runStoreContract).parameter(1).toEqualTypeOf<MakeStore>()
    // eslint-disable-next-line @typescript-eslint/no-invalid-void-type -- the function returns nothing
    expectTypeOf(runStoreContract).returns.toEqualTypeOf<void>()
    // @ts-expect-error the factory must return a store
    runStoreContract(it, () => ({ get: () => 1 }))
  })
})
