import { describe, expectTypeOf, it } from 'vitest'
import { BudgetManager, withBudget, type CommitOutcome, type Reservation } from '../../src/budget/index.js'

const manager = new BudgetManager()

describe('withBudget types', () => {
  it('keeps the parameters and the resolved result of an async function', () => {
    const fn = async (prompt: string, options: { maxTokens: number }) => ({ text: prompt, tokens: options.maxTokens })
    const wrapped = withBudget(fn, { manager, context: { user: 'a' }, estimate: 0.01 })
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[string, { maxTokens: number }]>()
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<{ text: string; tokens: number }>>()
    expectTypeOf<typeof wrapped>().toEqualTypeOf<(this: unknown, prompt: string, options: { maxTokens: number }) => Promise<{ text: string; tokens: number }>>()
  })

  it('a sync function becomes async with the same parameters', () => {
    const wrapped = withBudget((n: number) => n * 2, { manager, context: { user: 'a' }, estimate: 0.01 })
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[number]>()
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<number>>()
  })

  it('context, estimate, cost, usage and model callbacks are typed from the function', () => {
    withBudget(async (user: string, amount: number) => ({ usd: amount, user }), {
      manager,
      context: (user, amount) => {
        expectTypeOf(user).toEqualTypeOf<string>()
        expectTypeOf(amount).toEqualTypeOf<number>()
        return { user }
      },
      estimate: (_user, amount) => amount,
      cost: (result, args) => {
        expectTypeOf(result).toEqualTypeOf<{ usd: number; user: string }>()
        expectTypeOf(args).toEqualTypeOf<[user: string, amount: number]>()
        return result.usd
      },
      model: () => 'gpt-4o',
    })
    // @ts-expect-error the context callback receives the wrapped function's arguments
    withBudget(async (n: number) => n, { manager, context: (n: string) => ({ user: n }) })
    // @ts-expect-error unknown context fields are refused
    withBudget(async () => 1, { manager, context: { users: 'a' } })
  })

  it('reserve returns a Reservation whose commit resolves to a CommitOutcome', () => {
    expectTypeOf(manager.reserve({ user: 'a' }, 0.1)).resolves.toEqualTypeOf<Reservation>()
    expectTypeOf<ReturnType<Reservation['commit']>>().toEqualTypeOf<Promise<CommitOutcome>>()
    expectTypeOf(manager.getStatus('team:x')).resolves.toHaveProperty('resetsAt').toEqualTypeOf<Date | null>()
  })
})
