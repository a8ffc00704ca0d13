import { describe, expect, it } from 'vitest'
import { BudgetManager, isBudgetExceededError, memoryStore, withBudget } from '../../src/index.js'
import { fakeClock } from '../../src/testing/index.js'

// withBudget keeps the plan of a static context between calls (`manager/plan-memo.ts`). Each case below changes
// what the plan must be while the wrapper keeps calling: the kept plan must not be used past that change.

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** A wrapper on `user:alice` (+ `org:acme`) reserving $2 and charging $2 per call. */
function setup(start = Date.UTC(2026, 2, 10, 12)) {
  const clock = fakeClock(start)
  // Budgets cached for a day: the compiled budgets stay the same objects across the changes of time below.
  const manager = new BudgetManager({ store: memoryStore(), clock, budgetCacheTtlMs: DAY })
  const fn = withBudget(async () => 'ok', {
    manager,
    context: { user: 'alice', org: 'acme' },
    estimate: 2,
    cost: () => 2,
  })
  const refused = () => isRefused(fn)
  return { clock, manager, fn, refused }
}

/** Whether a call of `fn` is refused for its budget (any other error is thrown). */
async function isRefused(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn()
    return false
  } catch (error) {
    if (isBudgetExceededError(error)) return true
    throw error
  }
}

describe('the kept plan of a static withBudget context', () => {
  it('moves to the next window when the day rolls over (the new day starts from zero)', async () => {
    const { clock, manager, fn, refused } = setup(Date.UTC(2026, 2, 10, 23, 59, 59))
    await manager.setBudget('user:alice', { maxBudget: 5, duration: 'daily' })
    await fn()
    await fn()
    expect(await refused()).toBe(true)
    clock.advance(1000)
    expect(await fn()).toBe('ok')
    expect(await fn()).toBe('ok')
    expect(await refused()).toBe(true)
    expect((await manager.getStatus('user:alice')).exact.spend).toBe('4.000000000')
  })

  it('drops a temporary increase when it expires, without any write to the budget', async () => {
    const { clock, manager, fn, refused } = setup()
    await manager.setBudget('user:alice', { maxBudget: 5, duration: 'monthly' })
    await manager.increaseBudget('user:alice', { amount: 4, until: clock.now() + 1000 })
    for (let i = 0; i < 3; i++) await fn()
    expect((await manager.getStatus('user:alice')).exact.spend).toBe('6.000000000')
    // Past the increase the limit is $5 again, and $6 are spent (at $9 one more call would fit).
    clock.advance(1000)
    expect(await refused()).toBe(true)
  })

  it('follows a budget changed, deleted and created between calls', async () => {
    const { manager, fn, refused } = setup()
    await manager.setBudget('user:alice', { maxBudget: 100, duration: 'monthly' })
    await fn()
    await manager.setBudget('user:alice', { maxBudget: 3, duration: 'monthly' })
    expect(await refused()).toBe(true)
    await manager.deleteBudget('user:alice')
    expect(await fn()).toBe('ok')
    await manager.setBudget('org:acme', { maxBudget: 1 })
    expect(await refused()).toBe(true)
  })

  it('counts a run budget the call is made in, and not once the run is over', async () => {
    const { manager, fn, refused } = setup()
    await manager.setBudget('user:alice', { maxBudget: 100, duration: 'monthly' })
    await fn()
    await manager.run({ maxBudget: 3, name: 'job' }, async () => {
      await fn()
      expect(await refused()).toBe(true)
    })
    expect(await fn()).toBe('ok')
    expect((await manager.getStatus('user:alice')).exact.spend).toBe('6.000000000')
  })

  it('is not shared by two wrappers of the same context with different estimates', async () => {
    const { manager, fn } = setup()
    await manager.setBudget('user:alice', { maxBudget: 5, duration: 'monthly' })
    const big = withBudget(async () => 'big', {
      manager,
      context: { user: 'alice', org: 'acme' },
      estimate: 4,
      cost: () => 0,
    })
    await fn()
    await expect(big()).rejects.toSatisfy(isBudgetExceededError)
    expect(await fn()).toBe('ok')
    await expect(big()).rejects.toSatisfy(isBudgetExceededError)
  })

  it('reserves each call`s own estimate when the estimate is a function of the arguments', async () => {
    const { manager } = setup()
    await manager.setBudget('user:alice', { maxBudget: 5, duration: 'monthly' })
    const fn = withBudget(async (_usd: number) => 'ok', {
      manager,
      context: { user: 'alice' },
      estimate: (usd) => usd,
      cost: () => 0,
    })
    expect(await fn(1)).toBe('ok')
    await expect(fn(6)).rejects.toSatisfy(isBudgetExceededError)
    expect(await fn(5)).toBe('ok')
  })
})

describe('the budget cache answering a kept plan`s budgets', () => {
  it('answers the same array while every budget is the same, a new one from the first that changed', async () => {
    const { BudgetCache } = await import('../../src/budget/manager/budget-cache.js')
    const { PolicyCompiler } = await import('../../src/budget/manager/policy.js')
    const clock = fakeClock(Date.UTC(2026, 2, 10, 12))
    const store = memoryStore()
    const cache = new BudgetCache(store, clock, new PolicyCompiler(new Map()), DAY, 100)
    const manager = new BudgetManager({ store, clock })
    await manager.setBudget('user:alice', { maxBudget: 5, duration: 'daily' })
    await manager.setBudget('org:acme', { maxBudget: 50, duration: 'monthly' })
    const scopes = [
      { type: 'user' as const, id: 'alice' },
      { type: 'org' as const, id: 'acme' },
      { type: 'team' as const, id: 'none' },
    ]
    const keys = ['user:alice', 'org:acme', 'team:none'] as const
    const now = clock.now()
    expect(cache.cached(keys, now)).toBeUndefined()
    const loaded = await cache.budgetsFor(scopes, keys, now)
    const first = cache.cached(keys, now)!
    expect(first).toEqual(loaded)
    expect(first[2]).toBeNull()
    expect(cache.cached(keys, now, first)).toBe(first)
    // A kept plan of other budgets (here: another order) is not answered.
    const other = [first[1]!, first[0]!, null]
    const fresh = cache.cached(keys, now, other)!
    expect(fresh).not.toBe(other)
    expect(fresh).toEqual(first)
    // A budget read again is a new object: a new array, the unchanged ones in place.
    await manager.setBudget('org:acme', { maxBudget: 60, duration: 'monthly' })
    await cache.load(scopes[1]!, keys[1])
    const after = cache.cached(keys, now, first)!
    expect(after).not.toBe(first)
    expect(after[0]).toBe(first[0])
    expect(after[1]).not.toBe(first[1])
    expect(after[2]).toBeNull()
    expect(cache.cached([], now, [])).toEqual([])
    expect(cache.cached([], now)).toEqual([])
    // Stale: not answered, kept plan or not.
    expect(cache.cached(keys, now + DAY, after)).toBeUndefined()
  })
})

// The budget cache gives a kept plan's budgets back without reading its entries again while nothing changed
// (`BudgetCache.cached`). Another manager's write to the shared store is seen exactly when the oldest of the
// entries is no longer fresh, or when the clock goes back before one was read, as when each entry was read.
describe('the budgets of a kept plan given again by the budget cache', () => {
  const TTL = 1_000

  async function twoManagers() {
    const store = memoryStore()
    const clock = fakeClock(Date.UTC(2026, 2, 10, 12))
    const a = new BudgetManager({ store, clock, budgetCacheTtlMs: TTL })
    const b = new BudgetManager({ store, clock, budgetCacheTtlMs: TTL })
    await a.setBudget('user:alice', { maxBudget: 100, duration: 'monthly' })
    await a.setBudget('org:acme', { maxBudget: 100, duration: 'monthly' })
    const fn = withBudget(async () => 'ok', {
      manager: a,
      context: { user: 'alice', org: 'acme' },
      estimate: 2,
      cost: () => 2,
    })
    const refused = () => isRefused(fn)
    return { clock, a, b, fn, refused }
  }

  it('reads a budget again when the oldest cached entry has expired, though another was read later', async () => {
    const { clock, a, b, fn, refused } = await twoManagers()
    const t0 = clock.now()
    await fn()
    clock.advance(500)
    // `org:acme` is read again at t0 + 500; `user:alice` stays the entry read at t0.
    await a.setBudget('org:acme', { maxBudget: 100, duration: 'monthly' })
    await fn()
    await fn()
    await b.setBudget('user:alice', { maxBudget: 1, duration: 'monthly' })
    clock.set(t0 + TTL - 1)
    expect(await refused()).toBe(false)
    clock.set(t0 + TTL)
    expect(await refused()).toBe(true)
  })

  it('reads a budget again when the clock goes back before it was read', async () => {
    const { clock, b, fn, refused } = await twoManagers()
    const t0 = clock.now()
    await fn()
    await fn()
    await b.setBudget('user:alice', { maxBudget: 1, duration: 'monthly' })
    expect(await refused()).toBe(false)
    clock.set(t0 - 1)
    expect(await refused()).toBe(true)
  })

  it('follows its own manager changing a budget between calls within the cache time', async () => {
    const { a, fn, refused } = await twoManagers()
    await fn()
    await fn()
    await a.setBudget('org:acme', { maxBudget: 1, duration: 'monthly' })
    expect(await refused()).toBe(true)
    await a.setBudget('org:acme', { maxBudget: 100, duration: 'monthly' })
    expect(await refused()).toBe(false)
  })
})
