// The ledger's rollup table keeps the rows of the last record's scopes while the next record has the same frozen
// context, provider, tenant, day and models. These check that the kept rows are only used when they are right: a
// mutable context changed between commits, a context whose tags are not frozen, evicted days, refusals.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import type { JsonValue, RollupRow, SpendRecord } from '../../src/stores/types.js'
import { RollupTable } from '../../src/stores/ledger/rollup-table.js'
import { DAY_MS, compareRows, rollupDeltas } from '../../src/stores/ledger/rollups.js'

const T0 = Date.UTC(2026, 0, 10)

let n = 0
function record(context: unknown, fields: Record<string, JsonValue> = {}, at = T0): SpendRecord {
  const r: SpendRecord = { callId: `c${n++}`, startedAt: at, endedAt: at, model: 'm', costNanoUsd: 5, ...fields }
  if (context !== undefined) r.context = context as JsonValue
  return r
}

function sorted(table: RollupTable): RollupRow[] {
  return [...table.rows()].sort(compareRows)
}

/** What the table should hold: the sum of `rollupDeltas` of every record added. */
function expected(records: SpendRecord[]): RollupRow[] {
  const rows = new Map<string, RollupRow>()
  for (const r of records) {
    for (const d of rollupDeltas(r)) {
      const key = `${d.day}|${d.scope}|${d.model}|${d.modelServed}`
      const row = rows.get(key)
      if (row === undefined) rows.set(key, { ...d })
      else {
        row.calls += d.calls
        row.inputTokens += d.inputTokens
        row.outputTokens += d.outputTokens
        row.costNanoUsd += d.costNanoUsd
        row.savedNanoUsd += d.savedNanoUsd
        row.estimatedCalls += d.estimatedCalls
      }
    }
  }
  return [...rows.values()].sort(compareRows)
}

function scopesOf(table: RollupTable): string[] {
  return sorted(table).map((row) => `${row.scope}=${row.calls}`)
}

describe('RollupTable rows kept between records', () => {
  it('a mutable context changed between two commits rolls up into its new scopes', () => {
    const table = new RollupTable()
    const context: Record<string, JsonValue> = { user: 'alice', tags: ['a'] }
    table.add(record(context))
    context.user = 'bob'
    ;(context.tags as string[])[0] = 'b'
    table.add(record(context))
    expect(scopesOf(table)).toEqual(['global=2', 'tag:a=1', 'tag:b=1', 'user:alice=1', 'user:bob=1'])
  })

  it('a frozen context with unfrozen tags that change rolls up into the new tags', () => {
    const table = new RollupTable()
    const tags = ['a']
    const context = Object.freeze({ user: 'alice', tags })
    table.add(record(context))
    tags[0] = 'b'
    table.add(record(context))
    expect(scopesOf(table)).toEqual(['global=2', 'tag:a=1', 'tag:b=1', 'user:alice=2'])
  })

  it('a shared frozen context keeps separate rows per provider, tenant, model and day', () => {
    const table = new RollupTable()
    const context = Object.freeze({ user: 'alice', tags: Object.freeze(['x', 'x']) })
    const records = [
      record(context),
      record(context),
      record(context, { provider: 'openai' }),
      record(context, { provider: 'openai', tenant: 't1' }),
      record(context, { tenant: 't1' }),
      record(context, { tenant: 't2' }),
      record(context, { model: 'other' }),
      record(context, {}, T0 + DAY_MS),
      record(context),
    ]
    for (const r of records) table.add(r)
    expect(sorted(table)).toEqual(expected(records))
    expect(table.size).toBe(expected(records).length)
  })

  it('rows of an evicted day are made again for the same frozen context', () => {
    const table = new RollupTable()
    const context = Object.freeze({ team: 'search' })
    table.add(record(context))
    expect(table.evict('2026-01-11')).toBe('2026-01-10')
    expect(table.size).toBe(0)
    table.add(record(context))
    expect(scopesOf(table)).toEqual(['global=1', 'team:search=1'])
  })

  it('a refused commit on kept rows changes no row', () => {
    const table = new RollupTable()
    const context = Object.freeze({ org: 'acme' })
    table.add(record(context, { costNanoUsd: Number.MAX_SAFE_INTEGER - 10 }))
    const org = Object.freeze({ org: 'other' })
    table.add(record(org, { costNanoUsd: 5 }))
    table.add(record(context, { costNanoUsd: 1 }))
    const before = sorted(table)
    // global is at MAX - 4: 20 more would pass it (the kept rows' first row).
    expect(() => table.add(record(context, { costNanoUsd: 20 }))).toThrow(InvalidInputError)
    expect(sorted(table)).toEqual(before)
    table.add(record(context, { costNanoUsd: 0 }))
    expect(sorted(table).find((row) => row.scope === 'org:acme')?.calls).toBe(3)
  })

  it('equals the sum of rollupDeltas for random records over shared, mutable and changing contexts', () => {
    const frozen = [
      Object.freeze({ user: 'u1', team: 't', tags: Object.freeze(['a', 'b']) }),
      Object.freeze({ user: 'u2', org: 'o' }),
      Object.freeze({}),
    ]
    const step = fc.record({
      context: fc.integer({ min: 0, max: 5 }),
      mutate: fc.constantFrom('u1', 'u3', null),
      provider: fc.constantFrom('openai', 'anthropic', undefined),
      tenant: fc.constantFrom('t1', undefined),
      model: fc.constantFrom('m1', 'm2'),
      day: fc.integer({ min: 0, max: 2 }),
      cost: fc.integer({ min: 0, max: 1_000 }),
      evict: fc.boolean(),
    })
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const table = new RollupTable()
        const mutable: Record<string, JsonValue> = { user: 'u1', tags: ['a'] }
        const added: SpendRecord[] = []
        for (const s of steps) {
          if (s.mutate !== null) {
            mutable.user = s.mutate
            ;(mutable.tags as string[])[0] = s.mutate
          }
          const context = s.context < frozen.length ? frozen[s.context] : s.context === 3 ? mutable : undefined
          const fields: Record<string, JsonValue> = { model: s.model, costNanoUsd: s.cost }
          if (s.provider !== undefined) fields.provider = s.provider
          if (s.tenant !== undefined) fields.tenant = s.tenant
          const r = record(context, fields, T0 + s.day * DAY_MS)
          table.add(r)
          // The expected rows are those of a copy: the mutable context may change after this commit.
          added.push(structuredClone(r))
          if (s.evict && s.day === 2) {
            table.evict('2026-01-11')
            added.splice(0, added.length, ...added.filter((x) => x.endedAt >= T0 + DAY_MS))
          }
        }
        expect(sorted(table)).toEqual(expected(added))
      }),
      { numRuns: 300 },
    )
  })
})
