import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/index.js'
import { BudgetConfigError, StorageError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore } from '../../src/stores/types.js'

describe('memoryStore options', () => {
  it('refuses an unknown key, naming the closest known one', () => {
    expect(() => memoryStore({ maxRecord: 5 } as never)).toThrow(BudgetConfigError)
    expect(() => memoryStore({ maxRecord: 5 } as never)).toThrow(/maxRecords/)
  })
})

describe('BudgetManager options', () => {
  it('refuses an unknown key, naming the closest known one', () => {
    expect(() => new BudgetManager({ stroe: memoryStore() } as never)).toThrow(BudgetConfigError)
    expect(() => new BudgetManager({ stroe: memoryStore() } as never)).toThrow(/`store`/)
  })

  it('budgetCacheMax: keeps that many budget definitions, dropping the least recently used', async () => {
    const inner = memoryStore()
    const reads: string[] = []
    const store: BudgetStore = {
      ...inner,
      getBudget: (scope) => {
        reads.push(scope)
        return inner.getBudget(scope)
      },
    }
    const manager = new BudgetManager({ store, budgetCacheMax: 3, budgetCacheTtlMs: 3_600_000 })
    for (const user of ['a', 'b', 'a', 'c', 'b', 'a']) await manager.record({ user }, 0.01)
    // Each call uses the global scope and its user's: the third call finds both cached; the fourth drops user:b
    // (used least recently), the fifth reads it again and drops user:a, which the sixth reads again.
    expect(reads).toEqual(['global:global', 'user:a', 'user:b', 'user:c', 'user:b', 'user:a'])
  })
})

describe('a reservation whose outcome is unknown', () => {
  it('is released by call id with the hold expiry it asked for, so a reserve the store applied before failing holds nothing', async () => {
    const inner = memoryStore()
    const releases: unknown[] = []
    const store: BudgetStore = {
      ...inner,
      reserve: async (request) => {
        await inner.reserve(request)
        throw new StorageError('flaky', 'timed out after the request was sent')
      },
      release: (request) => {
        releases.push(request)
        return inner.release(request)
      },
    }
    const manager = new BudgetManager({ store })
    await manager.setBudget('user:ann', { maxBudget: 1 })
    await expect(manager.reserve({ user: 'ann' }, 0.5, { callId: 'call-1' })).rejects.toThrow(StorageError)
    expect(releases).toEqual([{ callId: 'call-1', now: expect.any(Number), holdExpiresAt: expect.any(Number) }])
    expect((await manager.getStatus('user:ann')).reserved).toBe(0)
  })
})
