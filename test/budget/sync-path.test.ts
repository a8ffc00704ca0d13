import { describe, expect, it } from 'vitest'
import { BudgetManager, memoryStore, withBudget } from '../../src/index.js'
import type { BudgetStore } from '../../src/stores/types.js'

/** A 4-scope withBudget call on `store`, committed at $0.0015. */
async function callOn(store: BudgetStore): Promise<BudgetManager> {
  const manager = new BudgetManager({ store })
  await manager.setBudget('org:acme', { maxBudget: 10, duration: 'monthly' })
  await manager.setBudget('user:alice', { maxBudget: 1, duration: 'daily' })
  const fn = withBudget(async () => 1, {
    manager,
    context: { org: 'acme', user: 'alice', team: 'search', key: 'sk-1' },
    estimate: 0.002,
    cost: () => 0.0015,
  })
  for (let i = 0; i < 3; i++) expect(await fn()).toBe(1)
  return manager
}

describe('the memory store synchronous path', () => {
  it('charges exactly what the promise path charges, with records and rollups', async () => {
    const manager = await callOn(memoryStore())
    expect((await manager.getStatus('user:alice')).exact.spend).toBe('0.004500000')
    const report = await manager.querySpend({ groupBy: ['user'] })
    expect(report.exact.cost).toBe('0.004500000')
    expect(report.calls).toBe(3)
    expect((await manager.store.queryRollups!({ scopes: ['user:alice', 'team:search'] })).rows).toMatchObject([
      { scope: 'team:search', calls: 3, costNanoUsd: 4_500_000 },
      { scope: 'user:alice', calls: 3, costNanoUsd: 4_500_000 },
    ])
  })

  it('is not used once the store`s reserve or commit is replaced: the replacement sees every call', async () => {
    const store = memoryStore()
    const seen: string[] = []
    const { reserve, commit } = store
    store.reserve = (request) => (seen.push('reserve'), reserve(request))
    store.commit = (request) => (seen.push('commit'), commit(request))
    const manager = await callOn(store)
    expect(seen.filter((s) => s === 'reserve')).toHaveLength(3)
    expect(seen.filter((s) => s === 'commit')).toHaveLength(3)
    expect((await manager.getStatus('user:alice')).exact.spend).toBe('0.004500000')
  })

  it('is not carried by a copy of the store, which works through its methods', async () => {
    const copy: BudgetStore = { ...memoryStore() }
    const manager = await callOn(copy)
    expect((await manager.getStatus('org:acme')).exact.spend).toBe('0.004500000')
  })

  it('refuses over the limit with the same error, and nothing is held after', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('user:bob', { maxBudget: 0.003 })
    const fn = withBudget(async () => 1, { manager, context: { user: 'bob' }, estimate: 0.002, cost: () => 0.002 })
    await fn()
    await expect(fn()).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' })
    const status = await manager.getStatus('user:bob')
    expect(status.exact.spend).toBe('0.002000000')
    expect(status.reserved).toBe(0)
  })

  it('reads every balance of a commit right while a listener commits another call synchronously in between', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    for (const scope of ['org:acme', 'team:search', 'user:alice'] as const)
      await manager.setBudget(scope, { maxBudget: 10, alertThresholds: [0.5], duration: 'monthly' })
    await manager.setBudget('user:bob', { maxBudget: 100, duration: 'monthly' })
    // Warm the budget cache, so that a record for bob inside a listener reaches the store before it returns.
    await manager.record({ user: 'bob' }, 1)
    const crossed: string[] = []
    const nested: Promise<unknown>[] = []
    manager.on('threshold.crossed', (event) => {
      crossed.push(event.scope)
      // A commit on other keys (crossing nothing), while the commit that crossed still has balances to read.
      nested.push(manager.record({ user: 'bob' }, 0.001))
    })
    const fn = withBudget(async () => 1, {
      manager,
      context: { org: 'acme', team: 'search', user: 'alice' },
      estimate: 6,
      cost: () => 6,
    })
    await fn()
    await Promise.all(nested)
    expect(crossed.sort()).toEqual(['org:acme', 'team:search', 'user:alice'])
    expect((await manager.getStatus('user:bob')).exact.spend).toBe('1.003000000')
  })
})
