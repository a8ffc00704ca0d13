import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildRecord, type RecordInput, sameTail, tailTokenOf } from '../../src/budget/manager/commit-record.js'
import { formatNano } from '../../src/budget/money.js'
import { BudgetManager, withBudget } from '../../src/index.js'
import { memoryStore } from '../../src/stores/memory.js'
import type { SpendRecord } from '../../src/stores/types.js'

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

describe("a record's context and metadata: frozen, shared while equal", () => {
  /** A manager whose written records (`spend.recorded`, the objects the memory store keeps) are collected. */
  function collecting() {
    const manager = new BudgetManager({ store: memoryStore() })
    const recorded: SpendRecord[] = []
    manager.on('spend.recorded', ({ record }) => void recorded.push(record))
    return { manager, recorded }
  }

  it('records of one static withBudget context share one frozen `context` and the empty `metadata`', async () => {
    const { manager, recorded } = collecting()
    const fn = withBudget(async () => 1, {
      manager,
      context: { user: 'alice', team: 'search', tags: ['a', 'b'] },
      estimate: 0.002,
      cost: () => 0.0015,
    })
    for (let i = 0; i < 3; i++) await fn()
    const expected = { user: 'alice', team: 'search', tags: ['a', 'b'] }
    expect(recorded.map((r) => r.context)).toEqual([expected, expected, expected])
    expect((await manager.store.queryRecords({})).map((r) => r.context)).toEqual([expected, expected, expected])
    expect(recorded[1]!.context).toBe(recorded[0]!.context)
    expect(recorded[2]!.metadata).toBe(recorded[0]!.metadata)
    const context = recorded[0]!.context as Record<string, unknown>
    expect(Object.isFrozen(context)).toBe(true)
    expect(Object.isFrozen(context.tags)).toBe(true)
    expect(Object.isFrozen(recorded[0]!.metadata)).toBe(true)
    // A change is refused loudly instead of reaching the other records (ES modules run in strict mode).
    expect(() => (context.user = 'mallory')).toThrow(TypeError)
    expect(() => (context.tags as string[]).push('c')).toThrow(TypeError)
    expect(() => ((recorded[0]!.metadata as Record<string, unknown>).x = 1)).toThrow(TypeError)
    expect(recorded[2]!.context).toEqual(expected)
    expect((await manager.store.queryRecords({}))[2]!.context).toEqual(expected)
  })

  it('each context keeps its own values when calls alternate, and metadata given is kept, frozen', async () => {
    const { manager, recorded } = collecting()
    const contexts = [{ user: 'a' }, { user: 'a', team: 't' }, { user: 'b' }, { user: 'b', tags: ['x'] }, {}]
    const outcomes = []
    for (const context of [...contexts, ...contexts])
      outcomes.push(await (await manager.reserve(context, 0.01)).commit({ cost: 0.001, metadata: { n: 1 } }))
    outcomes.push(await manager.record({ user: 'b', tags: ['y'] }, 0.001))
    const all = [...contexts, ...contexts, { user: 'b', tags: ['y'] }]
    expect(recorded.map((r) => r.context)).toEqual(all)
    expect(outcomes.map((o) => o.record!.context)).toEqual(all)
    expect((await manager.store.queryRecords({})).map((r) => r.context)).toEqual(all)
    for (const record of recorded.slice(0, 10)) {
      expect(Object.isFrozen(record.context)).toBe(true)
      expect(record.metadata).toEqual({ n: 1 })
      expect(Object.isFrozen(record.metadata)).toBe(true)
    }
    expect(recorded[5]!.metadata).not.toBe(recorded[0]!.metadata)
  })

  it('a commit without metadata entries keeps none of its own; context metadata is merged into a new frozen object', async () => {
    const { manager, recorded } = collecting()
    await (await manager.reserve({ user: 'a' }, 0.01)).commit({ cost: 0.001, metadata: {} })
    await (await manager.reserve({ user: 'a', metadata: { run: 'r1' } }, 0.01)).commit({ cost: 0.001 })
    const [plain, merged] = recorded
    expect(plain!.metadata).toEqual({})
    expect(Object.isFrozen(plain!.metadata)).toBe(true)
    expect(merged!.metadata).toEqual({ run: 'r1' })
    expect(Object.isFrozen(merged!.metadata)).toBe(true)
  })

  it("context metadata merged with the commit's is one frozen object while equal, a new one when it changes", async () => {
    const { manager, recorded } = collecting()
    const fn = withBudget(async () => 1, {
      manager,
      context: { user: 'alice', metadata: { run: 'r1', step: 1 } },
      estimate: 0.002,
      cost: () => 0.0015,
    })
    for (let i = 0; i < 3; i++) await fn()
    const commit = async (
      metadata: Record<string, string | number>,
      context = { user: 'alice', metadata: { run: 'r1', step: 1 } },
    ) => void (await (await manager.reserve(context, 0.01)).commit({ cost: 0.001, metadata }))
    await commit({ step: 2 })
    await commit({ step: 2 })
    await commit({ step: 2, k: 'v' })
    await commit({ k: 'v', step: 2 })
    await commit({}, { user: 'alice', metadata: { run: 'r2', step: 1 } })
    await commit({}, { user: 'alice', metadata: { run: 'r2', step: 1 } })
    const metadata = recorded.map((r) => r.metadata)
    expect(metadata).toEqual([
      { run: 'r1', step: 1 },
      { run: 'r1', step: 1 },
      { run: 'r1', step: 1 },
      { run: 'r1', step: 2 },
      { run: 'r1', step: 2 },
      { run: 'r1', step: 2, k: 'v' },
      { run: 'r1', step: 2, k: 'v' },
      { run: 'r2', step: 1 },
      { run: 'r2', step: 1 },
    ])
    for (const m of metadata) expect(Object.isFrozen(m)).toBe(true)
    expect(metadata[1]).toBe(metadata[0])
    expect(metadata[2]).toBe(metadata[0])
    expect(metadata[3]).not.toBe(metadata[2])
    expect(metadata[4]).toBe(metadata[3])
    expect(metadata[5]).not.toBe(metadata[4])
    // The same entries in another order: the record's JSON keeps each commit's order.
    expect(Object.keys(metadata[6]!)).toEqual(['run', 'step', 'k'])
    expect(metadata[7]).not.toBe(metadata[6])
    expect(metadata[8]).toBe(metadata[7])
    expect((await manager.store.queryRecords({})).map((r) => r.metadata)).toEqual(metadata)
  })

  it('merged metadata has the entries, order and values of a fresh merge, shared or not (property)', () => {
    const keys = ['a', 'b', '1', '__proto__']
    const flat = fc
      .uniqueArray(fc.tuple(fc.constantFrom(...keys), fc.constantFrom(0, -0, 'x')), {
        selector: ([k]) => k,
        maxLength: 4,
      })
      .map((entries) => {
        const out: Record<string, string | number | null> = {}
        for (const [k, v] of entries)
          Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true })
        return out
      })
    fc.assert(
      fc.property(
        fc.array(fc.tuple(flat, fc.option(flat, { nil: undefined })), { minLength: 1, maxLength: 8 }),
        (steps) => {
          for (const [base, own] of steps) {
            const input: RecordInput = {
              callId: 'c-1',
              context: { user: 'u', metadata: base },
              startedAt: 1,
              priced: {
                nano: 1,
                status: 'success',
                estimated: false,
                fields: own === undefined ? {} : { metadata: own },
                plain: false,
              },
              modelRequested: undefined,
              estimateNano: null,
              guarded: true,
            }
            const metadata = buildRecord(input, 2, '0', null).metadata as Record<string, unknown>
            const fresh: Record<string, unknown> = { ...base, ...own }
            expect(Object.isFrozen(metadata)).toBe(true)
            expect(Object.keys(metadata)).toEqual(Object.keys(fresh))
            for (const key of Object.keys(fresh))
              expect(Object.is(Object.getOwnPropertyDescriptor(metadata, key)!.value, fresh[key])).toBe(true)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe("a plain record's tail token (the memory store shares a kept tail without comparing)", () => {
  it('is the same for plain records with equal fields after `endedAt`, a new one when one of them changes', () => {
    const metadata = Object.freeze({})
    const input = (nano: number, status: 'success' | 'failure' = 'success'): RecordInput => ({
      callId: `c${nano}`,
      context: { user: 'u' },
      startedAt: 1,
      priced: { nano, status, estimated: false, fields: { metadata, priceSource: 'caller' }, plain: true },
      modelRequested: undefined,
      estimateNano: 5,
      guarded: true,
    })
    const tokens: (object | undefined)[] = []
    for (const [nano, status] of [
      [1, 'success'],
      [1, 'success'],
      [2, 'success'],
      [2, 'failure'],
      [2, 'failure'],
    ] as const) {
      const record = buildRecord(input(nano, status), 2, formatNano(nano), null)
      tokens.push(tailTokenOf(record))
    }
    expect(tokens.every((t) => t !== undefined)).toBe(true)
    expect(tokens[1]).toBe(tokens[0])
    expect(tokens[2]).not.toBe(tokens[1])
    expect(tokens[3]).not.toBe(tokens[2])
    expect(tokens[4]).toBe(tokens[3])
    // Only the record last built has one.
    const first = buildRecord(input(3), 2, formatNano(3), null)
    buildRecord(input(3), 2, formatNano(3), null)
    expect(tailTokenOf(first)).toBeUndefined()
  })

  it('takes every field after `endedAt` of a plain record into account: a change to any one is a new tail', () => {
    const input: RecordInput = {
      callId: 'c1',
      context: { user: 'u', team: 't' },
      startedAt: 1,
      priced: {
        nano: 7,
        status: 'success',
        estimated: false,
        fields: { metadata: Object.freeze({}), priceSource: 'caller' },
        plain: true,
      },
      modelRequested: 'gpt-4o',
      estimateNano: 5,
      guarded: true,
    }
    const record = buildRecord(input, 2, formatNano(7), null)
    expect(tailTokenOf(record)).toBeDefined()
    const names = Object.keys(record).slice(3)
    expect(names.length).toBeGreaterThan(5)
    expect(sameTail({ ...record })).toBe(true)
    const other = (value: unknown): unknown =>
      typeof value === 'string'
        ? `${value}x`
        : typeof value === 'number'
          ? value + 1
          : typeof value === 'boolean'
            ? !value
            : {}
    for (const name of names) {
      const changed = { ...record, [name]: other(record[name as keyof SpendRecord]) } as SpendRecord
      expect([name, sameTail(changed)]).toEqual([name, false])
    }
  })

  it('records read back as written when the cost changes between calls and a listener changes the records it is given', async () => {
    const store = memoryStore()
    const manager = new BudgetManager({ store })
    const costs = [0.001, 0.001, 0.002, 0.002, 0.001, 0.003]
    let i = 0
    const fn = withBudget(async () => 1, {
      manager,
      context: { user: 'alice' },
      estimate: 0.005,
      cost: () => costs[i++]!,
    })
    // A listener makes each record handed to it look like the next one: the next commit must not take it for the
    // tail the store already keeps.
    manager.on('spend.recorded', ({ record }) => {
      const next = costs[i]
      if (next === undefined) return
      record.cost = formatNano(Math.round(next * 1e9))
      record.costNanoUsd = Math.round(next * 1e9)
    })
    for (let k = 0; k < costs.length; k++) await fn()
    const records = await store.queryRecords({})
    expect(records.map((r) => r.cost)).toEqual(costs.map((c) => formatNano(Math.round(c * 1e9))))
    expect(records.map((r) => r.costNanoUsd)).toEqual(costs.map((c) => Math.round(c * 1e9)))
  })
})
