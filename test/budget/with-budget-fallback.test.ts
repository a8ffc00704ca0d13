/**
 * withBudget never overspends through a fallback: the model called is the model charged. `applyModel` hands the
 * admitted model to the function; without it a fallback is never taken (the call is refused). Its options refuse
 * unknown keys; money inputs are numbers or typed errors.
 */
import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { withBudget } from '../../src/budget/with-budget.js'
import { BudgetConfigError, BudgetExceededError, InvalidInputError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'

interface Request {
  model: string
  messages: { role: string; content: string }[]
  max_tokens: number
}

/** A fake provider that answers with the model it was asked for and fixed usage, and remembers the models called. */
function provider() {
  const called: string[] = []
  const fn = (request: Request, _extra?: string) => {
    called.push(request.model)
    return Promise.resolve({ model: request.model, usage: { prompt_tokens: 1000, completion_tokens: 1000 } })
  }
  return { fn, called }
}

async function frugal() {
  const manager = new BudgetManager({ store: memoryStore() })
  // gpt-4o at 1000 + 1000 tokens costs $0.0125: above the $0.01 limit; gpt-4o-mini costs $0.00075.
  await manager.setBudget('user:frugal', { maxBudget: 0.01, onExceeded: { fallbackModel: 'gpt-4o-mini' } })
  return manager
}

const REQUEST: Request = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1000 }

describe('withBudget and fallbackModel', () => {
  it('without applyModel a fallback is never taken: the call is refused and nothing is called', async () => {
    const manager = await frugal()
    const { fn, called } = provider()
    const call = withBudget(fn, {
      manager,
      context: { user: 'frugal' },
      estimate: { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 1000 },
    })
    await expect(call(REQUEST)).rejects.toThrow(BudgetExceededError)
    expect(called).toEqual([])
    const status = await manager.getStatus('user:frugal')
    expect([status.spend, status.reserved]).toEqual([0, 0])
  })

  it('with applyModel the function calls the admitted model, which is the model charged, and the budget holds', async () => {
    const manager = await frugal()
    const { fn, called } = provider()
    const call = withBudget(fn, {
      manager,
      context: { user: 'frugal' },
      estimate: (request) => ({ model: request.model, inputTokens: 1000, maxOutputTokens: 1000 }),
      applyModel: (args, model) => [{ ...args[0], model }, ...args.slice(1)],
    })
    const result = await call(REQUEST, 'extra')
    expect(result.model).toBe('gpt-4o-mini')
    expect(called).toEqual(['gpt-4o-mini'])
    const [record] = await manager.spendRecords({ scope: 'user:frugal' })
    expect(record?.['modelServed']).toBe('gpt-4o-mini')
    const status = await manager.getStatus('user:frugal')
    expect(status.spend).toBe(0.00075)
    expect(status.spend).toBeLessThanOrEqual(0.01)
    expect(status.reserved).toBe(0)
  })

  it('applyModel must return the argument list', async () => {
    const manager = await frugal()
    const { fn, called } = provider()
    const call = withBudget(fn, {
      manager,
      context: { user: 'frugal' },
      estimate: { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 1000 },
      applyModel: ((args: [Request]) => ({ ...args[0] })) as never,
    })
    await expect(call(REQUEST)).rejects.toThrow(InvalidInputError)
    expect(called).toEqual([])
    expect((await manager.getStatus('user:frugal')).reserved).toBe(0)
  })
})

describe('withBudget options', () => {
  it('refuses unknown keys, naming the closest known one', () => {
    const manager = new BudgetManager()
    const { fn } = provider()
    expect(() => withBudget(fn, { manager, context: {}, aplyModel: () => [] } as never)).toThrow(BudgetConfigError)
    expect(() => withBudget(fn, { manager, context: {}, aplyModel: () => [] } as never)).toThrow(/applyModel/)
  })

  it('refuses a non-function applyModel', () => {
    const manager = new BudgetManager()
    const { fn } = provider()
    expect(() => withBudget(fn, { manager, context: {}, applyModel: 'gpt-4o-mini' } as never)).toThrow(
      BudgetConfigError,
    )
  })
})

describe('numeric strings', () => {
  it('every money input is a number or a typed error, the same everywhere', async () => {
    const manager = new BudgetManager()
    await manager.setBudget('user:amy', { maxBudget: 1 })
    await expect(
      manager.increaseBudget('user:amy', { amount: '5' as never, until: Date.now() + 60_000 }),
    ).rejects.toThrow(InvalidInputError)
    expect(await manager.getHistory('user:amy')).toHaveLength(1)
    const reservation = await manager.reserve({ user: 'amy' }, 0.1)
    await expect(reservation.commit({ cost: '5' as never })).rejects.toThrow(InvalidInputError)
    await expect(reservation.commit('5' as never)).rejects.toThrow(InvalidInputError)
    await expect(manager.reserve({ user: 'amy' }, '0.1' as never)).rejects.toThrow(InvalidInputError)
    await expect(manager.record({ user: 'amy' }, { cost: '5' as never })).rejects.toThrow(InvalidInputError)
    await expect(manager.updateCost({ user: 'amy', cost: '5' as never })).rejects.toThrow(InvalidInputError)
    await reservation.commit({ cost: 0.05 })
    expect((await manager.getStatus('user:amy')).spend).toBe(0.05)
  })
})
