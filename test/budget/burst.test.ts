// Burst windows (runaway protection): a budget limits a short window as well as its period, reserved in the same
// atomic store call, on the memory, file and Redis stores.
import { describe, expect, it } from 'vitest'
import { BudgetManager, validateDefinition, withBudget } from '../../src/budget/index.js'
import type { BudgetExceededEvent, BudgetOvershotEvent, ThresholdCrossedEvent } from '../../src/budget/index.js'
import { BudgetConfigError, BudgetExceededError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { fakeClock } from '../../src/testing/index.js'
import type { Duration } from '../../src/budget/windows.js'
import { storesForSuite } from '../helpers/shared-stores.js'

const { stores: STORES } = storesForSuite('burst')

async function refusal(promise: Promise<unknown>): Promise<BudgetExceededError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(BudgetExceededError)
  return error as BudgetExceededError
}

describe.each(STORES)('burst windows on the %s store', (_name, makeStore) => {
  it('a loop of calls is stopped by the burst limit with the period far from exhausted, and admitted again after the burst window rolls', async () => {
    const store = makeStore()
    const clock = fakeClock(Date.now())
    const manager = new BudgetManager({ store, clock })
    await manager.setBudget('user:agent', {
      maxBudget: 100,
      duration: 'monthly',
      burst: { maxBudget: 2, duration: '1m' },
    })
    const exceeded: BudgetExceededEvent[] = []
    manager.on('budget.exceeded', (e) => exceeded.push(e))
    const step = withBudget(async () => 'ok', { manager, context: { user: 'agent' }, estimate: 0.25, cost: () => 0.25 })

    // The stuck agent: a call every 100 ms until something stops it.
    let admitted = 0
    let stopped: BudgetExceededError | null = null
    for (let i = 0; i < 100 && stopped === null; i++) {
      try {
        await step()
        admitted++
        clock.advance(100)
      } catch (error) {
        stopped = error as BudgetExceededError
      }
    }
    expect(admitted).toBe(8)
    expect(stopped).toBeInstanceOf(BudgetExceededError)
    expect(stopped!.window).toBe('burst 1m')
    expect(stopped!.scope).toEqual({ type: 'user', id: 'agent' })
    expect(stopped!.limit).toBe(2)
    expect(stopped!.spent).toBe(2)
    expect(stopped!.message).toContain(
      'Budget exceeded for user:agent (burst 1m): requested $0.25, remaining $0.00 of $2.00',
    )
    expect(exceeded).toHaveLength(1)
    expect(exceeded[0]).toMatchObject({ scope: 'user:agent', burst: '1m', action: 'block', limit: 2, spent: 2 })

    const status = await manager.getStatus('user:agent')
    expect(status.spend).toBe(2)
    expect(status.remaining).toBe(98)
    expect(status.bursts).toHaveLength(1)
    expect(status.bursts![0]).toMatchObject({ duration: '1m', spend: 2, reserved: 0, limit: 2, remaining: 0 })
    expect(status.bursts![0]!.resetsAt.getTime()).toBe(stopped!.resetsAt!.getTime())
    expect(status.bursts![0]!.resetsAt.getTime() - status.bursts![0]!.windowStart.getTime()).toBe(60_000)

    // Still refused one millisecond before the burst window rolls; admitted as it rolls.
    clock.advance(stopped!.retryAfterMs! - 1)
    await refusal(step())
    clock.advance(1)
    await expect(step()).resolves.toBe('ok')
    const after = await manager.getStatus('user:agent')
    expect(after.spend).toBe(2.25)
    expect(after.bursts![0]).toMatchObject({ spend: 0.25, remaining: 1.75 })
    await store.close?.()
  })

  it('50 concurrent calls of $0.10 against a $2 burst: exactly 20 admitted, in one atomic reservation with the period', async () => {
    const store = makeStore()
    const clock = fakeClock(Date.now())
    const manager = new BudgetManager({ store, clock })
    await manager.setBudget('team:loop', {
      maxBudget: 1000,
      duration: 'monthly',
      burst: { maxBudget: 2, duration: '1m' },
    })
    const call = withBudget(async () => 'ok', { manager, context: { team: 'loop' }, estimate: 0.1, cost: () => 0.1 })
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => call()))
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(20)
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as BudgetExceededError).window).toBe('burst 1m')
    const status = await manager.getStatus('team:loop')
    expect(status.exact.spend).toBe('2.000000000')
    expect(status.reserved).toBe(0)
    expect(status.bursts![0]!.spend).toBe(2)
    await store.close?.()
  })
})

describe('burst windows: definition, events, status', () => {
  const setup = () => {
    const clock = fakeClock('2026-11-15T12:00:00Z')
    const manager = new BudgetManager({ store: memoryStore(), clock })
    return { clock, manager }
  }

  it('validates the option: shape, durations, limits, and names the field', () => {
    const field = (definition: unknown): string => {
      try {
        validateDefinition(definition)
      } catch (error) {
        expect(error).toBeInstanceOf(BudgetConfigError)
        return `${(error as BudgetConfigError).field}: ${(error as Error).message}`
      }
      throw new Error('accepted')
    }
    expect(field({ burst: { maxBudget: 2, duration: '1 minute' } })).toMatch(/^burst\.duration: `burst\.duration`/)
    expect(field({ burst: { maxBudget: -1, duration: '1m' } })).toMatch(/^burst\.maxBudget: .*>= 0/)
    expect(field({ burst: { maxBudget: 2 } })).toMatch(/^burst\.duration/)
    expect(field({ burst: { maxBudget: 2, duration: '1m', window: '1m' } })).toMatch(
      /^burst\.window: .*unknown option `window`; known: maxBudget, duration/,
    )
    expect(
      field({
        burst: [
          { maxBudget: 2, duration: '1m' },
          { maxBudget: 3, duration: '1m' },
        ],
      }),
    ).toMatch(/^burst\[1\]\.duration: .*listed twice/)
    expect(field({ burst: [] })).toMatch(/^burst: `burst` lists 1 to 4 limits, got 0/)
    expect(field({ burst: 2 })).toMatch(/^burst: `burst` must be `\{ maxBudget, duration \}`/)
    expect(field({ bursts: { maxBudget: 2, duration: '1m' } })).toMatch(/^bursts: Unknown budget option `bursts`/)
    // Valid shapes come back as given.
    expect(validateDefinition({ burst: { maxBudget: 2, duration: '1m' } }).burst).toEqual({
      maxBudget: 2,
      duration: '1m',
    })
    expect(
      validateDefinition({
        burst: [
          { maxBudget: 2, duration: '1m' },
          { maxBudget: 5, duration: 'daily' },
        ],
      }).burst,
    ).toEqual([
      { maxBudget: 2, duration: '1m' },
      { maxBudget: 5, duration: 'daily' },
    ])
  })

  it('a bad burst changes nothing: setBudget refuses before writing', async () => {
    const { manager } = setup()
    await expect(
      // A duration that arrives at run time (the type refuses 'soon' at compile time).
      manager.setBudget('user:a', { maxBudget: 5, burst: { maxBudget: 1, duration: 'soon' as Duration } }),
    ).rejects.toThrow(BudgetConfigError)
    expect(await manager.getBudget('user:a')).toBeNull()
  })

  it('several bursts: the first that would be exceeded refuses and is named', async () => {
    const { manager, clock } = setup()
    await manager.setBudget('user:a', {
      maxBudget: 100,
      duration: 'monthly',
      burst: [
        { maxBudget: 2, duration: '1m' },
        { maxBudget: 5, duration: '1h' },
      ],
    })
    let admitted = 0
    let stop: BudgetExceededError | null = null
    for (let minute = 0; minute < 10 && stop === null; minute++) {
      for (let i = 0; i < 4; i++) {
        try {
          await (await manager.reserve({ user: 'a' }, 0.5)).commit(0.5)
          admitted++
        } catch (error) {
          if ((error as BudgetExceededError).window === 'burst 1h') stop = error as BudgetExceededError
          break
        }
      }
      clock.advance(60_000)
    }
    // $2 in each of the first two minutes, $1 in the third: the hour's $5 stops it.
    expect(admitted).toBe(10)
    expect(stop?.window).toBe('burst 1h')
    const status = await manager.getStatus('user:a')
    expect(status.bursts!.map((b) => [b.duration, b.spend])).toEqual([
      ['1m', 0],
      ['1h', 5],
    ])
  })

  it('thresholds and the forecast follow the period only; an overshoot of a burst is reported with its window', async () => {
    const { manager, clock } = setup()
    await manager.setBudget('user:a', {
      maxBudget: 4,
      duration: 'monthly',
      alertThresholds: [0.5],
      burst: { maxBudget: 1, duration: '1m' },
    })
    const crossed: ThresholdCrossedEvent[] = []
    const overshot: BudgetOvershotEvent[] = []
    manager.on('threshold.crossed', (e) => crossed.push(e))
    manager.on('budget.overshot', (e) => overshot.push(e))
    await (await manager.reserve({ user: 'a' }, 1)).commit(1)
    expect(crossed).toEqual([]) // the burst is full, the period is at 25%
    clock.advance(60_000)
    // Estimated $0.50, actually $1.20: the burst is overshot by $0.20, the period is not.
    const outcome = await (await manager.reserve({ user: 'a' }, 0.5)).commit(1.2)
    expect(outcome.overshoot).toEqual([{ scope: 'user:a', burst: '1m', limit: 1, spent: 1.2, overshoot: 0.2 }])
    expect(overshot).toHaveLength(1)
    expect(overshot[0]).toMatchObject({ scope: 'user:a', burst: '1m', limit: 1, overshoot: 0.2 })
    expect(crossed.map((e) => [e.fraction, e.spend])).toEqual([[0.5, 2.2]])
  })

  it("follows onExceeded: a 'warn' budget admits over its burst and says so", async () => {
    const { manager } = setup()
    await manager.setBudget('user:w', { onExceeded: 'warn', burst: { maxBudget: 1, duration: '1m' } })
    const events: BudgetExceededEvent[] = []
    manager.on('budget.exceeded', (e) => events.push(e))
    await (await manager.reserve({ user: 'w' }, 0.8)).commit(0.8)
    await (await manager.reserve({ user: 'w' }, 0.8)).commit(0.8)
    expect(events).toHaveLength(1)
    expect(events[0]).toMatchObject({ scope: 'user:w', burst: '1m', action: 'warn', limit: 1, spent: 0.8 })
    expect((await manager.getStatus('user:w')).bursts![0]!.spend).toBe(1.6)
  })

  it("routing's refusals name the burst window that refused each deployment", async () => {
    const { manager } = setup()
    await manager.setBudget('provider:openai', { burst: { maxBudget: 0.000001, duration: '1m' } })
    await manager.setBudget('provider:anthropic', { maxBudget: 50, burst: { maxBudget: 0.000001, duration: '5m' } })
    const error = await refusal(
      manager.selectDeployment(
        [
          { id: 'oai', model: 'gpt-4o-mini', provider: 'openai' },
          { id: 'claude', model: 'claude-3-5-haiku-20241022', provider: 'anthropic' },
        ],
        { context: { user: 'a' }, estimate: { inputTokens: 1000, maxOutputTokens: 500 } },
      ),
    )
    expect(error.refusals!.map((r) => [r.deployment, r.scope])).toEqual([
      ['oai', { type: 'provider', id: 'openai' }],
      ['claude', { type: 'provider', id: 'anthropic' }],
    ])
    expect(error.refusals![0]!.message).toContain('Budget exceeded for provider:openai (burst 1m)')
    expect(error.refusals![1]!.message).toContain('Budget exceeded for provider:anthropic (burst 5m)')
  })

  it('a burst-only budget limits the burst; resetScope clears the burst window too', async () => {
    const { manager } = setup()
    await manager.setBudget('key:k', { burst: { maxBudget: 1, duration: '10m' } })
    await (await manager.reserve({ key: 'k' }, 1)).commit(1)
    const refused = await refusal(manager.reserve({ key: 'k' }, 0.01))
    expect(refused.window).toBe('burst 10m')
    await manager.resetScope('key:k')
    expect((await manager.getStatus('key:k')).bursts![0]!.spend).toBe(0)
    await expect(manager.reserve({ key: 'k' }, 1)).resolves.toBeDefined()
  })
})
