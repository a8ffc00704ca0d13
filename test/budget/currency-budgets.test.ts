// Budgets declared in another currency: exact admission at the converted limit, the rate pinned per window (a rate
// change inside a window does not move the limit, the next window reads it again), two managers on one Redis agree on
// the pinned rate, records keep their rate, messages and alerts format the currency, and bad input changes nothing.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, type BudgetExceededEvent } from '../../src/budget/index.js'
import { alertText } from '../../src/budget/alerts.js'
import { BudgetConfigError, BudgetExceededError } from '../../src/errors.js'
import { fileStore } from '../../src/stores/file.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import { fakeClock } from '../../src/testing/index.js'
import { runCli } from '../helpers/cli.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const T0 = Date.UTC(2026, 10, 15, 12, 0, 0) // 15 Nov 2026, in the window m2026-11
const NANO = 0.000000001

function setup(options: ConstructorParameters<typeof BudgetManager>[0] = {}) {
  const clock = fakeClock(T0)
  const store = memoryStore()
  const manager = new BudgetManager({ store, clock, ...options })
  return { clock, store, manager }
}

describe('a budget in EUR', () => {
  it('admits exactly up to the converted limit: €100 at 1.08 USD/EUR is $108.000000000, one nano-USD more is refused', async () => {
    const { manager } = setup({ exchangeRates: { EUR: 1.08 } })
    await manager.setBudget('user:alice', { maxBudget: 100, currency: 'EUR', duration: 'monthly' })
    await manager.setBudget('user:bob', { maxBudget: 100, currency: 'eur', duration: 'monthly' })

    // alice: $100 + $8 fills $108 exactly (100 EUR x 1.08 = 108 USD, by hand); then 1 nano-USD does not fit.
    const first = await manager.reserve({ user: 'alice' }, 100)
    const second = await manager.reserve({ user: 'alice' }, 8)
    await expect(manager.reserve({ user: 'alice' }, NANO)).rejects.toBeInstanceOf(BudgetExceededError)
    await first.commit(100)
    await second.commit(8)
    // bob: one call of $108.000000001 (exceeds by 1 nano) is refused; $108 exactly is admitted.
    const over = await manager.reserve({ user: 'bob' }, 108.000000001).catch((error: unknown) => error)
    expect(over).toBeInstanceOf(BudgetExceededError)
    const refusal = over as BudgetExceededError
    expect(refusal.limit).toBe(108)
    expect(refusal.currency).toBe('EUR')
    expect(refusal.rate).toBe(1.08)
    expect(refusal.message).toContain('of €100.00 ($108.00)')
    await (await manager.reserve({ user: 'bob' }, 108)).commit(108)

    const status = await manager.getStatus('user:alice')
    expect(status.currency).toBe('EUR')
    expect(status.rate).toBe(1.08)
    expect(status.rateAt).toEqual(new Date(T0))
    expect(status.limit).toBe(100)
    expect(status.spend).toBe(100)
    expect(status.remaining).toBe(0)
    expect(status.usd).toMatchObject({ spend: 108, limit: 108, remaining: 0, reserved: 0 })
    expect(status.exact.limit).toBe('108.000000000')
    expect(status.exact.spend).toBe('108.000000000')
    expect(status.percentUsed).toBe(100)
    expect((await manager.getBudget('user:bob'))!.definition.currency).toBe('EUR')
  })

  it('keeps the window rate when the rate changes between calls; the next window reads the new rate', async () => {
    let rate = 1.08
    const asked: string[] = []
    const { manager, clock } = setup({
      exchangeRates: async (code, at) => {
        asked.push(`${code}@${at.toISOString()}`)
        return rate
      },
    })
    await manager.setBudget('team:paris', { maxBudget: 100, currency: 'EUR', duration: 'monthly' })
    expect(asked).toEqual(['EUR@2026-11-15T12:00:00.000Z'])
    await (await manager.reserve({ team: 'paris' }, 50)).commit(50)

    rate = 2 // 100 EUR would now be $200: the November window stays at $108
    clock.advance(3_600_000)
    await (await manager.reserve({ team: 'paris' }, 58)).commit(58)
    await expect(manager.reserve({ team: 'paris' }, NANO)).rejects.toBeInstanceOf(BudgetExceededError)
    let status = await manager.getStatus('team:paris')
    expect(status.usd.limit).toBe(108)
    expect(status.rate).toBe(1.08)
    expect(asked).toHaveLength(1)

    rate = 0.5 // a fall would not breach November either: spend $108 stays within its $108
    expect((await manager.getStatus('team:paris')).remaining).toBe(0)

    clock.set(Date.UTC(2026, 11, 1, 0, 0, 5)) // December: a new window reads the rate again
    await (await manager.reserve({ team: 'paris' }, 50)).commit(50)
    await expect(manager.reserve({ team: 'paris' }, NANO)).rejects.toBeInstanceOf(BudgetExceededError)
    status = await manager.getStatus('team:paris')
    expect(status.windowId).toBe('m2026-12')
    expect(status.rate).toBe(0.5)
    expect(status.rateAt).toEqual(new Date(Date.UTC(2026, 11, 1, 0, 0, 5)))
    expect(status.usd).toMatchObject({ limit: 50, spend: 50 })
    expect(status.limit).toBe(100)
    expect(asked).toEqual(['EUR@2026-11-15T12:00:00.000Z', 'EUR@2026-12-01T00:00:05.000Z'])

    // The pins are in the stored budget and its history, with their times.
    const history = await manager.getHistory('team:paris')
    const pins = history.filter((h) => h.reason?.startsWith('exchange rate pinned'))
    expect(pins.map((h) => h.reason)).toEqual(['exchange rate pinned for window m2026-12: 1 EUR = 0.5 USD'])
    expect(pins[0]!.new).toMatchObject({ rate: { window: 'm2026-12', rate: 0.5, at: Date.UTC(2026, 11, 1, 0, 0, 5) } })
    const stored = (await manager.store.getBudget('team:paris'))!.definition as { rates: Record<string, unknown> }
    expect(stored.rates).toEqual({
      'm2026-11': { rate: 1.08, at: T0 },
      'm2026-12': { rate: 0.5, at: Date.UTC(2026, 11, 1, 0, 0, 5) },
    })
  })

  it('records keep the currency and rate they used; several currencies list every rate', async () => {
    const { manager } = setup({ exchangeRates: { EUR: 1.08, GBP: 1.27 } })
    await manager.setBudget('user:alice', { maxBudget: 100, currency: 'EUR', duration: 'daily' })
    await manager.setBudget('team:london', { maxBudget: 100, currency: 'GBP', duration: 'daily' })
    const one = await manager.record({ user: 'alice' }, 2)
    expect(one.record).toMatchObject({ currency: 'EUR', rate: 1.08, costNanoUsd: 2_000_000_000 })
    const both = await (await manager.reserve({ user: 'alice', team: 'london' }, 1)).commit(1)
    // The first budget in scope order (team before user) names `currency` and `rate`; `rates` lists all.
    expect(both.record).toMatchObject({ currency: 'GBP', rate: 1.27, rates: { EUR: 1.08, GBP: 1.27 } })
    const plain = await manager.record({ user: 'carol' }, 1)
    expect(plain.record).not.toHaveProperty('currency')
    const records = await manager.spendRecords({ scope: 'user:alice' })
    expect(records.map((r) => [r['currency'], r['rate'], r['rates']])).toEqual([
      ['EUR', 1.08, undefined],
      ['GBP', 1.27, { EUR: 1.08, GBP: 1.27 }],
    ])
  })

  it('rolling windows shorter than a day share the rate of their UTC day', async () => {
    let rate = 1.1
    const { manager, clock } = setup({ exchangeRates: () => rate })
    await manager.setBudget('key:k1', { maxBudget: 10, currency: 'EUR', duration: '1h' })
    const first = await manager.getStatus('key:k1')
    expect(first.usd.limit).toBe(11)
    rate = 1.2
    clock.advance(2 * 3_600_000) // two hourly windows later, same UTC day: same rate
    const later = await manager.getStatus('key:k1')
    expect(later.windowId).not.toBe(first.windowId)
    expect(later.usd.limit).toBe(11)
    clock.set(Date.UTC(2026, 10, 16, 0, 30)) // the next UTC day: the rate is read again
    const nextDay = await manager.getStatus('key:k1')
    expect(nextDay.usd.limit).toBe(12)
    expect(nextDay.rate).toBe(1.2)
  })

  it('a budget without a window pins its rate per write: kept between calls, read again by setBudget', async () => {
    let rate = 1.08
    const { manager } = setup({ exchangeRates: () => rate })
    await manager.setBudget('org:acme', { maxBudget: 100, currency: 'EUR' })
    rate = 1.5
    expect((await manager.getStatus('org:acme')).usd.limit).toBe(108)
    await manager.setBudget('org:acme', { maxBudget: 100, currency: 'EUR' })
    expect((await manager.getStatus('org:acme')).usd.limit).toBe(150)
  })

  it('events and alert text carry the currency; increases are in the budget currency', async () => {
    const { manager } = setup({ exchangeRates: { EUR: 2 } })
    await manager.setBudget('user:alice', { maxBudget: 10, currency: 'EUR', duration: 'daily', alertThresholds: [0.5] })
    const exceeded: BudgetExceededEvent[] = []
    const crossed: string[] = []
    manager.on('budget.exceeded', (e) => exceeded.push(e))
    manager.on('threshold.crossed', (e) => crossed.push(alertText(e)))
    await manager.record({ user: 'alice' }, 12) // $12 = €6, over the 50% alert of €10
    await expect(manager.reserve({ user: 'alice' }, 9)).rejects.toBeInstanceOf(BudgetExceededError)
    expect(exceeded[0]).toMatchObject({ currency: 'EUR', rate: 2, limit: 20 })
    expect(alertText(exceeded[0]!)).toContain('limit €10.00 ($20.00), spent €6.00 ($12.00)')
    expect(crossed[0]).toContain('spend €6.00 ($12.00) crossed the 50% alert of €5.00 ($10.00)')
    await manager.increaseBudget('user:alice', { amount: 5, until: T0 + 3_600_000 }) // +€5 = +$10
    expect((await manager.getStatus('user:alice')).usd.limit).toBe(30)
    await (await manager.reserve({ user: 'alice' }, 18)).commit(18)
    await expect(manager.reserve({ user: 'alice' }, NANO)).rejects.toBeInstanceOf(BudgetExceededError)
  })
})

describe('rate failures and bad input change nothing', () => {
  it('a failing async rate function is a BudgetConfigError and nothing is reserved', async () => {
    let fail = false
    const { manager, clock, store } = setup({
      exchangeRates: async () => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        if (fail) throw new Error('rates service unavailable')
        return 1.08
      },
    })
    await manager.setBudget('user:alice', { maxBudget: 100, currency: 'EUR', duration: 'daily' })
    fail = true
    // Creating another budget needs the rate: refused, nothing written.
    const create = await manager.setBudget('user:bob', { maxBudget: 5, currency: 'EUR' }).catch((e: unknown) => e)
    expect(create).toBeInstanceOf(BudgetConfigError)
    expect((create as BudgetConfigError).message).toContain('rates service unavailable')
    expect(await manager.getBudget('user:bob')).toBeNull()
    expect(await manager.getHistory('user:bob')).toEqual([])

    clock.advance(86_400_000) // a new day: its window needs a rate, which cannot be read
    const before = await store.listBudgets()
    const refused = await manager.reserve({ user: 'alice' }, 1).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(BudgetConfigError)
    expect((refused as BudgetConfigError).field).toBe('exchangeRates')
    expect(await store.listBudgets()).toEqual(before)
    fail = false
    await manager.reserve({ user: 'alice' }, 1)
    const status = await manager.getStatus('user:alice')
    expect(status.usd.reserved).toBe(1) // only the call after the recovery holds anything
    expect(await manager.spendRecords()).toEqual([])
  })

  it("refuses 'EUX', a rate <= 0, and a currency without a rate, leaving the budget as it was", async () => {
    expect(() => new BudgetManager({ exchangeRates: { EUR: 0 } })).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ exchangeRates: { EUR: -1.08 } })).toThrow(/exchangeRates\.EUR/)
    expect(() => new BudgetManager({ exchangeRates: { EUX: 1 } })).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ exchangeRates: 'EUR=1.08' as never })).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ defaults: { user: { maxBudget: 1, currency: 'EUR' } } })).toThrow(
      BudgetConfigError,
    )

    const { manager } = setup({ exchangeRates: { EUR: 1.08 } })
    await manager.setBudget('user:alice', { maxBudget: 100, currency: 'EUR', duration: 'monthly' })
    const before = await manager.getBudget('user:alice')
    const history = await manager.getHistory('user:alice')
    const attempts: [unknown, RegExp][] = [
      [{ maxBudget: 5, currency: 'EUX' }, /not an ISO 4217 currency code/],
      [{ maxBudget: 5, currency: 'euro' }, /ISO 4217 code/],
      [{ maxBudget: 5, currency: 'GBP' }, /exchange rate for GBP/],
      [
        {
          maxBudget: 5,
          currency: 'EUR',
          duration: 'monthly',
          modelMaxBudget: { 'gpt-4o': { maxBudget: 1, duration: 'daily' } },
        },
        /must equal the budget's `duration`/,
      ],
    ]
    for (const [definition, message] of attempts) {
      const error = await manager.setBudget('user:alice', definition as never).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(BudgetConfigError)
      expect((error as Error).message).toMatch(message)
    }
    expect(await manager.getBudget('user:alice')).toEqual(before)
    expect(await manager.getHistory('user:alice')).toEqual(history)

    // A rate function that answers nonsense is refused the same way.
    const zero = setup({ exchangeRates: () => 0 }).manager
    await expect(zero.setBudget('user:x', { maxBudget: 1, currency: 'EUR' })).rejects.toThrow(/positive finite number/)
    expect(await zero.getBudget('user:x')).toBeNull()
    // Without any exchangeRates a foreign budget cannot be created.
    await expect(setup().manager.setBudget('user:x', { maxBudget: 1, currency: 'EUR' })).rejects.toThrow(
      /needs the manager's `exchangeRates`/,
    )
  })
})

describe('two managers on one Redis', () => {
  let server: RedisServer
  const clients: Redis[] = []
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    for (const client of clients) client.disconnect()
    await server?.stop()
  })

  it('agree on the rate pinned when the window opens, whichever instance pins it', async () => {
    const prefix = `cur-${Date.now()}`
    const start = Date.now()
    const clocks = [fakeClock(start), fakeClock(start)]
    const asked = [0, 0]
    const managers = [1.08, 1.5].map((rate, i) => {
      const client = new Redis(server.port, '127.0.0.1')
      clients.push(client)
      return new BudgetManager({
        store: redisStore({ client, prefix, time: 'client' }),
        clock: clocks[i]!,
        budgetCacheTtlMs: 0,
        exchangeRates: async () => {
          asked[i]!++
          await new Promise((resolve) => setTimeout(resolve, i === 0 ? 5 : 0))
          return rate
        },
      })
    })
    const [a, b] = managers as [BudgetManager, BudgetManager]
    await a.setBudget('team:paris', { maxBudget: 100, currency: 'EUR', duration: 'daily' })
    expect((await b.getStatus('team:paris')).rate).toBe(1.08) // b reads a's pin, not its own rate
    expect(asked).toEqual([1, 0])

    // The next day both open the new window at once: one rate is pinned, both admit against it.
    for (const clock of clocks) clock.advance(86_400_000)
    const calls = Array.from({ length: 40 }, (_, i) =>
      managers[i % 2]!.reserve({ team: 'paris' }, 10).then(
        (r) => r.commit(10).then(() => true),
        (error: unknown) => {
          if (!(error instanceof BudgetExceededError)) throw error
          return false
        },
      ),
    )
    const admitted = (await Promise.all(calls)).filter(Boolean).length
    const [sa, sb] = await Promise.all([a.getStatus('team:paris'), b.getStatus('team:paris')])
    expect(sa.rate).toBe(sb.rate)
    expect(sa.rateAt).toEqual(sb.rateAt)
    expect([1.08, 1.5]).toContain(sa.rate)
    expect(admitted).toBe(sa.rate === 1.08 ? 10 : 15) // floor(100 x rate / 10)
    expect(sa.usd.spend).toBe(admitted * 10)
    expect(asked[0]! + asked[1]!).toBeLessThanOrEqual(3) // at most one read per instance for the new window
    const pins = (await a.getHistory('team:paris')).filter((h) => h.reason?.startsWith('exchange rate pinned'))
    expect(pins).toHaveLength(1)
  })
})

describe('the CLI report', () => {
  it('shows a budget in EUR in euros with the USD alongside', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llm-budget-currency-'))
    try {
      const store = fileStore({ path: dir })
      const manager = new BudgetManager({ store, exchangeRates: { EUR: 1.25 } })
      await manager.setBudget('team:paris', { maxBudget: 100, currency: 'EUR', duration: 'monthly' })
      await manager.record({ team: 'paris' }, 25)
      await store.close()
      const text = await runCli(['report', '--store', `file:${dir}`])
      expect(text.stderr).toBe('')
      expect(text.stdout).toMatch(/team:paris\s+€20\.00 \(\$25\.00\)\s+€100\.00 \(\$125\.00\)\s+20\.0%/)
      const json = await runCli(['report', '--store', `file:${dir}`, '--format', 'json'])
      const budget = (JSON.parse(json.stdout) as { budgets: Record<string, unknown>[] }).budgets[0]!
      expect(budget).toMatchObject({ scope: 'team:paris', currency: 'EUR', rate: 1.25, spend: 20, limit: 100 })
      expect(budget['usd']).toMatchObject({ spend: 25, limit: 125 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
