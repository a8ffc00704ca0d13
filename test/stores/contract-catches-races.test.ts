// Proof that the contract suite catches races: a store that reads, yields, then writes must fail the
// concurrency group.
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import type { BudgetStore, ReserveRequest } from '../../src/stores/types.js'
import { storeContractCases } from '../../src/testing/index.js'

/** A deliberately non-atomic store: checks the limit, awaits, then reserves without a limit. */
function racyStore(): BudgetStore {
  const inner = memoryStore()
  return {
    ...inner,
    name: 'racy',
    async reserve(request: ReserveRequest) {
      const balances = await inner.balances({ keys: request.entries.map((e) => e.key), now: request.now })
      const refusedIndex = request.entries.findIndex(
        (e, i) => e.limit !== null && balances[i]!.spent + balances[i]!.reserved + e.amount > e.limit,
      )
      await new Promise((resolve) => setTimeout(resolve, 0))
      if (refusedIndex >= 0) return { ok: false, refusedIndex, balances }
      return inner.reserve({ ...request, entries: request.entries.map((e) => ({ ...e, limit: null })) })
    },
  }
}

describe('the store contract suite', () => {
  const concurrencyCases = storeContractCases().filter((c) => c.group === 'concurrency' && c.name.includes('limit'))

  it('has concurrency cases about limits', () => {
    expect(concurrencyCases.length).toBeGreaterThanOrEqual(2)
  })

  for (const contractCase of concurrencyCases) {
    it(`fails a non-atomic store: ${contractCase.name}`, async () => {
      await expect(
        contractCase.run(racyStore(), { prefix: 'race|', t0: 1_800_000_000_000, concurrency: 1000 }),
      ).rejects.toThrow(/store contract/)
    })

    it(`passes the memory store: ${contractCase.name}`, async () => {
      await contractCase.run(memoryStore(), { prefix: 'race|', t0: 1_800_000_000_000, concurrency: 1000 })
    })
  }
})
