// The ledger's records kept in columns (`RecordTable`) read back exactly as the record objects kept before: the same
// fields in the same order with the same values (frozen context and metadata shared, not copied), through appends,
// trims, retention sweeps, queries, snapshots and restores.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as ledger from '../../src/stores/ledger/ledger.js'
import { RecordTable } from '../../src/stores/ledger/record-table.js'
import { memoryStore } from '../../src/stores/memory.js'
import { BudgetManager } from '../../src/budget/manager.js'
import { withBudget } from '../../src/budget/with-budget.js'
import type { JsonValue, SpendRecord } from '../../src/stores/types.js'

const CONTEXTS = [Object.freeze({ user: 'u1' }), Object.freeze({ user: 'u2', team: 't' }), { user: 'mutable' }]
const METADATA = [Object.freeze({}), Object.freeze({ feature: 'chat' })]

/** Records of the shapes a ledger is given: a manager's usual record in runs of equal tails, and odd ones. */
const recordArb = (i: number): fc.Arbitrary<SpendRecord> =>
  fc
    .record({
      kind: fc.constantFrom('usual', 'usual', 'usual', 'usage', 'reordered', 'proto', 'null-proto', 'minimal'),
      ns: fc.constantFrom('', 'a/', 'b/'),
      started: fc.integer({ min: 0, max: 50 }),
      took: fc.integer({ min: 0, max: 20 }),
      cost: fc.constantFrom(1500, 2000, -0, 0),
      context: fc.constantFrom(...CONTEXTS),
      metadata: fc.constantFrom(...METADATA),
      tokens: fc.integer({ min: 0, max: 3 }),
      extra: fc.constantFrom<JsonValue | undefined>(undefined, null, 'x', [1, 2], { nested: true }),
      idKind: fc.integer({ min: 0, max: 7 }),
    })
    .map(({ idKind, kind, ns, started, took, cost, context, metadata, tokens, extra }) => {
      // Ids of a manager's form (kept as a shared stem and a counter), near misses of it, and plain ids.
      const callId = [
        `${ns}call-${i}`,
        `${ns}2u2v493v4a50166r-${(i + 1).toString(36)}`,
        `${ns}2u2v493v4a50166r-0${i}`,
        `${ns}2u2v493v4a50166r-${(i + 36 ** 6).toString(36)}`,
        `${ns}zzzzzzzzzzzzzzzz-${(i + 1).toString(36)}`,
        `${ns}2u2v493v4a50166R-1${i}`,
        `${ns}2u2v493v4a50166r_${i + 1}`,
        `${ns}2u2v493v4a50166r-A${i}`,
      ][idKind]!
      const startedAt = 1_700_000_000_000 + started
      const endedAt = startedAt + took
      const usual: SpendRecord = {
        callId,
        startedAt,
        endedAt,
        model: 'gpt-4o',
        modelServed: 'gpt-4o',
        provider: null,
        costNanoUsd: cost,
        cost: (cost / 1e9).toFixed(9),
        status: 'success',
        estimated: false,
        context: context as Record<string, JsonValue>,
        metadata: metadata as Record<string, JsonValue>,
        priceSource: 'caller',
        estimateNanoUsd: 2000,
      }
      if (kind === 'usual') return usual
      if (kind === 'usage') return { ...usual, inputTokens: tokens, outputTokens: 2 * tokens, extra: extra ?? null }
      if (kind === 'reordered') return { model: 'm', callId, endedAt, startedAt, costNanoUsd: cost }
      if (kind === 'proto')
        return JSON.parse(
          `{"callId":"${callId}","startedAt":${startedAt},"endedAt":${endedAt},"__proto__":{"a":1}}`,
        ) as SpendRecord
      if (kind === 'null-proto')
        return Object.assign(Object.create(null) as SpendRecord, { callId, startedAt, endedAt, x: 1 })
      return { callId, startedAt, endedAt }
    })

const recordsArb = fc
  .integer({ min: 0, max: 120 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => recordArb(i))))

/**
 * What a reader of the old array saw: the fields and their order, values compared with `Object.is` (so -0 counts).
 * The records are compared in plain code and the differences asserted once: an expect() per field of every record of
 * every generated case was most of this file's CPU (about 4 s of a full run's), for the same checks.
 */
function same(actual: readonly SpendRecord[], expected: readonly SpendRecord[]): void {
  const differences: string[] = []
  if (actual.length !== expected.length) differences.push(`${actual.length} records, expected ${expected.length}`)
  for (let i = 0; i < Math.min(actual.length, expected.length); i++) {
    const a = actual[i]!
    const e = expected[i]!
    const keys = Reflect.ownKeys(a)
    const expectedKeys = Reflect.ownKeys(e)
    if (keys.length !== expectedKeys.length || keys.some((key, k) => key !== expectedKeys[k]))
      differences.push(`record ${i}: fields ${String(keys)}, expected ${String(expectedKeys)}`)
    for (const key of expectedKeys) {
      if (!Object.is(Reflect.get(a, key), Reflect.get(e, key)))
        differences.push(`record ${i}: ${String(key)} differs (${typeof Reflect.get(a, key)})`)
    }
    // A record read back is a new object, never the one appended.
    if (a === e) differences.push(`record ${i}: the appended object itself`)
  }
  expect(differences).toEqual([])
}

describe('RecordTable', () => {
  it('reads back what was appended, in order, field by field, for every shape', () => {
    fc.assert(
      fc.property(recordsArb, (records) => {
        const table = new RecordTable()
        for (const r of records) table.push(r)
        same(table.toArray(), records)
        for (let i = 0; i < records.length; i++) expect(table.endedAt(i)).toBe(records[i]!.endedAt)
      }),
    )
  })

  it('keeps the order through trims, appends past the end of the ring and sweeps in the middle of it', () => {
    fc.assert(
      fc.property(
        recordsArb,
        recordsArb,
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 40 }),
        (first, more, max, cutoff) => {
          const table = new RecordTable()
          for (const r of first) table.push(r)
          table.trim(max)
          const afterTrim = table.toArray()
          // What a trim keeps is at most `max` of the records, in their order (which ones: `record-shares.test.ts`).
          expect(afterTrim.length).toBeLessThanOrEqual(Math.max(max, 0))
          let j = 0
          for (const r of afterTrim) {
            while (j < first.length && first[j]!.callId !== r.callId) j++
            expect(j).toBeLessThan(first.length)
            j++
          }
          const renamed = more.map((r) => ({ ...r, callId: `${r.callId}-more` }))
          for (const r of renamed) table.push(r)
          const all = [...afterTrim, ...renamed]
          same(table.toArray(), all)
          const base = 1_700_000_000_000
          const latest = table.dropEndedBefore(base + cutoff)
          const dropped = all.filter((r) => r.endedAt < base + cutoff)
          expect(latest).toBe(Math.max(...dropped.map((r) => r.endedAt)))
          same(
            table.toArray(),
            all.filter((r) => r.endedAt >= base + cutoff),
          )
        },
      ),
    )
  })

  it('gives memory back when a sweep or a trim leaves few records, and keeps reading them in order', () => {
    const table = new RecordTable()
    const record = (i: number): SpendRecord => ({ callId: `c${i}`, startedAt: i, endedAt: i, cost: i })
    for (let i = 0; i < 10_000; i++) table.push(record(i))
    expect(table.capacity).toBe(16_384)
    table.dropEndedBefore(9_990)
    expect(table.capacity).toBe(32)
    table.push(record(10_000))
    same(
      table.toArray(),
      Array.from({ length: 11 }, (_, i) => record(9_990 + i)),
    )
    table.trim(2)
    expect(table.capacity).toBe(16)
    same(table.toArray(), [record(9_999), record(10_000)])
    // a trim at the cap drops a sixteenth: no resize back and forth
    for (let i = 0; i < 1_024; i++) table.push(record(20_000 + i))
    const capacity = table.capacity
    table.trim(960)
    expect(table.capacity).toBe(capacity)
  })

  it('answers every query, trim, retention sweep and snapshot as the old array of record objects did', () => {
    fc.assert(
      fc.property(
        recordsArb,
        fc.integer({ min: 0, max: 40 }),
        fc.array(
          fc.record({
            from: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
            to: fc.option(fc.integer({ min: 0, max: 80 }), { nil: undefined }),
            limit: fc.option(fc.integer({ min: 0, max: 30 }), { nil: undefined }),
          }),
          { maxLength: 4 },
        ),
        (records, cutoff, queries) => {
          const state = ledger.createLedger()
          for (const r of records) state.records.push(r)
          const base = 1_700_000_000_000
          for (const q of queries) {
            const query = {
              ...(q.from === undefined ? {} : { from: base + q.from }),
              ...(q.to === undefined ? {} : { to: base + q.to }),
              ...(q.limit === undefined ? {} : { limit: q.limit }),
            }
            // The old reader: filter, stable sort by endedAt, then the limit.
            const from = query.from ?? -Infinity
            const to = query.to ?? Infinity
            const old = records.filter((r) => r.endedAt >= from && r.endedAt < to).sort((a, b) => a.endedAt - b.endedAt)
            same(ledger.queryRecords(state, query), query.limit === undefined ? old : old.slice(0, query.limit))
          }
          // A retention sweep drops what ended before its cutoff, and moves the coverage past the latest dropped.
          const latest = state.records.dropEndedBefore(base + cutoff)
          const kept = records.filter((r) => r.endedAt >= base + cutoff)
          const dropped = records.filter((r) => r.endedAt < base + cutoff)
          same(state.records.toArray(), kept)
          expect(latest).toBe(Math.max(...dropped.map((r) => r.endedAt)))
          // A snapshot writes the records as the old array did; a restore reads them back the same.
          const snapshot = ledger.snapshotLedger(state) as { records: SpendRecord[] }
          same(snapshot.records, kept)
          const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(snapshot)) as JsonValue)
          expect(JSON.stringify(restored.records.toArray())).toBe(JSON.stringify(kept))
        },
      ),
    )
  })

  it('shares the rest of equal records: one tail for a run of a static withBudget', async () => {
    const table = new RecordTable()
    const context = Object.freeze({ user: 'u' })
    const make = (i: number): SpendRecord => ({ callId: `c${i}`, startedAt: i, endedAt: i + 1, cost: '0.1', context })
    for (let i = 0; i < 3; i++) table.push(make(i))
    const [a, b, c] = table.toArray()
    expect([a!.callId, b!.callId, c!.callId]).toEqual(['c0', 'c1', 'c2'])
    expect(a!.context).toBe(context)
    expect(c!.context).toBe(context)
  })

  it('keeps the fields as they were appended: a record changed afterwards changes nothing stored', async () => {
    const store = memoryStore()
    const manager = new BudgetManager({ store })
    const fn = withBudget(async () => 1, { manager, context: { user: 'alice' }, estimate: 0.002, cost: () => 0.0015 })
    const outcomes: SpendRecord[] = []
    manager.on('spend.recorded', ({ record }) => void outcomes.push(record))
    await fn()
    await fn()
    const before = await store.queryRecords({})
    for (const record of outcomes) {
      record.cost = 'changed'
      record.endedAt = 0
    }
    const after = await store.queryRecords({})
    expect(after).toEqual(before)
    expect(after.map((r) => r.cost)).toEqual(['0.001500000', '0.001500000'])
    // An odd record (kept whole) is a copy too.
    const odd: SpendRecord = { endedAt: 5, callId: 'odd', startedAt: 1, cost: 'x' }
    await store.commit({ callId: 'odd', now: 5, entries: [], dedupeUntil: 10, record: odd })
    odd.cost = 'changed'
    expect((await store.queryRecords({ to: 6 })).map((r) => r.cost)).toEqual(['x'])
  })

  it('shares the last tail for a record with its token, and compares a record with another token or none', () => {
    const table = new RecordTable()
    const context = Object.freeze({ user: 'u' })
    const make = (i: number, cost: string): SpendRecord => ({
      callId: `c${i}`,
      startedAt: i,
      endedAt: i,
      cost,
      context,
    })
    const t1 = {}
    const t2 = {}
    table.push(make(0, 'a'), undefined, undefined, t1)
    table.push(make(1, 'a'), undefined, undefined, t1)
    // Another token: the fields are compared (and differ), whatever the token says.
    table.push(make(2, 'b'), undefined, undefined, t2)
    table.push(make(3, 'b'), undefined, undefined, t2)
    // No token: compared, and a new tail then belongs to no token.
    table.push(make(4, 'c'))
    table.push(make(5, 'c'), undefined, undefined, t2)
    // An odd record with a token is kept whole; the token does not take over the last tail.
    table.push({ startedAt: 6, callId: 'c6', endedAt: 6, cost: 'd' }, undefined, undefined, t1)
    table.push(make(7, 'e'), undefined, undefined, t1)
    expect(table.toArray().map((r) => `${r.callId}:${String(r.cost)}`)).toEqual([
      'c0:a',
      'c1:a',
      'c2:b',
      'c3:b',
      'c4:c',
      'c5:c',
      'c6:d',
      'c7:e',
    ])
  })

  it('reads back the call ids of records appended with the prefix and counter the ledger found', () => {
    const state = ledger.createLedger()
    const ids = [
      '2u2v493v4a50166r-1',
      'zzzzzzzzzzzzzzzz-1',
      'plain-id',
      '2u2v493v4a50166r-2',
      '2u2v493v4a50166R-3',
      'a/2u2v493v4a50166r-4',
      '2u2v493v4a50166r-zzzzzz',
      'zzzzzzzzzzzzzzzz-a0',
    ]
    ids.forEach((callId, i) => {
      const now = 1_000 + i
      const entries = [{ key: 'k', amount: 1, expiresAt: null }]
      ledger.reserve(state, { callId, now, holdExpiresAt: now + 100, entries: [{ ...entries[0]!, limit: null }] })
      ledger.commit(state, {
        callId,
        now,
        entries,
        dedupeUntil: now + 60_000,
        record: { callId, startedAt: now, endedAt: now, cost: '0.1' },
      })
    })
    expect(ledger.queryRecords(state, {}).map((r) => r.callId)).toEqual(ids)
    expect(state.records.toArray().map((r) => r.callId)).toEqual(ids)
  })
})
