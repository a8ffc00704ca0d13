// The spend-record cap's fair shares between call-id namespaces (server tenants), checked against a model.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { countNamespaces, trimRecords } from '../../src/stores/ledger/record-shares.js'
import type { SpendRecord } from '../../src/stores/types.js'

const record = (callId: string, i: number): SpendRecord => ({ callId, startedAt: i, endedAt: i })

describe('trimRecords', () => {
  it('cuts the array in place, which keeps nothing when under the cap', () => {
    const records = Array.from({ length: 10 }, (_, i) => record(i % 2 === 0 ? `a/${i}` : `${i}`, i))
    expect(trimRecords(records, 10, countNamespaces(records))).toEqual([])
    expect(records).toHaveLength(10)
    expect(trimRecords(records, 4, countNamespaces(records)).length + records.length).toBe(10)
    expect(records.length).toBeLessThanOrEqual(4)
  })

  it('with one namespace drops the oldest, as before', () => {
    const records = Array.from({ length: 100 }, (_, i) => record(`c${i}`, i))
    const kept = [...records]
    const counts = countNamespaces(kept)
    const dropped = trimRecords(kept, 64, counts)
    expect(counts).toEqual(new Map([['', 64]]))
    expect(kept.map((r) => r.callId)).toEqual(records.slice(36).map((r) => r.callId))
    expect(dropped.map((r) => r.callId)).toEqual(records.slice(0, 36).map((r) => r.callId))
  })

  it('keeps at most max, keeps every namespace under its share whole, and drops only the oldest of a namespace', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a/', 'b/', 'c/', ''), { maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        (prefixes, max) => {
          const records = prefixes.map((p, i) => record(`${p}${i}`, i))
          // Cut in place: `kept` is what is left of the array handed in.
          const kept = [...records]
          // The counts a ledger keeps are handed in and left counting what is kept.
          const counts = countNamespaces(kept)
          const dropped = trimRecords(kept, max, counts)
          expect(counts).toEqual(countNamespaces(kept))
          expect(kept.length).toBeLessThanOrEqual(max)
          // What is dropped is exactly the rest, in order.
          const keptSet = new Set(kept)
          expect(dropped).toEqual(records.filter((r) => !keptSet.has(r)))
          const count = (list: SpendRecord[], ns: string) =>
            list.filter((r) => (r.callId.includes('/') ? r.callId.split('/')[0] + '/' : '') === ns).length
          const namespaces = ['a/', 'b/', 'c/', '']
          for (const ns of namespaces) {
            const had = count(records, ns)
            // A namespace at or under the common level keeps everything; a larger one keeps its newest.
            if (had <= Math.floor(max / namespaces.length)) expect(count(kept, ns)).toBe(had)
            const mine = kept.filter((r) => count([r], ns) === 1).map((r) => r.endedAt)
            const all = records.filter((r) => count([r], ns) === 1).map((r) => r.endedAt)
            expect(mine).toEqual(all.slice(all.length - mine.length))
          }
          // The order of what is kept is unchanged.
          expect(kept.map((r) => r.endedAt)).toEqual([...kept.map((r) => r.endedAt)].sort((x, y) => x - y))
          // Whole shares lose at most one slot per namespace to rounding.
          if (records.length > max) expect(kept.length).toBeGreaterThanOrEqual(max - (namespaces.length - 1))
        },
      ),
    )
  })
})
