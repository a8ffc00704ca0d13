import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { recordsToCsv, recordsToJsonLines, reportToCsv } from '../../src/reports.js'
import { calculateCost } from '../../src/cost/index.js'
import { BudgetExceededError, StorageError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { fakeClock } from '../../src/testing/index.js'

const T0 = Date.UTC(2026, 10, 15, 12)

function setup() {
  const clock = fakeClock(T0)
  const store = memoryStore()
  return { clock, store, manager: new BudgetManager({ store, clock }) }
}

describe('LiteLLM-compatible methods', () => {
  it('createBudget, updateCost in all three forms, getCurrentCost, getModelCost, getTotalBudget', async () => {
    const { manager } = setup()
    await manager.createBudget({ user: 'alice', totalBudget: 10, duration: 'monthly' })
    expect(await manager.isValidUser('alice')).toBe(true)
    expect(await manager.isValidUser('bob')).toBe(false)
    expect(await manager.getTotalBudget('alice')).toBe(10)
    const response = {
      id: 'x',
      object: 'chat.completion',
      model: 'gpt-4o-mini',
      choices: [],
      usage: { prompt_tokens: 1000, completion_tokens: 500, total_tokens: 1500 },
    }
    await manager.updateCost({ user: 'alice', completionResponse: response })
    await manager.updateCost({ user: 'alice', model: 'gpt-4o', usage: { prompt_tokens: 100, completion_tokens: 10 } })
    await manager.updateCost({ user: 'alice', cost: 0.25, model: 'custom-model' })
    const mini = calculateCost({ model: 'gpt-4o-mini', usage: response.usage }).exact.totalNanoUsd
    const big = calculateCost({ model: 'gpt-4o', usage: { prompt_tokens: 100, completion_tokens: 10 } }).exact
      .totalNanoUsd
    expect(await manager.getCurrentCost('alice')).toBe((mini + big + 250_000_000) / 1e9)
    const byModel = await manager.getModelCost('alice')
    expect(byModel).toEqual({ 'gpt-4o-mini': mini / 1e9, 'gpt-4o': big / 1e9, 'custom-model': 0.25 })
    expect(await manager.getUsers()).toEqual(['alice'])
    expect(await manager.updateBudgetAllUsers()).toEqual(['alice'])
    expect(await manager.saveData()).toEqual({ status: 'success' })
    expect(await manager.getCurrentCost('nobody')).toBe(0)
  })

  it('projectedCost adds the input cost of the messages to the current cost', async () => {
    const { manager } = setup()
    await manager.createBudget({ user: 'p', totalBudget: 1 })
    await manager.updateCost({ user: 'p', cost: 0.5 })
    const projected = await manager.projectedCost({ user: 'p', model: 'gpt-4o', inputTokens: 1000 })
    const input = calculateCost({ model: 'gpt-4o', usage: { prompt_tokens: 1000, completion_tokens: 0 } }).exact
      .totalNanoUsd
    expect(projected).toBe((500_000_000 + input) / 1e9)
  })

  it('resetCost starts over now, keeps the budget and writes history; resetOnDuration reports the window', async () => {
    const { manager, clock } = setup()
    await manager.createBudget({ user: 'r', totalBudget: 1, duration: 'daily' })
    await manager.updateCost({ user: 'r', cost: 1 })
    await expect(manager.reserve({ user: 'r' }, 0.1)).rejects.toBeInstanceOf(BudgetExceededError)
    await manager.resetCost('r')
    expect(await manager.getCurrentCost('r')).toBe(0)
    await (await manager.reserve({ user: 'r' }, 0.1)).commit(0.1)
    expect((await manager.getHistory('user:r')).map((h) => h.action)).toEqual(['create', 'reset'])
    clock.advance(86_400_000)
    const next = await manager.resetOnDuration('r')
    expect(next.reset).toBe(true)
    expect(next.resetsAt?.toISOString()).toBe('2026-11-17T00:00:00.000Z')
  })
})

describe('scope methods', () => {
  it('getBudget, setBudget keeps spend, deleteBudget, history with old and new values', async () => {
    const { manager } = setup()
    await manager.setBudget('team:t', { maxBudget: 1, duration: 'monthly' }, { reason: 'start' })
    await manager.record({ team: 't' }, 0.75)
    await manager.setBudget('team:t', { maxBudget: 2, duration: 'monthly' }, { reason: 'raise' })
    const status = await manager.getStatus('team:t')
    expect(status.spend).toBe(0.75)
    expect(status.limit).toBe(2)
    expect(status.percentUsed).toBe(37.5)
    expect(status.exact).toEqual({
      spend: '0.750000000',
      reserved: '0.000000000',
      limit: '2.000000000',
      remaining: '1.250000000',
      projectedSpend: status.exact.projectedSpend,
    })
    expect(Number(status.exact.projectedSpend)).toBeGreaterThanOrEqual(0.75)
    const info = await manager.getBudget('team:t')
    expect(info?.revision).toBe(2)
    expect(info?.definition).toEqual({ maxBudget: 2, duration: 'monthly' })
    expect(await manager.deleteBudget('team:t', { reason: 'gone' })).toBe(true)
    expect(await manager.deleteBudget('team:t')).toBe(false)
    expect(await manager.getBudget('team:t')).toBeNull()
    await expect(manager.getStatus('team:t')).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    const history = await manager.getHistory('team:t')
    expect(history.map((h) => [h.action, h.reason])).toEqual([
      ['create', 'start'],
      ['update', 'raise'],
      ['delete', 'gone'],
    ])
    expect(history[1]?.old).toEqual({ maxBudget: 1, duration: 'monthly' })
    expect(history[1]?.new).toEqual({ maxBudget: 2, duration: 'monthly' })
  })

  it('definitions live in the store: another manager sees a change after the cache TTL', async () => {
    const clock = fakeClock(T0)
    const store = memoryStore()
    const a = new BudgetManager({ store, clock, budgetCacheTtlMs: 1000 })
    const b = new BudgetManager({ store, clock, budgetCacheTtlMs: 1000 })
    await a.setBudget('user:shared', { maxBudget: 1 })
    await (await b.reserve({ user: 'shared' }, 0.5)).commit(0.5)
    await a.setBudget('user:shared', { maxBudget: 0.5 })
    // b still has the old definition cached for up to 1 s; a sees its own write at once
    await expect(a.reserve({ user: 'shared' }, 0.1)).rejects.toBeInstanceOf(BudgetExceededError)
    await (await b.reserve({ user: 'shared' }, 0.1)).release()
    clock.advance(1000)
    await expect(b.reserve({ user: 'shared' }, 0.1)).rejects.toBeInstanceOf(BudgetExceededError)
  })

  it('onStoreError: deny refuses with StorageError, allow admits unguarded; both emit store.error', async () => {
    const broken: BudgetStore = {
      ...memoryStore(),
      name: 'broken',
      reserve: () => Promise.reject(new Error('ECONNREFUSED')),
    }
    const deny = new BudgetManager({ store: broken })
    await deny.setBudget('user:x', { maxBudget: 1 })
    const events: string[] = []
    deny.on('store.error', (e) => events.push(e.action))
    await expect(deny.reserve({ user: 'x' }, 0.1)).rejects.toBeInstanceOf(StorageError)
    const allow = new BudgetManager({ store: broken, onStoreError: 'allow' })
    allow.on('store.error', (e) => events.push(e.action))
    const reservation = await allow.reserve({ user: 'x' }, 0.1)
    expect(reservation.guarded).toBe(false)
    await reservation.commit(0.05)
    expect(events).toEqual(['deny', 'allow'])
    const [record] = await allow.spendRecords({})
    expect(record?.guarded).toBe(false)
  })

  it('listener errors never fail the call and are reported as listener.error', async () => {
    const { manager } = setup()
    await manager.setBudget('user:l', { maxBudget: 1 })
    const reported: string[] = []
    manager.on('spend.recorded', () => {
      throw new Error('listener bug')
    })
    manager.on('spend.recorded', async () => {
      throw new Error('async listener bug')
    })
    manager.on('listener.error', (e) => reported.push((e.error as Error).message))
    const off = manager.on('spend.recorded', () => reported.push('called'))
    await manager.record({ user: 'l' }, 0.1)
    off()
    await manager.record({ user: 'l' }, 0.1)
    await new Promise((resolve) => setTimeout(resolve, 0))
    expect(reported.sort()).toEqual([
      'async listener bug',
      'async listener bug',
      'called',
      'listener bug',
      'listener bug',
    ])
    expect((await manager.getStatus('user:l')).spend).toBe(0.2)
  })
})

describe('querySpend and exports', () => {
  async function seeded() {
    const { manager, clock } = setup()
    await manager.record({ user: 'a', team: 'x', tags: ['batch', 'eu'] }, { cost: 0.1, model: 'gpt-4o' })
    await manager.record({ user: 'b', team: 'x', tags: ['eu'] }, { cost: 0.2, model: 'gpt-4o-mini' })
    clock.advance(86_400_000)
    await manager.record({ user: 'a', team: 'y' }, { cost: 0.000000001, model: 'gpt-4o' })
    await manager.record(
      { user: 'c', team: 'y', metadata: { ticket: '=HYPERLINK("x")' } },
      { cost: 0.3, model: 'gpt-4o' },
    )
    return manager
  }

  it('aggregates exactly and groups by day, model, user, team and tag', async () => {
    const manager = await seeded()
    const all = await manager.querySpend({})
    expect(all.exact.cost).toBe('0.600000001')
    expect(all.calls).toBe(4)
    const byDayModel = await manager.querySpend({ groupBy: ['day', 'model'] })
    expect(byDayModel.groups.map((g) => [g.key.day, g.key.model, g.exact.cost])).toEqual([
      ['2026-11-15', 'gpt-4o', '0.100000000'],
      ['2026-11-15', 'gpt-4o-mini', '0.200000000'],
      ['2026-11-16', 'gpt-4o', '0.300000001'],
    ])
    const sum = byDayModel.groups.reduce((a, g) => a + BigInt(g.costNanoUsd), 0n)
    expect(sum.toString()).toBe(all.costNanoUsd)
    const team = await manager.querySpend({ scope: 'team:x', groupBy: ['user'] })
    expect(team.groups.map((g) => [g.key.user, g.cost])).toEqual([
      ['a', 0.1],
      ['b', 0.2],
    ])
    const eu = await manager.querySpend({ tags: ['eu'], groupBy: ['tag'] })
    expect(eu.exact.cost).toBe('0.300000000')
    expect(eu.groups.map((g) => [g.key.tag, g.exact.cost])).toEqual([
      ['batch', '0.100000000'],
      ['eu', '0.300000000'],
    ])
    const model = await manager.querySpend({ model: 'gpt-4o', from: T0 + 86_400_000 })
    expect(model.exact.cost).toBe('0.300000001')
  })

  it('exports CSV (formula-safe) and JSON Lines', async () => {
    const manager = await seeded()
    const records = await manager.spendRecords({})
    const csv = recordsToCsv(records)
    const lines = csv.trim().split('\n')
    expect(lines).toHaveLength(5)
    expect(lines[0]).toContain('callId,startedAt,endedAt,model')
    expect(lines[1]).toContain(',0.100000000,100000000,')
    const jsonl = recordsToJsonLines(records)
    const parsed = jsonl
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { cost: string })
    expect(parsed.map((r) => r.cost)).toEqual(['0.100000000', '0.200000000', '0.000000001', '0.300000000'])
    const report = await manager.querySpend({ groupBy: ['team'] })
    expect(reportToCsv(report, ['team'])).toBe(
      'team,cost,calls,inputTokens,outputTokens,estimatedCalls\nx,0.300000000,2,0,0,0\ny,0.300000001,2,0,0,0\n',
    )
    expect(recordsToCsv([{ callId: '=1+1', startedAt: 0, endedAt: 0 }])).toContain("'=1+1")
  })
})
