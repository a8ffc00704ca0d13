// The retention scenario every store with rollups runs: records evicted by count and by age, rollups kept (exact
// totals), coverage that says from when records and rollups are complete, rollups evicted by age.
import { expect, it } from 'vitest'
import type { BudgetStore, CommitRequest } from '../../src/stores/types.js'

/** The retention options the scenario needs from a store factory. */
export interface RetentionOptions {
  maxRecords?: number
  recordRetentionMs?: number
  rollupRetentionMs?: number
}

const DAY = 86_400_000
const DAY0 = 1_800_000_000_000 - (1_800_000_000_000 % DAY)

function spend(callId: string, now: number, nano: number): CommitRequest {
  return {
    callId,
    now,
    entries: [{ key: 'u:alice|all|usd', amount: nano, expiresAt: null }],
    dedupeUntil: now + DAY,
    record: {
      callId,
      startedAt: now,
      endedAt: now,
      model: 'gpt-4o',
      modelServed: 'gpt-4o',
      costNanoUsd: nano,
      usage: { inputTokens: 3, outputTokens: 1 },
      context: { user: 'alice' },
    },
  }
}

async function aliceTotals(store: BudgetStore, from = DAY0): Promise<{ calls: number; cost: number }> {
  const result = await store.queryRollups!({ from, scopes: ['user:alice'] })
  return {
    calls: result.rows.reduce((n, r) => n + r.calls, 0),
    cost: result.rows.reduce((n, r) => n + r.costNanoUsd, 0),
  }
}

/**
 * Registers the retention tests. `make` opens a store with the given options; `reopen`, when given, closes and
 * opens the same store again (a durable store must keep its rollups and coverage across a restart).
 */
export function retentionTests(
  make: (options: RetentionOptions) => Promise<BudgetStore>,
  reopen?: (store: BudgetStore, options: RetentionOptions) => Promise<BudgetStore>,
  { timeBased = true }: { timeBased?: boolean } = {},
): void {
  it('retention: 25 calls with maxRecords 10 keep 10 records and exact rollups; coverage says where records start', async () => {
    let store = await make({ maxRecords: 10 })
    try {
      for (let i = 0; i < 25; i++) await store.commit(spend(`r${i}`, DAY0 + 1000 * i, 1_000_000 + i))
      const records = await store.queryRecords({})
      expect(records.length).toBeLessThanOrEqual(10)
      expect(records.at(-1)?.callId).toBe('r24')
      const expected = { calls: 25, cost: 25_000_000 + 300 }
      expect(await aliceTotals(store)).toEqual(expected)
      const coverage = await store.queryRollups!({ scopes: ['global'] })
      expect(coverage.recordsFrom).not.toBeNull()
      expect(coverage.recordsFrom!).toBeGreaterThan(DAY0)
      expect(coverage.recordsFrom!).toBeLessThanOrEqual(records[0]!.endedAt)
      expect(coverage.rollupsFrom).toBeNull()
      if (reopen !== undefined) {
        store = await reopen(store, { maxRecords: 10 })
        expect(await aliceTotals(store)).toEqual(expected)
        expect((await store.queryRollups!({})).recordsFrom).toBe(coverage.recordsFrom)
        await store.commit(spend('r25', DAY0 + 25_000, 5))
        expect(await aliceTotals(store)).toEqual({ calls: 26, cost: expected.cost + 5 })
      }
    } finally {
      await store.close()
    }
  })

  if (!timeBased) return
  it('retention: records older than recordRetentionMs and rollup days older than rollupRetentionMs are dropped', async () => {
    let store = await make({ maxRecords: 1000, recordRetentionMs: DAY, rollupRetentionMs: 3 * DAY })
    try {
      for (let day = 0; day < 6; day++) await store.commit(spend(`d${day}`, DAY0 + day * DAY + 3_600_000, 100 + day))
      // The sweep at day 5 dropped the records before day 4 plus one hour, and the rollups of days 0 and 1.
      const records = await store.queryRecords({})
      expect(records.map((r) => r.callId)).toEqual(['d4', 'd5'])
      const result = await store.queryRollups!({ scopes: ['user:alice'] })
      expect(result.rows.map((r) => r.day)).toEqual(
        [2, 3, 4, 5].map((d) => new Date(DAY0 + d * DAY).toISOString().slice(0, 10)),
      )
      expect(result.rollupsFrom).toBe(DAY0 + 2 * DAY)
      expect(result.recordsFrom).toBe(DAY0 + 3 * DAY + 3_600_000 + 1)
      if (reopen !== undefined) {
        store = await reopen(store, { maxRecords: 1000, recordRetentionMs: DAY, rollupRetentionMs: 3 * DAY })
        const again = await store.queryRollups!({ scopes: ['user:alice'] })
        expect([again.rows.length, again.rollupsFrom, again.recordsFrom]).toEqual([
          4,
          result.rollupsFrom,
          result.recordsFrom,
        ])
      }
    } finally {
      await store.close()
    }
  })
}
