import { describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { BudgetConfigError, InvalidInputError, isBudgetError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { fakeClock, fakeOpenAI } from '../../src/testing/index.js'

async function snapshot(store: BudgetStore, manager: BudgetManager) {
  return JSON.stringify({
    budgets: await store.listBudgets(),
    records: await store.queryRecords({}),
    status: await manager.getStatus('user:alice'),
  })
}

async function setup() {
  const clock = fakeClock(Date.UTC(2026, 10, 15))
  const store = memoryStore()
  const manager = new BudgetManager({ store, clock })
  await manager.setBudget('user:alice', { maxBudget: 5, duration: 'monthly' })
  await manager.record({ user: 'alice' }, 1)
  return { store, manager }
}

describe('bad input is a typed error and changes nothing', () => {
  const bad: Array<[string, (m: BudgetManager) => Promise<unknown>]> = [
    ['negative estimate', (m) => m.reserve({ user: 'alice' }, -1)],
    ['NaN estimate', (m) => m.reserve({ user: 'alice' }, Number.NaN)],
    ['Infinity estimate', (m) => m.reserve({ user: 'alice' }, Number.POSITIVE_INFINITY)],
    ['string estimate', (m) => m.reserve({ user: 'alice' }, '1' as unknown as number)],
    ['negative record', (m) => m.record({ user: 'alice' }, -0.5)],
    ['NaN record', (m) => m.record({ user: 'alice' }, Number.NaN)],
    ['huge record', (m) => m.record({ user: 'alice' }, 1e12)],
    ['10,000-character id', (m) => m.reserve({ user: 'a'.repeat(10_000) }, 0.1)],
    ['empty id', (m) => m.reserve({ user: '' }, 0.1)],
    ['control characters', (m) => m.reserve({ user: 'al\u0000ice' }, 0.1)],
    ['unknown context field', (m) => m.reserve({ users: 'alice' } as never, 0.1)],
    ['unknown scope type', (m) => m.setBudget('planet:earth' as never, { maxBudget: 1 })],
    ['unknown scope type (object)', (m) => m.getStatus({ type: 'planet', id: 'earth' } as never)],
    ['scope without id', (m) => m.setBudget('user' as never, { maxBudget: 1 })],
    ['negative maxBudget', (m) => m.setBudget('user:alice', { maxBudget: -5 })],
    ['NaN maxBudget', (m) => m.setBudget('user:alice', { maxBudget: Number.NaN })],
    ['limit above 2^53 nano', (m) => m.setBudget('user:alice', { maxBudget: 10_000_000 })],
    ['bad duration', (m) => m.setBudget('user:alice', { maxBudget: 1, duration: 'fortnightly' as never })],
    ['bad timezone', (m) => m.setBudget('user:alice', { maxBudget: 1, timezone: 'Mars/Olympus' })],
    ['unknown option', (m) => m.setBudget('user:alice', { maxBudget: 1, max_budget: 2 } as never)],
    ['bad onExceeded', (m) => m.setBudget('user:alice', { maxBudget: 1, onExceeded: 'explode' as never })],
    ['negative rpm', (m) => m.setBudget('user:alice', { rpmLimit: -1 })],
    [
      '__proto__ model limit with bad value',
      (m) => m.setBudget('user:alice', JSON.parse('{"maxBudget":1,"modelMaxBudget":{"__proto__":{"maxBudget":-1}}}')),
    ],
    ['negative commit', async (m) => (await m.reserve({ user: 'alice' }, 0.1, { callId: 'neg-commit' })).commit(-1)],
    ['increase into the past', (m) => m.increaseBudget('user:alice', { amount: 1, until: 0 })],
    ['bad groupBy', (m) => m.querySpend({ groupBy: ['planet' as never] })],
  ]
  for (const [name, run] of bad) {
    it(name, async () => {
      const { store, manager } = await setup()
      const before = await snapshot(store, manager)
      const error = await run(manager).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(isBudgetError(error)).toBe(true)
      expect(error).toBeInstanceOf(InvalidInputError)
      // A reservation made by the test itself (negative commit) is still held and released here.
      await store.release({ callId: 'neg-commit', now: Date.UTC(2026, 10, 15) })
      expect(await snapshot(store, manager)).toBe(before)
    })
  }

  it('config errors name the field and the fix', async () => {
    const { manager } = await setup()
    const error = (await manager
      .setBudget('user:alice', { maxBudget: -5 })
      .catch((e: unknown) => e)) as BudgetConfigError
    expect(error).toBeInstanceOf(BudgetConfigError)
    expect(error.field).toBe('maxBudget')
    expect(error.message).toContain('`maxBudget`')
    const unknown = (await manager
      .setBudget('user:alice', { maxBudget: 1, max_budget: 2 } as never)
      .catch((e: unknown) => e)) as BudgetConfigError
    expect(unknown.field).toBe('max_budget')
    expect(() => new BudgetManager({ holdTtlMs: -1 })).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ defaults: { planet: { maxBudget: 1 } } as never })).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ defaults: { endUser: { maxBudget: -1 } } })).toThrow(/defaults\.endUser/)
  })

  it('__proto__, constructor and toString are plain ids', async () => {
    const { manager } = await setup()
    for (const id of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      await manager.setBudget(
        { type: 'user', id },
        { maxBudget: 1, modelMaxBudget: JSON.parse(`{"${id}":{"maxBudget":0.5}}`) },
      )
      await (await manager.reserve({ user: id, model: id, tags: [id] }, 0.25)).commit(0.25)
      expect((await manager.getStatus({ type: 'user', id })).spend).toBe(0.25)
      const models = await manager.getModelCost(id)
      expect(Object.keys(models)).toEqual([id])
      expect(Object.getOwnPropertyDescriptor(models, id)?.value).toBe(0.25)
    }
    expect(({} as Record<string, unknown>).maxBudget).toBeUndefined()
    const users = await manager.getUsers()
    expect(users).toEqual(expect.arrayContaining(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'alice']))
  })

  it('ids with separators never share a ledger key', async () => {
    const { manager } = await setup()
    await manager.setBudget('user:a|b', { maxBudget: 1 })
    await manager.setBudget('user:a%7Cb', { maxBudget: 1 })
    await manager.record({ user: 'a|b' }, 0.5)
    expect((await manager.getStatus('user:a%7Cb')).spend).toBe(0)
    expect((await manager.getStatus('user:a|b')).spend).toBe(0.5)
    const long1 = `${'x'.repeat(250)}1`
    const long2 = `${'x'.repeat(250)}2`
    await manager.setBudget({ type: 'team', id: long1 }, { maxBudget: 1 })
    await manager.setBudget({ type: 'team', id: long2 }, { maxBudget: 1 })
    await manager.record({ team: long1 }, 0.75)
    expect((await manager.getStatus({ type: 'team', id: long2 })).spend).toBe(0)
  })
})

describe('no prompt or response content is ever stored', () => {
  it('a canary string in prompts and replies never appears in any record, event, error or history', async () => {
    const CANARY = 'CANARY-7f3a9c-do-not-store'
    const clock = fakeClock(Date.UTC(2026, 10, 15))
    const store = memoryStore()
    const manager = new BudgetManager({ store, clock })
    const seen: unknown[] = []
    for (const event of [
      'budget.exceeded',
      'budget.overshot',
      'threshold.crossed',
      'spend.recorded',
      'store.error',
      'budget.changed',
    ] as const)
      manager.on(event, (e) => seen.push(e))
    await manager.setBudget('user:alice', { maxBudget: 0.00012, alertThresholds: [0.5] })
    const client = fakeOpenAI({ reply: `the reply repeats ${CANARY}`, inputTokens: 100, outputTokens: 50 })
    const chat = withBudget(
      (request: {
        model: string
        messages: { role: string; content: string }[]
        max_tokens: number
        stream?: boolean
        stream_options?: { include_usage: boolean }
      }) => client.chat.completions.create(request),
      {
        manager,
        context: { user: 'alice' },
      },
    )
    const messages = [{ role: 'user', content: `secret prompt ${CANARY}` }]
    const errors: unknown[] = []
    for (let i = 0; i < 5; i++) {
      try {
        const result = await chat({
          model: 'gpt-4o-mini',
          messages,
          max_tokens: 100,
          stream: i % 2 === 1,
          stream_options: { include_usage: true },
        })
        if (i % 2 === 1) for await (const _ of result as AsyncIterable<unknown>) break
      } catch (error) {
        errors.push(error)
      }
    }
    expect(errors.length).toBeGreaterThan(0)
    const everything = JSON.stringify({
      records: await store.queryRecords({}),
      budgets: await store.listBudgets(),
      history: await store.getHistory('user:alice'),
      events: seen,
      errors: errors.map((e) => ({ message: (e as Error).message, ...(e as object) })),
      report: await manager.querySpend({ groupBy: ['day', 'model', 'user'] }),
    })
    expect(everything.length).toBeGreaterThan(100)
    expect(everything).not.toContain(CANARY)
    expect(everything).not.toContain('secret prompt')
  })
})

describe('call ids given by the caller', () => {
  it('reserve and record refuse the same over-long call id, and change nothing', async () => {
    const manager = new BudgetManager()
    const callId = 'c'.repeat(121)
    await expect(manager.reserve({ user: 'alice' }, 0.01, { callId })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'callId',
    })
    await expect(manager.record({ user: 'alice' }, 0.01, { callId })).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      field: 'callId',
    })
    expect(await manager.spendRecords({})).toEqual([])
  })
})
