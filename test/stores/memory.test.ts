import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { runStoreContract } from '../../src/testing/index.js'

describe('memoryStore', () => {
  runStoreContract(it, () => memoryStore())

  it('refuses an invalid maxRecords', () => {
    expect(() => memoryStore({ maxRecords: -1 })).toThrow(/maxRecords/)
    expect(() => memoryStore({ maxRecords: 1.5 })).toThrow(
      /memoryStore\(\): `maxRecords` must be a non-negative integer or Infinity, got 1.5/,
    )
  })

  it('refuses an unknown option, naming the closest known one', () => {
    expect(() => memoryStore({ maxRecord: 5 } as never)).toThrow(
      expect.objectContaining({
        code: 'BUDGET_CONFIG',
        message: expect.stringMatching(/no option `"maxRecord"`[\s\S]*`maxRecords`/),
      }),
    )
  })

  it('keeps at most maxRecords spend records, dropping the oldest', async () => {
    const store = memoryStore({ maxRecords: 16 })
    for (let i = 0; i < 100; i++) {
      const callId = `c${i}`
      await store.commit({
        callId,
        now: i,
        entries: [],
        dedupeUntil: 1e6,
        record: { callId, startedAt: i, endedAt: i },
      })
    }
    const records = await store.queryRecords({})
    expect(records.length).toBeLessThanOrEqual(16)
    expect(records.at(-1)?.callId).toBe('c99')
  })

  it('is unusable after close', async () => {
    const store = memoryStore()
    await store.close()
    await expect(store.balances({ keys: ['k'], now: 0 })).rejects.toMatchObject({ code: 'STORAGE' })
  })
})
