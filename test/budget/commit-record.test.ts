import { describe, expect, it } from 'vitest'
import { buildRecord, type RecordInput } from '../../src/budget/manager/commit-record.js'
import { formatNano } from '../../src/budget/money.js'
import { BudgetManager, withBudget } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory.js'

/** The record of `input` as the general path writes it (every field added in turn). */
function general(input: RecordInput, now: number, cost: string) {
  return buildRecord({ ...input, priced: { ...input.priced, plain: false } }, now, cost, null)
}

describe('the spend record of a plain commit (one object literal)', () => {
  const base: RecordInput = {
    callId: 'c-1',
    context: { user: 'alice', team: 'search' },
    startedAt: 1_700_000_000_000,
    priced: { nano: 1_500_000, status: 'success', estimated: false, fields: {}, plain: true },
    modelRequested: undefined,
    estimateNano: 2_000_000,
    guarded: true,
  }
  const variants: [string, Partial<RecordInput>, Record<string, string>][] = [
    ['empty metadata', {}, {}],
    ['a served model and provider', { modelRequested: 'gpt-4o' }, { modelServed: 'gpt-4o-mini', provider: 'openai' }],
    ['the context provider', { context: { org: 'acme', provider: 'anthropic', tags: ['a'] } }, {}],
    ['an estimated charge', { priced: { ...base.priced, status: 'estimated', estimated: true } }, {}],
  ]
  for (const [name, change, fields] of variants) {
    it(`${name}: the same fields in the same order as the general path`, () => {
      const input: RecordInput = { ...base, ...change }
      const metadata: Record<string, number> = name === 'empty metadata' ? {} : { k: 1 }
      const priced = { ...input.priced, fields: { metadata, ...fields, priceSource: 'caller' } }
      const plain = buildRecord({ ...input, priced }, 1_700_000_000_005, '0.001500000', null)
      const expected = general({ ...input, priced }, 1_700_000_000_005, '0.001500000')
      // JSON text compares the order of the fields too.
      expect(JSON.stringify(plain)).toBe(JSON.stringify(expected))
      expect(Object.keys(plain)).toContain('estimateNanoUsd')
    })
  }

  it('falls back to the general path for what the literal does not hold', () => {
    const priced = { ...base.priced, fields: { metadata: {}, priceSource: 'caller' } }
    const withContextMetadata = { ...base, context: { user: 'a', metadata: { run: 'r1' } }, priced }
    expect(buildRecord(withContextMetadata, 1, '0', null).metadata).toEqual({ run: 'r1' })
    const unguarded = { ...base, priced, guarded: false }
    expect(buildRecord(unguarded, 1, '0', null).guarded).toBe(false)
    const direct = { ...base, priced, estimateNano: null }
    expect('estimateNanoUsd' in buildRecord(direct, 1, '0', null)).toBe(false)
    // A project name is the last field, after the estimate.
    expect(Object.keys(buildRecord({ ...base, priced }, 1, '0', 'proj')).slice(-2)).toEqual([
      'estimateNanoUsd',
      'project',
    ])
  })

  it.each([[undefined], ['p1']])(
    'a withBudget call (project %s) stores its record fields in the usual order',
    async (projectName) => {
      const manager = new BudgetManager({ store: memoryStore(), ...(projectName === undefined ? {} : { projectName }) })
      const fn = withBudget(async () => 1, {
        manager,
        context: { user: 'alice', key: 'k1' },
        estimate: 0.002,
        cost: () => 0.0015,
      })
      await fn()
      const [record] = await manager.store.queryRecords({})
      expect(Object.keys(record!)).toEqual([
        'callId',
        'startedAt',
        'endedAt',
        'model',
        'modelServed',
        'provider',
        'costNanoUsd',
        'cost',
        'status',
        'estimated',
        'context',
        'metadata',
        'priceSource',
        'estimateNanoUsd',
        ...(projectName === undefined ? [] : ['project']),
      ])
      expect(record!.cost).toBe('0.001500000')
    },
  )
})

describe('formatNano remembers its last answer', () => {
  it('answers each amount exactly, the same amount twice and others in between', () => {
    const amounts = [1_500_000, 1_500_000, 0, -0, 5_000_000_000, 123_456_789_012, 1_500_000, 99_999_999]
    const expected = [
      '0.001500000',
      '0.001500000',
      '0.000000000',
      '0.000000000',
      '5.000000000',
      '123.456789012',
      '0.001500000',
      '0.099999999',
    ]
    expect(amounts.map((n) => formatNano(n))).toEqual(expected)
    expect(formatNano(-1)).toBe('-0.000000001')
    expect(formatNano(-1)).toBe('-0.000000001')
    expect(formatNano(2n ** 60n)).toBe('1152921504.606846976')
    expect(formatNano(1_500_000n)).toBe('0.001500000')
  })
})
