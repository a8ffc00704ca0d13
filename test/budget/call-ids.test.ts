import { describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory.js'

describe("a manager's call ids", () => {
  it('are its prefix and a base-36 counter from 1, without a leading zero, past 36 and 36^2 ids', async () => {
    const manager = new BudgetManager({ store: memoryStore() })
    await manager.setBudget('user:a', { maxBudget: 100, duration: 'daily' })
    const ids: string[] = []
    for (let i = 0; i < 1_400; i++) {
      const reservation = await manager.reserve({ user: 'a' }, 0.001)
      ids.push(reservation.callId)
      await reservation.commit(0.001)
    }
    const prefix = ids[0]!.slice(0, 17)
    expect(prefix).toMatch(/^[0-9a-z]{16}-$/)
    expect(ids.map((id) => id.slice(0, 17))).toEqual(Array(ids.length).fill(prefix))
    expect(ids.map((id) => id.slice(17))).toEqual(ids.map((_, i) => (i + 1).toString(36)))
    // The memory store remembers them (by counter): committing one again is a duplicate.
    const again = await manager.store.commit({ callId: ids[36]!, now: Date.now(), entries: [], dedupeUntil: 0 })
    expect(again.duplicate).toBe(true)
    expect((await manager.store.queryRecords({})).map((r) => r.callId)).toEqual(ids)
  })
})
