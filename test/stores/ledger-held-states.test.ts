// The key states of the last hold made travel with it (`heldStates` in ledger.ts): ending that hold (commit, release,
// expiry) reads them instead of looking its keys up. Random sequences run on two ledgers: on one, every operation is
// preceded by a reservation on a third ledger, so that it never finds its hold as the last one made and looks every
// key up as before. Every answer and every key state (spent, reserved, hold count, expiry) must agree, with keys that
// expire while held, commits naming other keys or the held keys in another order, and holds that expire.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import * as ledger from '../../src/stores/ledger/ledger.js'
import type { CommitEntry, ReserveEntry } from '../../src/stores/types.js'

const KEYS = ['a', 'b', 'c', 'd']
const T0 = 1_800_000_000_000

const keysArb = fc.subarray(KEYS, { minLength: 1 }).chain((keys) => fc.shuffledSubarray(keys, { minLength: 1 }))

const operation = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    call: fc.integer({ min: 0, max: 12 }),
    keys: keysArb,
    amount: fc.integer({ min: 0, max: 50 }),
    limit: fc.option(fc.integer({ min: 0, max: 300 }), { nil: null }),
    ttl: fc.integer({ min: 0, max: 3_000 }),
    expiresIn: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: null }),
  }),
  fc.record({
    kind: fc.constant('commit' as const),
    call: fc.integer({ min: 0, max: 12 }),
    keys: fc.shuffledSubarray(KEYS),
    amount: fc.integer({ min: 0, max: 80 }),
    expiresIn: fc.option(fc.integer({ min: 0, max: 3_000 }), { nil: null }),
  }),
  fc.record({ kind: fc.constant('release' as const), call: fc.integer({ min: 0, max: 12 }) }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 0, max: 2_000 }) }),
)

type Operation = typeof operation extends fc.Arbitrary<infer O> ? O : never

const id = (n: number): string => `0a1b2c3d4e5f6g7h-${(n + 1).toString(36)}`

/** Runs the operations; with `interleave`, a reservation on another ledger comes before each of them. */
function run(operations: Operation[], interleave: boolean) {
  const state = ledger.createLedger()
  const other = ledger.createLedger()
  let otherCalls = 0
  let now = T0
  const answers: unknown[] = []
  const step = <T>(operation: () => T): T | string => {
    if (interleave) {
      const entries: ReserveEntry[] = [{ key: 'x', amount: 1, limit: null, expiresAt: null }]
      ledger.reserve(other, { callId: `o${otherCalls++}`, now, holdExpiresAt: now + 10, entries })
    }
    try {
      return operation()
    } catch (error) {
      return String(error)
    }
  }
  for (const op of operations) {
    if (op.kind === 'advance') now += op.ms
    else if (op.kind === 'reserve') {
      const entries: ReserveEntry[] = op.keys.map((key) => ({
        key,
        amount: op.amount,
        limit: op.limit,
        expiresAt: op.expiresIn === null ? null : now + op.expiresIn,
      }))
      answers.push(
        step(() => ledger.reserve(state, { callId: id(op.call), now, holdExpiresAt: now + op.ttl, entries })),
      )
    } else if (op.kind === 'commit') {
      const entries: CommitEntry[] = op.keys.map((key) => ({
        key,
        amount: op.amount,
        expiresAt: op.expiresIn === null ? null : now + op.expiresIn,
      }))
      answers.push(step(() => ledger.commit(state, { callId: id(op.call), now, entries, dedupeUntil: now + 500 })))
    } else answers.push(step(() => ledger.release(state, { callId: id(op.call), now })))
    answers.push(
      [...state.keys].map(([key, ks]) => [key, { ...ks }]),
      state.heldCount,
    )
  }
  return answers
}

describe('the key states of the last hold', () => {
  it('give the same answers and key states as looking each key up', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        expect(run(operations, false)).toEqual(run(operations, true))
      }),
      { numRuns: 400 },
    )
  })
})
