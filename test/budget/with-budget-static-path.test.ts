// withBudget with a static context and a fixed estimate (no routing, model swap or cache), the bench's call: a
// promise in every case, `this` and the arguments passed through, holds released on a throw or a rejection, release
// failures reported, refusals rejected. Guards for any faster path for this case (ADR 0024 ninth round).
import { describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { BudgetExceededError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { fakeClock } from '../../src/testing/index.js'

const T0 = Date.UTC(2026, 10, 15, 12)

async function setup(store: BudgetStore = memoryStore()) {
  const manager = new BudgetManager({ store, clock: fakeClock(T0) })
  await manager.setBudget('user:alice', { maxBudget: 1 })
  return manager
}

describe("withBudget's static path", () => {
  it('passes `this` and the arguments through and answers what `fn` answers (value or promise)', async () => {
    const manager = await setup()
    const service = {
      prefix: 'p:',
      run: withBudget(
        function (this: { prefix: string }, a: string, b: number) {
          return `${this.prefix}${a}:${b}`
        },
        { manager, context: { user: 'alice' }, estimate: 0.01, cost: () => 0.002 },
      ),
      later: withBudget(
        async function (this: { prefix: string }, a: string) {
          return `${this.prefix}${a}`
        },
        { manager, context: { user: 'alice' }, estimate: 0.01, cost: () => 0.003 },
      ),
    }
    const answer = service.run('x', 2)
    expect(answer).toBeInstanceOf(Promise)
    expect(await answer).toBe('p:x:2')
    expect(await service.later('y')).toBe('p:y')
    const status = await manager.getStatus('user:alice')
    expect(status.spend).toBeCloseTo(0.005, 12)
    expect(status.reserved).toBe(0)
  })

  it('a synchronous throw of `fn` rejects the returned promise (no throw) and releases the hold', async () => {
    const manager = await setup()
    const error = new Error('sync boom')
    const fn = withBudget(
      (): string => {
        throw error
      },
      { manager, context: { user: 'alice' }, estimate: 0.5 },
    )
    let answer: Promise<string> | undefined
    expect(() => (answer = fn())).not.toThrow()
    await expect(answer).rejects.toBe(error)
    const status = await manager.getStatus('user:alice')
    expect(status.reserved).toBe(0)
    expect(status.spend).toBe(0)
    expect(await manager.spendRecords({})).toHaveLength(0)
  })

  it('a rejection releases the hold; a release that fails goes to onCommitError and the call rejects with its error', async () => {
    const manager = await setup()
    const error = new Error('async boom')
    const fn = withBudget(async () => Promise.reject(error), { manager, context: { user: 'alice' }, estimate: 0.5 })
    await expect(fn()).rejects.toBe(error)
    expect((await manager.getStatus('user:alice')).reserved).toBe(0)

    const store = memoryStore()
    const failing = await setup({
      ...store,
      reserve: store.reserve.bind(store),
      release: () => Promise.reject(new Error('release lost')),
    } as BudgetStore)
    const reported: unknown[] = []
    const broken = withBudget(
      () => {
        throw error
      },
      { manager: failing, context: { user: 'alice' }, estimate: 0.5, onCommitError: (e) => void reported.push(e) },
    )
    await expect(broken()).rejects.toBe(error)
    expect(reported).toHaveLength(1)
    expect(String(reported[0])).toContain('release lost')
  })

  it('a refused reservation rejects the returned promise and never calls `fn`', async () => {
    const manager = await setup()
    let calls = 0
    const fn = withBudget(() => ++calls, { manager, context: { user: 'alice' }, estimate: 2 })
    let answer: Promise<number> | undefined
    expect(() => (answer = fn())).not.toThrow()
    await expect(answer).rejects.toBeInstanceOf(BudgetExceededError)
    expect(calls).toBe(0)
  })
})
