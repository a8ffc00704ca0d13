// The pure ledger: the non-mutating read used by the file store and the snapshot round trip agree with the
// mutating read, for random sequences of operations with holds that expire at different instants.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as ledger from '../../src/stores/ledger/ledger.js'

const KEYS = ['a', 'b', 'c']
const T0 = 1_800_000_000_000

const operation = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    call: fc.integer({ min: 0, max: 15 }),
    keys: fc.subarray(KEYS, { minLength: 1 }),
    amount: fc.integer({ min: 0, max: 50 }),
    limit: fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }),
    ttl: fc.integer({ min: 0, max: 5_000 }),
    keyTtl: fc.option(fc.integer({ min: 1, max: 20_000 }), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('commit' as const),
    call: fc.integer({ min: 0, max: 15 }),
    keys: fc.subarray(KEYS),
    amount: fc.integer({ min: 0, max: 80 }),
  }),
  fc.record({ kind: fc.constant('release' as const), call: fc.integer({ min: 0, max: 15 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 4_000 }) }),
)

describe('ledger', () => {
  it('peekBalances equals balances, and a restored snapshot behaves like the original', () => {
    fc.assert(
      fc.property(
        fc.array(operation, { maxLength: 60 }),
        fc.integer({ min: 0, max: 6_000 }),
        (operations, lookAhead) => {
          const state = ledger.createLedger()
          let now = T0
          for (const op of operations) {
            if (op.kind === 'advance') now += op.ms
            else if (op.kind === 'reserve') {
              ledger.reserve(state, {
                callId: `c${op.call}`,
                now,
                holdExpiresAt: now + op.ttl,
                entries: op.keys.map((key) => ({
                  key,
                  amount: op.amount,
                  limit: op.limit,
                  expiresAt: op.keyTtl === null ? null : now + op.keyTtl,
                })),
              })
            } else if (op.kind === 'commit') {
              ledger.commit(state, {
                callId: `c${op.call}`,
                now,
                entries: op.keys.map((key) => ({ key, amount: op.amount, expiresAt: now + 10_000 })),
                dedupeUntil: now + 3_000,
              })
            } else {
              ledger.release(state, { callId: `c${op.call}`, now })
            }
          }
          const later = now + lookAhead
          const peeked = ledger.peekBalances(state, { keys: KEYS, now: later })
          const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(ledger.snapshotLedger(state))))
          expect(ledger.balances(restored, { keys: KEYS, now: later })).toEqual(peeked)
          expect(ledger.balances(state, { keys: KEYS, now: later })).toEqual(peeked)
          for (const ks of state.keys.values()) {
            expect(ks.reserved).toBeGreaterThanOrEqual(0)
            expect(ks.holdCount).toBeGreaterThanOrEqual(0)
          }
        },
      ),
      { numRuns: 500 },
    )
  })

  it('peekBalances counts a due hold once when its call id was held before with the same expiry', () => {
    // Found by the property above (seed 2146075610): a call id held, committed, forgotten when its dedupe window
    // ended, then held again until the first hold's expiry leaves two heap entries for one hold.
    const state = ledger.createLedger()
    const entries = (amount: number) => [{ key: 'c', amount, limit: null, expiresAt: null }]
    ledger.reserve(state, { callId: 'c4', now: T0, holdExpiresAt: T0 + 3001, entries: entries(0) })
    ledger.commit(state, { callId: 'c4', now: T0, entries: [], dedupeUntil: T0 + 3000 })
    ledger.reserve(state, { callId: 'c4', now: T0 + 3000, holdExpiresAt: T0 + 3001, entries: entries(1) })
    expect(ledger.peekBalances(state, { keys: ['c'], now: T0 + 3001 })).toEqual([{ spent: 0, reserved: 0 }])
    expect(ledger.balances(state, { keys: ['c'], now: T0 + 3001 })).toEqual([{ spent: 0, reserved: 0 }])
  })

  it('holds still expire on time after the expiry heap is rebuilt to drop finished calls', () => {
    const state = ledger.createLedger()
    // 10 holds that stay open, expiring at T0 + 1000 * (i + 1).
    for (let i = 0; i < 10; i++) {
      ledger.reserve(state, {
        callId: `open${i}`,
        now: T0,
        holdExpiresAt: T0 + 1000 * (i + 1),
        entries: [{ key: 'k', amount: 1, limit: null, expiresAt: null }],
      })
    }
    // 5,000 calls that finish at once: their heap entries are stale and trigger rebuilds.
    for (let i = 0; i < 5_000; i++) {
      ledger.reserve(state, {
        callId: `done${i}`,
        now: T0,
        holdExpiresAt: T0 + 60_000,
        entries: [{ key: 'k', amount: 1, limit: null, expiresAt: null }],
      })
      ledger.commit(state, { callId: `done${i}`, now: T0, entries: [], dedupeUntil: T0 })
    }
    expect(state.holdExpiries.at.length).toBeLessThan(1100)
    for (let i = 0; i <= 10; i++) {
      expect(ledger.balances(state, { keys: ['k'], now: T0 + 1000 * i })).toEqual([{ spent: 0, reserved: 10 - i }])
    }
  })

  it('refuses a snapshot of another version', () => {
    expect(() => ledger.restoreLedger({ version: 1 })).toThrow(/version 2/)
  })

  it('refuses a snapshot whose records are damaged, naming the record and the field', () => {
    const state = ledger.createLedger()
    const record = { callId: 'c1', startedAt: T0, endedAt: T0 + 5, cost: 3 }
    ledger.commit(state, { callId: 'c1', now: T0, entries: [], dedupeUntil: T0, record })
    const good = JSON.parse(JSON.stringify(ledger.snapshotLedger(state))) as { records: unknown[] }
    const damaged = (value: unknown) => ({ ...good, records: [value] })
    expect(() => ledger.restoreLedger(damaged({ ...record, endedAt: 'garbage' }) as never)).toThrow(
      /records\[0\]\.endedAt.*finite number/,
    )
    expect(() => ledger.restoreLedger(damaged({ ...record, startedAt: null }) as never)).toThrow(
      /records\[0\]\.startedAt/,
    )
    expect(() => ledger.restoreLedger(damaged({ ...record, callId: 7 }) as never)).toThrow(/records\[0\]\.callId/)
    expect(() => ledger.restoreLedger(damaged(null) as never)).toThrow(/records\[0\]/)
    expect(() => ledger.restoreLedger({ ...good, records: 'x' } as never)).toThrow(/records/)
    expect(ledger.snapshotLedger(ledger.restoreLedger(good as never))).toStrictEqual(good)
  })

  describe('stored definitions and history are kept once when equal, and stay separate values', () => {
    const plan = { maxBudget: 10, duration: 'monthly', modelMaxBudget: { 'gpt-4o': { maxBudget: 2 } } }
    const put = (state: ledger.LedgerState, scope: string, definition: unknown, at: number, ifRevision?: number) =>
      ledger.putBudget(state, {
        scope,
        definition: structuredClone({ v: 1, definition, anchor: at, increases: [] }) as never,
        history: { scope, action: 'create', at, old: null, new: structuredClone(definition) as never, reason: null },
        now: at,
        ...(ifRevision === undefined ? {} : { ifRevision }),
      })

    it('two scopes on one plan read back their own definition, anchor and history', () => {
      const state = ledger.createLedger()
      put(state, 'user:a', plan, T0)
      put(state, 'user:b', plan, T0 + 1)
      const a = ledger.getBudget(state, 'user:a')!
      const b = ledger.getBudget(state, 'user:b')!
      expect(a.definition).toEqual({ v: 1, definition: plan, anchor: T0, increases: [] })
      expect(b.definition).toEqual({ v: 1, definition: plan, anchor: T0 + 1, increases: [] })
      expect(ledger.getHistory(state, 'user:a')).toEqual([
        { scope: 'user:a', action: 'create', at: T0, old: null, new: plan, reason: null },
      ])
      expect(ledger.getHistory(state, 'user:b')).toEqual([
        { scope: 'user:b', action: 'create', at: T0 + 1, old: null, new: plan, reason: null },
      ])
    })

    it('a second and third change append to the history in order, also through a snapshot', () => {
      const state = ledger.createLedger()
      put(state, 'user:a', plan, T0)
      put(state, 'user:a', { maxBudget: 20 }, T0 + 1, 1)
      put(state, 'user:a', plan, T0 + 2, 2)
      const expected = [T0, T0 + 1, T0 + 2]
      expect(ledger.getHistory(state, 'user:a').map((h) => h.at)).toEqual(expected)
      expect(ledger.getHistory(state, 'user:a').map((h) => h.new)).toEqual([plan, { maxBudget: 20 }, plan])
      const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(ledger.snapshotLedger(state))))
      expect(ledger.getHistory(restored, 'user:a')).toEqual(ledger.getHistory(state, 'user:a'))
      expect(ledger.getBudget(restored, 'user:a')).toEqual(ledger.getBudget(state, 'user:a'))
      expect(ledger.snapshotLedger(restored)).toEqual(ledger.snapshotLedger(state))
    })

    it('values JSON text cannot tell apart are not merged: -0 stays -0 and 0 stays 0', () => {
      const state = ledger.createLedger()
      put(state, 'user:zero', { maxBudget: 0 }, T0)
      put(state, 'user:minus', { maxBudget: -0 }, T0)
      const zero = (ledger.getBudget(state, 'user:zero')!.definition as { definition: { maxBudget: number } })
        .definition.maxBudget
      const minus = (ledger.getBudget(state, 'user:minus')!.definition as { definition: { maxBudget: number } })
        .definition.maxBudget
      expect(Object.is(zero, 0)).toBe(true)
      expect(Object.is(minus, -0)).toBe(true)
      expect(Object.is((ledger.getHistory(state, 'user:minus')[0]!.new as { maxBudget: number }).maxBudget, -0)).toBe(
        true,
      )
    })

    it("a memory store hands out copies: changing one scope's definition changes no other scope", async () => {
      const { memoryStore } = await import('../../src/stores/memory.js')
      const store = memoryStore()
      for (const scope of ['user:a', 'user:b']) {
        await store.putBudget({
          scope,
          definition: { v: 1, definition: plan, anchor: T0, increases: [] },
          history: { scope, action: 'create', at: T0, old: null, new: plan, reason: null },
          now: T0,
        })
      }
      const a = await store.getBudget('user:a')
      ;(a!.definition as { definition: { maxBudget: number } }).definition.maxBudget = 999
      ;((await store.getHistory('user:a'))[0]!.new as { maxBudget: number }).maxBudget = 999
      expect((await store.getBudget('user:b'))!.definition).toEqual({
        v: 1,
        definition: plan,
        anchor: T0,
        increases: [],
      })
      expect((await store.getBudget('user:a'))!.definition).toEqual({
        v: 1,
        definition: plan,
        anchor: T0,
        increases: [],
      })
      expect((await store.getHistory('user:b'))[0]!.new).toEqual(plan)
      expect((await store.getHistory('user:a'))[0]!.new).toEqual(plan)
    })
  })

  describe('budgets and their history read back as written, whatever the history kept with a budget', () => {
    // Kept per scope apart from its budget, the naive way: the ledger keeps a plain creation inside the budget and the
    // history of a deleted budget apart; every read must answer as this model does.
    const change = fc.record({
      scope: fc.constantFrom('user:a', 'user:b', 'team:c'),
      kind: fc.constantFrom('put' as const, 'delete' as const, 'reset' as const),
      reason: fc.option(fc.constantFrom('raise', ''), { nil: null }),
      at: fc.integer({ min: 0, max: 3 }),
      maxBudget: fc.integer({ min: 0, max: 3 }),
      // A history entry written with its fields in another order (kept as written) or for a later instant.
      shape: fc.constantFrom('plain' as const, 'reordered' as const, 'later' as const),
    })

    it('after every change, and after a snapshot round trip', () => {
      fc.assert(
        fc.property(fc.array(change, { maxLength: 25 }), (changes) => {
          const state = ledger.createLedger()
          const budgets = new Map<string, ReturnType<typeof ledger.getBudget>>()
          const history = new Map<string, unknown[]>()
          let now = T0
          for (const c of changes) {
            now += c.at
            const current = budgets.get(c.scope) ?? null
            const definition = c.kind === 'delete' ? null : { v: 1, definition: { maxBudget: c.maxBudget } }
            const action = c.kind === 'reset' ? 'reset' : c.kind === 'delete' ? 'delete' : current ? 'update' : 'create'
            const at = c.shape === 'later' ? now + 1 : now
            const entry =
              c.shape === 'reordered'
                ? { action, scope: c.scope, at, old: null, new: definition, reason: c.reason }
                : { scope: c.scope, action, at, old: current?.definition ?? null, new: definition, reason: c.reason }
            const result = ledger.putBudget(state, {
              scope: c.scope,
              definition: structuredClone(definition),
              history: structuredClone(entry) as never,
              now,
            })
            const next =
              definition === null
                ? null
                : {
                    scope: c.scope,
                    definition,
                    revision: (current?.revision ?? 0) + 1,
                    createdAt: current?.createdAt ?? now,
                    updatedAt: now,
                  }
            expect(result).toStrictEqual({ ok: true, budget: next })
            if (next === null) budgets.delete(c.scope)
            else budgets.set(c.scope, next)
            history.set(c.scope, [...(history.get(c.scope) ?? []), entry])
          }
          const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(ledger.snapshotLedger(state))))
          for (const s of [state, restored]) {
            for (const scope of ['user:a', 'user:b', 'team:c']) {
              expect(ledger.getBudget(s, scope)).toStrictEqual(budgets.get(scope) ?? null)
              expect(ledger.getHistory(s, scope)).toStrictEqual(history.get(scope) ?? [])
              // Each entry keeps the order of its fields.
              expect(ledger.getHistory(s, scope).map((h) => Object.keys(h))).toEqual(
                (history.get(scope) ?? []).map((h) => Object.keys(h as object)),
              )
            }
            expect(new Set(ledger.listBudgets(s).map((b) => JSON.stringify(b)))).toEqual(
              new Set([...budgets.values()].map((b) => JSON.stringify(b))),
            )
          }
          expect(ledger.snapshotLedger(restored)).toStrictEqual(ledger.snapshotLedger(state))
        }),
        { numRuns: 300 },
      )
    })

    it('a snapshot with a budget but no history of it restores both as they were', () => {
      const budget = { scope: 'user:a', definition: { v: 1 }, revision: 2, createdAt: T0, updatedAt: T0 + 5 }
      const snapshot = { ...(ledger.snapshotLedger(ledger.createLedger()) as object), budgets: [budget] }
      const restored = ledger.restoreLedger(snapshot as never)
      expect(ledger.getBudget(restored, 'user:a')).toStrictEqual(budget)
      expect(ledger.getHistory(restored, 'user:a')).toStrictEqual([])
      expect(ledger.snapshotLedger(restored)).toStrictEqual(snapshot)
    })

    it('a budget handed out is a copy of the stored fields: changing it changes nothing stored', () => {
      const state = ledger.createLedger()
      const definition = { v: 1 }
      const history = { scope: 'user:a', action: 'create' as const, at: T0, old: null, new: definition, reason: null }
      const written = ledger.putBudget(state, { scope: 'user:a', definition, history, now: T0 })
      expect(written.ok && Object.keys(written.budget!)).toEqual([
        'scope',
        'definition',
        'revision',
        'createdAt',
        'updatedAt',
      ])
      ;(ledger.getBudget(state, 'user:a') as { revision: number }).revision = 7
      ;(ledger.getHistory(state, 'user:a')[0] as { at: number }).at = 7
      expect(ledger.getBudget(state, 'user:a')!.revision).toBe(1)
      expect(ledger.getHistory(state, 'user:a')[0]!.at).toBe(T0)
    })
  })

  it('remembers a committed call until its exact instant, for instants near and far, fractional and huge, and across weeks', () => {
    const state = ledger.createLedger()
    const entries = [{ key: 'a', amount: 1, expiresAt: null }]
    const commit = (callId: string, now: number, dedupeUntil: number) =>
      ledger.commit(state, { callId, now, entries, dedupeUntil }).duplicate
    const finished = () =>
      new Map(
        ((ledger.snapshotLedger(state) as { finished: [string, number, boolean][] }).finished ?? []).map(
          ([id, until]) => [id, until],
        ),
      )
    const untils = {
      near: T0 + 100,
      fraction: T0 + 100.5,
      // Past the offsets kept small, and past the largest exact integer: kept as they are.
      month: T0 + 31 * 86_400_000,
      huge: 2 ** 60,
    }
    for (const [id, until] of Object.entries(untils)) expect(commit(id, T0, until)).toBe(false)
    for (const id of Object.keys(untils)) expect(commit(id, T0 + 50, T0 + 60)).toBe(true)
    expect(Object.fromEntries(finished())).toEqual(untils)
    const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(ledger.snapshotLedger(state))))
    expect(ledger.snapshotLedger(restored)).toStrictEqual(ledger.snapshotLedger(state))
    // Each is forgotten exactly at its instant, not before.
    expect(commit('near', T0 + 99, T0 + 99)).toBe(true)
    expect(commit('near', T0 + 100, T0 + 100)).toBe(false)
    expect(commit('fraction', T0 + 100, T0 + 100)).toBe(true)
    expect(commit('fraction', T0 + 100.5, T0 + 100.5)).toBe(false)
    // Weeks later (the sweep moves the instant the offsets are kept from): the remembered instants are unchanged.
    const later = T0 + 20 * 86_400_000
    expect(commit('weeks', later, later + 1_000)).toBe(false)
    expect(commit('month', later, later)).toBe(true)
    expect(commit('huge', later, later)).toBe(true)
    expect(finished().get('month')).toBe(untils.month)
    expect(finished().get('huge')).toBe(untils.huge)
    expect(finished().get('weeks')).toBe(later + 1_000)
    expect(commit('weeks', later + 999, later + 999)).toBe(true)
    expect(commit('weeks', later + 1_000, later + 1_000)).toBe(false)
    expect(commit('month', untils.month, untils.month)).toBe(false)
    expect(ledger.balances(state, { keys: ['a'], now: untils.month })).toEqual([{ spent: 9, reserved: 0 }])
    // Instants far before the first one, fractional, and negative.
    for (const [id, until] of [
      ['early', 0.75],
      ['negative', -2.5],
    ] as const) {
      expect(commit(id, until - 0.5, until)).toBe(false)
      expect(commit(id, until - 0.25, until)).toBe(true)
      expect(finished().get(id)).toBe(until)
    }
  })

  it('remembers each call id as held, released or committed, and forgets it when due', () => {
    const state = ledger.createLedger()
    const entries = [{ key: 'a', amount: 5, limit: 100, expiresAt: null }]
    const reserve = (callId: string, now: number) =>
      ledger.reserve(state, { callId, now, holdExpiresAt: now + 1_000, entries })
    const commit = (callId: string, now: number, amount = 3) =>
      ledger.commit(state, { callId, now, entries: [{ key: 'a', amount, expiresAt: null }], dedupeUntil: now + 100 })
    expect(reserve('x', T0)).toMatchObject({ ok: true, duplicate: false })
    expect(reserve('x', T0)).toMatchObject({ ok: true, duplicate: true })
    expect(ledger.release(state, { callId: 'x', now: T0 })).toEqual({ released: true })
    expect(ledger.release(state, { callId: 'x', now: T0 })).toEqual({ released: false })
    // Released and remembered until its hold would have expired: a reserve is a duplicate, a commit still counts.
    expect(reserve('x', T0 + 500)).toMatchObject({ duplicate: true })
    expect(commit('x', T0 + 500).duplicate).toBe(false)
    expect(commit('x', T0 + 550).duplicate).toBe(true)
    expect(ledger.balances(state, { keys: ['a'], now: T0 + 550 })).toEqual([{ spent: 3, reserved: 0 }])
    // A commit is remembered until its own dedupe instant (the release's later expiry, T0 + 1000, does not extend it).
    expect(commit('x', T0 + 600).duplicate).toBe(false)
    expect(commit('x', T0 + 650).duplicate).toBe(true)
    expect(commit('x', T0 + 1_000).duplicate).toBe(false)
    expect(commit('x', T0 + 1_050).duplicate).toBe(true)
    expect(commit('x', T0 + 5_000).duplicate).toBe(false)
    expect(ledger.balances(state, { keys: ['a'], now: T0 + 5_000 })).toEqual([{ spent: 12, reserved: 0 }])
    // A hold that expires is forgotten with its call: the id can be reserved again.
    expect(reserve('y', T0 + 6_000)).toMatchObject({ duplicate: false })
    expect(reserve('y', T0 + 7_000)).toMatchObject({ duplicate: false })
    expect(ledger.balances(state, { keys: ['a'], now: T0 + 7_000 })).toEqual([{ spent: 12, reserved: 5 }])
  })
})

describe('ledger at the largest exact amount', () => {
  it('a budget at the 2^53 cap refuses a reservation that would pass it (issue 11, finding 11)', () => {
    const state = ledger.createLedger()
    const cap = Number.MAX_SAFE_INTEGER
    ledger.commit(state, {
      callId: 'fill',
      now: T0,
      entries: [{ key: 'k', amount: cap - 5, expiresAt: null }],
      dedupeUntil: T0,
    })
    const refused = ledger.reserve(state, {
      callId: 'over',
      now: T0,
      holdExpiresAt: T0 + 1000,
      entries: [{ key: 'k', amount: 10, limit: cap, expiresAt: null }],
    })
    expect(refused).toEqual({ ok: false, refusedIndex: 0, balances: [{ spent: cap - 5, reserved: 0 }] })
    const admitted = ledger.reserve(state, {
      callId: 'fits',
      now: T0,
      holdExpiresAt: T0 + 1000,
      entries: [{ key: 'k', amount: 5, limit: cap, expiresAt: null }],
    })
    expect(admitted.ok).toBe(true)
    // without a limit nothing can refuse it: the amount cannot be counted exactly, which is an input error
    expect(() =>
      ledger.reserve(state, {
        callId: 'unlimited',
        now: T0,
        holdExpiresAt: T0 + 1000,
        entries: [{ key: 'k', amount: 10, limit: null, expiresAt: null }],
      }),
    ).toThrow(/largest exact amount/)
  })
})

describe('ledger record trims', () => {
  it('a trim after a restore counts the restored records: each call-id namespace keeps its share', () => {
    const commit = (state: ledger.LedgerState, callId: string, at: number) =>
      ledger.commit(state, {
        callId,
        now: at,
        entries: [],
        dedupeUntil: at,
        record: { callId, startedAt: at, endedAt: at },
      })
    const state = ledger.createLedger({ maxRecords: 8 })
    for (let i = 0; i < 8; i++) commit(state, `a/${i}`, T0 + i)
    const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(ledger.snapshotLedger(state))), { maxRecords: 8 })
    // Plain ids after the restore: the trims must see the restored `a/` records, not only the ones appended since.
    for (let i = 0; i < 8; i++) commit(restored, `p${i}`, T0 + 8 + i)
    const kept = ledger.queryRecords(restored, { from: T0, to: T0 + 100 }).map((r) => r.callId)
    expect(kept).toEqual(['a/4', 'a/5', 'a/6', 'a/7', 'p4', 'p5', 'p6', 'p7'])
  })
})
