// Call ids of a manager's form (`<16 base-36>-<counter>`) are kept without a map entry each
// (`stores/ledger/manager-calls.ts`): the ledger must answer exactly as it does for any other id. Random sequences of
// reserve, commit, release and clock moves (forward and back) run twice, once with ids of that form and once with
// plain ids, and every answer, balance (read and peeked ahead) and remembered id must agree; snapshots round-trip.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as ledger from '../../src/stores/ledger/ledger.js'

const KEYS = ['a', 'b']
const T0 = 1_800_000_000_000
const STEM = '0a1b2c3d4e5f6g7h'

const managerId = (n: number): string => `${STEM}-${(n + 1).toString(36)}`
const plainId = (n: number): string => `c${n}`

const operation = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    call: fc.integer({ min: 0, max: 80 }),
    amount: fc.integer({ min: 0, max: 50 }),
    limit: fc.option(fc.integer({ min: 0, max: 200 }), { nil: null }),
    ttl: fc.integer({ min: 0, max: 5_000 }),
  }),
  fc.record({
    kind: fc.constant('commit' as const),
    call: fc.integer({ min: 0, max: 80 }),
    amount: fc.integer({ min: 0, max: 80 }),
    dedupe: fc.integer({ min: 0, max: 4_000 }),
  }),
  fc.record({ kind: fc.constant('release' as const), call: fc.integer({ min: 0, max: 80 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: -3_000, max: 70_000 }) }),
)

type Operation = typeof operation extends fc.Arbitrary<infer O> ? O : never

/** Runs the operations with ids named by `id`; every answer, and the remembered ids (by call number) at the end. */
function run(operations: Operation[], id: (n: number) => string, from: (callId: string) => number) {
  const state = ledger.createLedger()
  let now = T0
  const answers: unknown[] = []
  for (const op of operations) {
    if (op.kind === 'advance') now += op.ms
    else if (op.kind === 'reserve')
      answers.push(
        ledger.reserve(state, {
          callId: id(op.call),
          now,
          holdExpiresAt: now + op.ttl,
          entries: KEYS.map((key) => ({ key, amount: op.amount, limit: op.limit, expiresAt: null })),
        }),
      )
    else if (op.kind === 'commit')
      answers.push(
        ledger.commit(state, {
          callId: id(op.call),
          now,
          entries: KEYS.map((key) => ({ key, amount: op.amount, expiresAt: null })),
          dedupeUntil: now + op.dedupe,
        }),
      )
    else answers.push(ledger.release(state, { callId: id(op.call), now }))
    answers.push(ledger.peekBalances(state, { keys: KEYS, now: now + 2_500 }))
    answers.push(ledger.balances(state, { keys: KEYS, now }))
  }
  const snapshot = ledger.snapshotLedger(state) as { finished: [string, number, boolean][] }
  const finished = snapshot.finished.map(([callId, until, committed]) => [from(callId), until, committed])
  finished.sort((x, y) => String(x).localeCompare(String(y)))
  return { state, now, answers, finished, snapshot }
}

describe('committed call ids of a manager', () => {
  it('are answered exactly as any other id, across clock moves, releases and snapshots', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 80 }), (operations) => {
        const compact = run(operations, managerId, (callId) => Number.parseInt(callId.slice(17), 36) - 1)
        const plain = run(operations, plainId, (callId) => Number(callId.slice(1)))
        expect(compact.answers).toEqual(plain.answers)
        expect(compact.finished).toEqual(plain.finished)
        // A restored snapshot remembers the same ids (a restored id of a manager is kept without a map entry even
        // when the original kept it in the map after a clock move, so only the order may differ).
        const restored = ledger.restoreLedger(JSON.parse(JSON.stringify(compact.snapshot)))
        const again = ledger.snapshotLedger(restored) as typeof compact.snapshot
        expect({ ...again, finished: [...again.finished].sort() }).toStrictEqual({
          ...compact.snapshot,
          finished: [...compact.snapshot.finished].sort(),
        })
        for (let n = 0; n <= 80; n++) {
          const request = { callId: managerId(n), now: compact.now, entries: [], dedupeUntil: compact.now }
          expect(ledger.commit(restored, request).duplicate).toBe(ledger.commit(compact.state, request).duplicate)
        }
      }),
      { numRuns: 400 },
    )
  })

  it('are forgotten at their exact instant, as in the call map, and their chunks are dropped by the sweep', () => {
    const sequence = (id: (n: number) => string) => {
      const state = ledger.createLedger()
      const seen: unknown[] = []
      const commit = (callId: string, now: number, dedupeUntil: number) =>
        seen.push(ledger.commit(state, { callId, now, entries: [], dedupeUntil }).duplicate)
      const finished = () => seen.push((ledger.snapshotLedger(state) as { finished: unknown[] }).finished.length)
      for (let n = 0; n < 200; n++) commit(id(n), T0, T0 + 1_000 + n)
      // Not a manager's form (leading zero, too long, bad character): kept in the call map.
      for (const odd of [`${STEM}-0`, `${STEM}-01`, `${STEM}-1234567`, `${STEM.toUpperCase()}-1`, `${STEM}x1`])
        commit(odd, T0, T0 + 1_000)
      commit(`${STEM}-01`, T0 + 999, T0 + 999)
      finished()
      commit(id(10), T0 + 1_009, T0 + 1_009)
      commit(id(10), T0 + 1_010, T0 + 1_010)
      finished()
      // The clock moves back: what was forgotten stays forgotten.
      commit(`${STEM}-01`, T0 + 999, T0 + 999)
      commit(id(9), T0 + 999, T0 + 999)
      commit(id(11), T0 + 999, T0 + 999)
      finished()
      // Two minutes later every id is forgotten, and the sweep drops what kept them.
      const later = T0 + 120_000
      seen.push(ledger.balances(state, { keys: ['a'], now: later }))
      finished()
      commit(id(3), later, later + 5)
      commit(id(3), later + 1, later + 1)
      return { state, seen }
    }
    const compact = sequence(managerId)
    expect(compact.seen).toEqual(sequence((n) => `${STEM}_${n}`).seen)
    expect(compact.seen.slice(0, 206).every((duplicate, i) => duplicate === (i === 205))).toBe(true)
    expect([...compact.state.managerCalls.entries()].map(([callId]) => callId)).toEqual([managerId(3)])
  })

  it('a prefix vouched for by the caller finds the same calls as reading the id, across stems and unvouched ids', () => {
    const stems = ['0a1b2c3d4e5f6g7h', 'zzzzyyyyxxxxwwww']
    // New string objects, as each manager keeps its own prefix; `vouched` says which prefix goes with each stem.
    const prefixes = stems.map((stem) => [...`${stem}-`].join(''))
    const step = fc.record({
      stem: fc.integer({ min: 0, max: 1 }),
      call: fc.integer({ min: 0, max: 150 }),
      vouched: fc.boolean(),
      end: fc.constantFrom('commit', 'release', 'none'),
    })
    const run = (steps: { stem: number; call: number; vouched: boolean; end: string }[], vouch: boolean) => {
      const state = ledger.createLedger()
      const out = new Float64Array(2)
      const answers: unknown[] = []
      steps.forEach(({ stem, call, vouched, end }, i) => {
        const callId = `${stems[stem]}-${(call + 1).toString(36)}`
        const now = T0 + i
        const entries = [{ key: 'a', amount: 1, limit: null, expiresAt: null }]
        const prefix = vouch && vouched ? prefixes[stem] : undefined
        answers.push(ledger.reserveInto(state, { callId, now, holdExpiresAt: now + 60_000, entries }, out, prefix))
        if (end === 'commit')
          answers.push(ledger.commit(state, { callId, now, entries: [], dedupeUntil: now + 60_000 }).duplicate)
        else if (end === 'release') answers.push(ledger.release(state, { callId, now }).released)
      })
      answers.push(ledger.balances(state, { keys: ['a'], now: T0 + steps.length }))
      return answers
    }
    fc.assert(
      fc.property(fc.array(step, { maxLength: 80 }), (steps) => {
        expect(run(steps, true)).toEqual(run(steps, false))
      }),
      { numRuns: 300 },
    )
  })
})
