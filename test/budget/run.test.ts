// Run budgets (runaway protection): `manager.run({ maxBudget }, fn)` gives an agent run its own budget, drawn on
// by every budgeted call inside it in the same atomic reservation as the scopes' budgets; nested runs are capped
// by their parents; sibling runs are isolated.
import { describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import type { BudgetExceededEvent, BudgetRun } from '../../src/budget/index.js'
import { BudgetConfigError, BudgetExceededError, InvalidInputError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import { fakeClock } from '../../src/testing/index.js'
import { storesForSuite } from '../helpers/shared-stores.js'

const { stores: STORES, redis } = storesForSuite('run')

const settle = async (promises: Promise<unknown>[]) => {
  const results = await Promise.allSettled(promises)
  const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason)
  return { admitted: results.length - refused.length, refused: refused as BudgetExceededError[] }
}

describe.each(STORES)('run budgets on the %s store', (_name, makeStore) => {
  it('50 concurrent $1 calls inside a $20 run: exactly 20 admitted, the run reports $20 spent', async () => {
    const store = makeStore()
    const manager = new BudgetManager({ store })
    await manager.setBudget('team:agents', { maxBudget: 1000, duration: 'monthly' })
    const call = withBudget(async () => 'ok', { manager, context: { team: 'agents' }, estimate: 1, cost: () => 1 })
    const { run, outcome } = await manager.run({ maxBudget: 20, name: 'loop' }, async (run) => ({
      run,
      outcome: await settle(Array.from({ length: 50 }, () => call())),
    }))
    expect(outcome.admitted).toBe(20)
    expect(outcome.refused).toHaveLength(30)
    for (const error of outcome.refused) {
      expect(error).toBeInstanceOf(BudgetExceededError)
      expect(error.scope).toEqual({ type: 'run', id: 'loop' })
    }
    expect(outcome.refused[0]!.message).toContain(
      'Budget exceeded for run:loop: requested $1.00, remaining $0.00 of $20.00',
    )
    expect(await run.spent()).toBe(20)
    expect((await run.status()).exact).toEqual({
      spent: '20.000000000',
      reserved: '0.000000000',
      limit: '20.000000000',
      remaining: '0.000000000',
    })
    // The scope's budget got the same 20 calls, in the same reservations.
    expect((await manager.getStatus('team:agents')).spend).toBe(20)
    await store.close?.()
  })
})

describe('run budgets', () => {
  const setup = () => {
    const clock = fakeClock('2026-11-15T12:00:00Z')
    const store = memoryStore()
    const manager = new BudgetManager({ store, clock })
    return { clock, store, manager }
  }

  it('finds the run through AsyncLocalStorage on Node', async () => {
    const { manager } = setup()
    await manager.run({ maxBudget: 1 }, (run) => {
      expect(run.automatic).toBe(true)
      expect(run.parent).toBeNull()
      expect(run.limit).toBe(1)
    })
  })

  it('reports what it spent exactly (integer nano-USD), nested runs included', async () => {
    const { manager } = setup()
    const costs = [0.1, 0.2, 0.000000001, 0.3, 1e-9, 0.07]
    const spent = await manager.run({ maxBudget: 5 }, async (run) => {
      for (const cost of costs.slice(0, 3)) await (await manager.reserve({ user: 'a' }, cost)).commit(cost)
      await manager.run({ maxBudget: 5 }, async () => {
        for (const cost of costs.slice(3)) await (await manager.reserve({ user: 'a' }, 1)).commit(cost)
      })
      return (await run.status()).exact.spent
    })
    expect(spent).toBe('0.670000002')
  })

  it('a call outside any run is unaffected by an exhausted run', async () => {
    const { manager } = setup()
    await manager.run({ maxBudget: 0.5 }, async () => {
      await (await manager.reserve({ user: 'a' }, 0.5)).commit(0.5)
      await expect(manager.reserve({ user: 'a' }, 0.01)).rejects.toThrow(BudgetExceededError)
    })
    await expect(manager.reserve({ user: 'a' }, 10)).resolves.toBeDefined()
    // A call with no budget at all outside a run writes no reservation (nothing to check).
    const free = await manager.reserve({}, 1)
    expect(free.callId).toBeTruthy()
  })

  it('nested runs draw on the parent: a child limit above the parent remainder is capped by the parent', async () => {
    const { manager } = setup()
    const events: BudgetExceededEvent[] = []
    manager.on('budget.exceeded', (e) => events.push(e))
    await manager.run({ maxBudget: 10, name: 'parent' }, async (parent) => {
      await (await manager.reserve({ user: 'a' }, 7)).commit(7)
      const { child, outcome } = await manager.run({ maxBudget: 5, name: 'child' }, async (child) => {
        expect(child.parent).toBe(parent)
        const outcome = await settle(
          Array.from({ length: 10 }, () => manager.reserve({ user: 'a' }, 1).then((r) => r.commit(1))),
        )
        return { child, outcome }
      })
      expect(outcome.admitted).toBe(3)
      for (const error of outcome.refused) expect(error.scope).toEqual({ type: 'run', id: 'parent' })
      expect(await child.spent()).toBe(3)
      expect(await parent.spent()).toBe(10)
      expect((await child.status()).remaining).toBe(2) // its own limit; the parent leaves it nothing
    })
    expect(events.every((e) => e.scope === 'run:parent' && e.action === 'block')).toBe(true)
    expect(events).toHaveLength(7)
  })

  it('a child refused by its own limit leaves the parent its remainder', async () => {
    const { manager } = setup()
    await manager.run({ maxBudget: 10 }, async (parent) => {
      await manager.run({ maxBudget: 2, name: 'small' }, async () => {
        await (await manager.reserve({}, 2)).commit(2)
        const refused = (await manager.reserve({}, 1).catch((e: unknown) => e)) as BudgetExceededError
        expect(refused.scope).toEqual({ type: 'run', id: 'small' })
      })
      await (await manager.reserve({}, 8)).commit(8)
      expect(await parent.spent()).toBe(10)
    })
  })

  it('parallel sibling runs are isolated', async () => {
    const { manager } = setup()
    const agent = (name: string) =>
      manager.run({ maxBudget: 1, name }, async (run) => {
        const outcome = await settle(
          Array.from({ length: 20 }, async () => {
            await new Promise((resolve) => setTimeout(resolve, Math.random() * 5))
            const r = await manager.reserve({ team: 't' }, 0.1)
            await r.commit(0.1)
          }),
        )
        for (const error of outcome.refused) expect(error.scope).toEqual({ type: 'run', id: name })
        return { admitted: outcome.admitted, spent: await run.spent() }
      })
    const results = await Promise.all([agent('a'), agent('b'), agent('c')])
    expect(results).toEqual([
      { admitted: 10, spent: 1 },
      { admitted: 10, spent: 1 },
      { admitted: 10, spent: 1 },
    ])
  })

  it('the explicit handle: a call that names the run in its context draws on it (no AsyncLocalStorage needed)', async () => {
    const { manager } = setup()
    let handle: BudgetRun | undefined
    await manager.run({ maxBudget: 1, name: 'explicit' }, (run) => {
      handle = run
    })
    // Outside the run's function, as code without AsyncLocalStorage would be: only the context links the call.
    await (await manager.reserve(handle!.context({ user: 'a' }), 0.6)).commit(0.6)
    const refused = (await manager
      .reserve({ user: 'a', run: handle! }, 0.6)
      .catch((e: unknown) => e)) as BudgetExceededError
    expect(refused).toBeInstanceOf(BudgetExceededError)
    expect(refused.scope).toEqual({ type: 'run', id: 'explicit' })
    const wrapped = withBudget(async () => 'ok', { manager, context: handle!.context({ user: 'a' }), estimate: 0.4 })
    await expect(wrapped()).resolves.toBe('ok')
    expect(await handle!.spent()).toBe(1)
  })

  it('a reservation made in a run and committed after it ends still counts on the run; record() in a run counts too', async () => {
    const { manager } = setup()
    const { run, held } = await manager.run({ maxBudget: 2 }, async (run) => {
      await manager.record({ user: 'a' }, 0.5)
      return { run, held: await manager.reserve({ user: 'a' }, 1) }
    })
    expect((await run.status()).reserved).toBe(1)
    await held.commit(0.75)
    expect(await run.spent()).toBe(1.25)
  })

  it("the run's key expires ttlMs after its last call", async () => {
    const { manager, clock } = setup()
    const run = await manager.run({ maxBudget: 1, ttlMs: 3_600_000 }, async (run) => {
      await (await manager.reserve({ user: 'a' }, 0.5)).commit(0.5)
      return run
    })
    clock.advance(3_599_999)
    expect(await run.spent()).toBe(0.5)
    clock.advance(1)
    expect(await run.spent()).toBe(0)
  })

  it("on Redis the run's key carries the expiry: ttlMs after the last call", async () => {
    const prefix = `run-ttl-${process.pid}`
    const manager = new BudgetManager({ store: redisStore({ client: redis(), prefix, expiryMarginMs: 0 }) })
    const run = await manager.run({ maxBudget: 1, ttlMs: 3_600_000 }, async (run) => {
      await (await manager.reserve({ user: 'a' }, 0.5)).commit(0.5)
      return run
    })
    const [, keys] = await redis().scan('0', 'MATCH', `{${prefix}}:*r:${run.id}*`, 'COUNT', 1000)
    expect(keys).toHaveLength(1)
    const ttl = await redis().pttl(keys[0]!)
    expect(ttl).toBeGreaterThan(3_500_000)
    expect(ttl).toBeLessThanOrEqual(3_600_000)
  })

  it('a run refusal is reported like any budget: event, and the scopes keep nothing', async () => {
    const { manager } = setup()
    await manager.setBudget('user:a', { maxBudget: 100 })
    await manager.run({ maxBudget: 0.1, name: 'tiny' }, async () => {
      await expect(manager.reserve({ user: 'a' }, 0.2)).rejects.toThrow(/run:tiny.*a run's budget does not reset/)
    })
    const status = await manager.getStatus('user:a')
    expect([status.spend, status.reserved]).toEqual([0, 0])
  })

  it('a commit above the run limit is reported as overshoot of the run (the money was spent)', async () => {
    const { manager } = setup()
    const overshot: string[] = []
    manager.on('budget.overshot', (e) => overshot.push(`${e.scope} ${e.overshoot}`))
    const outcome = await manager.run({ maxBudget: 0.3, name: 'over' }, async () =>
      (await manager.reserve({ user: 'a' }, 0.1)).commit(0.5),
    )
    expect(outcome.overshoot).toEqual([{ scope: 'run:over', limit: 0.3, spent: 0.5, overshoot: 0.2 }])
    expect(overshot).toEqual(['run:over 0.2'])
  })

  it('refuses bad options and foreign runs with typed errors, starting nothing', async () => {
    const { manager } = setup()
    const other = new BudgetManager({ store: memoryStore() })
    let ran = false
    const fn = () => {
      ran = true
    }
    await expect(manager.run({ maxBudget: -1 }, fn)).rejects.toThrow(BudgetConfigError)
    await expect(manager.run({} as never, fn)).rejects.toThrow(/maxBudget/)
    await expect(manager.run({ maxBudget: 1, maxBudjet: 2 } as never, fn)).rejects.toThrow(/Did you mean `maxBudget`/)
    await expect(manager.run({ maxBudget: 1, ttlMs: 10 }, fn)).rejects.toThrow(/hold TTL/)
    await expect(manager.run({ maxBudget: 1, name: '' }, fn)).rejects.toThrow(BudgetConfigError)
    await expect(manager.run({ maxBudget: 1, parent: {} as BudgetRun }, fn)).rejects.toThrow(BudgetConfigError)
    expect(ran).toBe(false)
    await other.run({ maxBudget: 1 }, async (foreign) => {
      // A run of another store: naming it is an error; inside it, this manager's calls are not drawn on it.
      await expect(manager.reserve({ run: foreign }, 0.1)).rejects.toThrow(InvalidInputError)
      await (await manager.reserve({}, 5)).commit(5)
      expect(await foreign.spent()).toBe(0)
    })
    await expect(manager.reserve({ run: 'run-1' as never }, 0.1)).rejects.toThrow(InvalidInputError)
  })
})
