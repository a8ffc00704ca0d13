// Type tests of the published declarations: `llm-budget` resolves to the built dist/ (`npm test` builds first).
/**
 * Type tests of scopes and durations: a scope string with an unknown type (`'customer:42'`) and a duration with an
 * unknown unit (`'month'`) are compile errors, while every valid form still compiles. Each `@ts-expect-error` below
 * fails this file if the line ever starts to compile.
 */
import { describe, expectTypeOf, it } from 'vitest'
import {
  BudgetManager,
  parseScope,
  scopeKey,
  type BudgetDefinition,
  type BudgetEvents,
  type Duration,
  type ScopeInput,
  type RunScopeString,
  type ScopeString,
} from 'llm-budget'

const manager = new BudgetManager()

describe('scope strings', () => {
  it('accepts every scope type, the bare global scope and ids with colons', () => {
    expectTypeOf<'user:alice'>().toExtend<ScopeString>()
    expectTypeOf<'team:search'>().toExtend<ScopeString>()
    expectTypeOf<'org:acme'>().toExtend<ScopeString>()
    expectTypeOf<'key:sk-1'>().toExtend<ScopeString>()
    expectTypeOf<'endUser:e-9'>().toExtend<ScopeString>()
    expectTypeOf<'tag:batch'>().toExtend<ScopeString>()
    expectTypeOf<'provider:openai'>().toExtend<ScopeString>()
    expectTypeOf<'deployment:azure:eu'>().toExtend<ScopeString>()
    expectTypeOf<'model:gpt-4o'>().toExtend<ScopeString>()
    expectTypeOf<'global'>().toExtend<ScopeString>()
    const id: string = 'alice'
    expectTypeOf(`user:${id}` as const).toExtend<ScopeString>()
  })

  it('refuses unknown scope types and untyped strings at compile time', () => {
    expectTypeOf<'customer:42'>().not.toExtend<ScopeString>()
    expectTypeOf<'users:7'>().not.toExtend<ScopeString>()
    expectTypeOf<'user'>().not.toExtend<ScopeString>()
    expectTypeOf<string>().not.toExtend<ScopeInput>()
    expectTypeOf<{ type: 'planet'; id: string }>().not.toExtend<ScopeInput>()
    expectTypeOf<{ type: 'team'; id: string }>().toExtend<ScopeInput>()
  })

  it('is what the manager takes', async () => {
    // @ts-expect-error 'customer' is not a scope type
    await manager.getStatus('customer:42').catch(() => null)
    // @ts-expect-error an object scope with an unknown type
    await manager.getBudget({ type: 'planet', id: 'earth' }).catch(() => null)
    expectTypeOf(manager.getStatus).parameter(0).toEqualTypeOf<ScopeInput>()
  })

  it('comes back typed from events and status, so it can be passed straight back', () => {
    expectTypeOf<BudgetEvents['threshold.crossed']['scope']>().toEqualTypeOf<ScopeString>()
    // A run budget (`manager.run()`) refuses as `run:<name>`: no stored scope, so it is not a ScopeString.
    expectTypeOf<BudgetEvents['budget.exceeded']['scope']>().toEqualTypeOf<ScopeString | RunScopeString>()
    expectTypeOf<BudgetEvents['budget.changed']['scope']>().toEqualTypeOf<ScopeString>()
    manager.on('threshold.crossed', (event) => {
      void manager.getStatus(event.scope)
    })
  })

  it('lets run-time strings in through parseScope, which returns a typed scope', () => {
    const fromRequest: string = 'team:search'
    expectTypeOf(parseScope).toBeCallableWith(fromRequest)
    expectTypeOf(parseScope(fromRequest)).toExtend<ScopeInput>()
    expectTypeOf(scopeKey(parseScope(fromRequest))).toEqualTypeOf<ScopeString>()
  })
})

describe('durations', () => {
  it('accepts the calendar names and the rolling grammar', () => {
    expectTypeOf<'daily'>().toExtend<Duration>()
    expectTypeOf<'weekly'>().toExtend<Duration>()
    expectTypeOf<'monthly'>().toExtend<Duration>()
    expectTypeOf<'yearly'>().toExtend<Duration>()
    for (const d of ['30s', '15m', '1h', '7d', '2w', '1mo', '1y'] as const) expectTypeOf(d).toExtend<Duration>()
  })

  it('refuses words and unknown units at compile time', () => {
    expectTypeOf<'month'>().not.toExtend<Duration>()
    expectTypeOf<'1month'>().not.toExtend<Duration>()
    expectTypeOf<'fortnightly'>().not.toExtend<Duration>()
    expectTypeOf<'7 days'>().not.toExtend<Duration>()
    expectTypeOf<'d'>().not.toExtend<Duration>()
    expectTypeOf<string>().not.toExtend<Duration>()
  })

  it('is what a definition and the LiteLLM facade take', async () => {
    expectTypeOf<BudgetDefinition['duration']>().toEqualTypeOf<Duration | undefined>()
    // @ts-expect-error 'month' is not a duration ('monthly' or '1mo' is)
    const bad: BudgetDefinition = { maxBudget: 10, duration: 'month' }
    void bad
    const perModel: BudgetDefinition = { maxBudget: 10, modelMaxBudget: { 'gpt-4o': { maxBudget: 1, duration: '1d' } } }
    void perModel
    // @ts-expect-error 'weekend' is not a duration
    await manager.createBudget({ user: 'alice', totalBudget: 5, duration: 'weekend' }).catch(() => null)
  })
})
