// The spend-record cap's fair shares between call-id namespaces (server tenants), checked against a model.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { RecordTable } from '../../src/stores/ledger/record-table.js'
import type { SpendRecord } from '../../src/stores/types.js'

const record = (callId: string, i: number): SpendRecord => ({ callId, startedAt: i, endedAt: i })

function tableOf(records: readonly SpendRecord[]): RecordTable {
  const table = new RecordTable()
  for (const r of records) table.push(r)
  return table
}

describe('RecordTable.trim', () => {
  it('keeps everything under the cap, and answers the latest endedAt dropped', () => {
    const records = Array.from({ length: 10 }, (_, i) => record(i % 2 === 0 ? `a/${i}` : `${i}`, i))
    const table = tableOf(records)
    expect(table.trim(10)).toBe(Number.NEGATIVE_INFINITY)
    expect(table.toArray()).toEqual(records)
    const latest = table.trim(4)
    expect(table.length).toBeLessThanOrEqual(4)
    const kept = new Set(table.toArray().map((r) => r.callId))
    expect(latest).toBe(Math.max(...records.filter((r) => !kept.has(r.callId)).map((r) => r.endedAt)))
  })

  it('with one namespace drops the oldest, as before', () => {
    const records = Array.from({ length: 100 }, (_, i) => record(`c${i}`, i))
    const table = tableOf(records)
    expect(table.trim(64)).toBe(35)
    expect(table.toArray()).toEqual(records.slice(36))
    // The counts are left counting what is kept: a second trim drops the oldest again.
    expect(table.trim(10)).toBe(89)
    expect(table.toArray()).toEqual(records.slice(90))
  })

  it('keeps at most max, keeps every namespace under its share whole, and drops only the oldest of a namespace', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a/', 'b/', 'c/', ''), { maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 0, max: 100 }),
        (prefixes, max, second) => {
          const records = prefixes.map((p, i) => record(`${p}${i}`, i))
          const table = tableOf(records)
          const latest = table.trim(max)
          const kept = table.toArray()
          expect(kept.length).toBeLessThanOrEqual(max)
          // What is dropped is exactly the rest; the latest of it is answered.
          const keptIds = new Set(kept.map((r) => r.callId))
          const dropped = records.filter((r) => !keptIds.has(r.callId))
          expect(latest).toBe(Math.max(...dropped.map((r) => r.endedAt)))
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
          // The table's counts are left counting what is kept: a second trim answers what a fresh table of the
          // kept records answers.
          const fresh = tableOf(kept)
          expect(table.trim(second)).toBe(fresh.trim(second))
          expect(table.toArray()).toEqual(fresh.toArray())
        },
      ),
    )
  })
})
