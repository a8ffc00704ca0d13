// Duplicate keys in a reserve's or a commit's entries are refused whatever was checked before: the validation skips
// its scan while the keys are those of the last request found free of duplicates, index by index (see
// `distinctKeys` in validation.ts), and must scan from the first key that differs.
import { describe, expect, it } from 'vitest'
import { InvalidInputError } from '../../src/errors.js'
import * as ledger from '../../src/stores/ledger/ledger.js'
import type { CommitEntry, ReserveEntry } from '../../src/stores/types.js'

const T0 = 1_800_000_000_000

const reserveOf = (keys: string[], amount = 1): ReserveEntry[] =>
  keys.map((key) => ({ key, amount, limit: null, expiresAt: null }))
const commitOf = (keys: string[], amount = 1): CommitEntry[] => keys.map((key) => ({ key, amount, expiresAt: null }))

/** What `check` throws, or `undefined` when it passes. */
function errorOf(check: () => void): unknown {
  try {
    check()
    return undefined
  } catch (error) {
    return error
  }
}

const reserveError = (entries: ReserveEntry[]): unknown =>
  errorOf(() => ledger.validateReserve({ callId: 'c', now: T0, holdExpiresAt: T0 + 1, entries }))
const commitError = (entries: CommitEntry[]): unknown =>
  errorOf(() => ledger.validateCommit({ callId: 'c', now: T0, dedupeUntil: T0 + 1, entries }))

describe('ledger validation of duplicate keys', () => {
  // After [a, b, c] passed: each of these repeats a key and must be refused, naming the repeated entry.
  const cases: [string[], string][] = [
    [['b', 'b', 'c'], 'entries[1].key'],
    [['a', 'b', 'b'], 'entries[2].key'],
    [['a', 'b', 'c', 'a'], 'entries[3].key'],
    [['c', 'b', 'c'], 'entries[2].key'],
    [['a', 'a'], 'entries[1].key'],
  ]

  it.each(cases)('a reserve of %j after [a, b, c] is refused at %s', (keys, field) => {
    expect(reserveError(reserveOf(['a', 'b', 'c']))).toBeUndefined()
    const error = reserveError(reserveOf(keys))
    expect(error).toBeInstanceOf(InvalidInputError)
    expect((error as InvalidInputError).message).toContain('twice')
    expect((error as InvalidInputError).field).toBe(field)
  })

  it.each(cases)('a commit of %j after [a, b, c] is refused at %s', (keys, field) => {
    expect(commitError(commitOf(['a', 'b', 'c']))).toBeUndefined()
    const error = commitError(commitOf(keys))
    expect(error).toBeInstanceOf(InvalidInputError)
    expect((error as InvalidInputError).field).toBe(field)
  })

  it('keys equal by value (other string objects) are the same keys; a prefix of checked keys passes', () => {
    const keys = ['key-one', 'key-two', 'key-three']
    expect(reserveError(reserveOf(keys))).toBeUndefined()
    const copies = keys.map((key) => [...key].join(''))
    expect(reserveError(reserveOf(copies))).toBeUndefined()
    expect(reserveError(reserveOf(['key-one', 'key-two']))).toBeUndefined()
    const error = reserveError(reserveOf([...copies, [...'key-two'].join('')]))
    expect((error as InvalidInputError).field).toBe('entries[3].key')
  })

  it('the first failing entry is reported, as before: a duplicate before a bad amount', () => {
    expect(reserveError(reserveOf(['a', 'b', 'c']))).toBeUndefined()
    const entries = reserveOf(['a', 'a', 'c'])
    entries[2]!.amount = -1
    expect((reserveError(entries) as InvalidInputError).field).toBe('entries[1].key')
    entries[1]!.key = 'b'
    expect((reserveError(entries) as InvalidInputError).field).toBe('entries[2].amount')
  })

  it('a refused request is not remembered as checked', () => {
    expect(commitError(commitOf(['x', 'x']))).toBeInstanceOf(InvalidInputError)
    expect(commitError(commitOf(['x', 'x']))).toBeInstanceOf(InvalidInputError)
    expect(commitError(commitOf(['x', 'y']))).toBeUndefined()
  })

  it('a ledger refuses a reserve repeating a key after the same keys without it were reserved', () => {
    const state = ledger.createLedger()
    ledger.reserve(state, { callId: 'c1', now: T0, holdExpiresAt: T0 + 1000, entries: reserveOf(['a', 'b']) })
    expect(() =>
      ledger.reserve(state, { callId: 'c2', now: T0, holdExpiresAt: T0 + 1000, entries: reserveOf(['b', 'b']) }),
    ).toThrow(InvalidInputError)
    // Nothing changed: only c1's holds.
    expect(ledger.balances(state, { keys: ['a', 'b'], now: T0 })).toEqual([
      { spent: 0, reserved: 1 },
      { spent: 0, reserved: 1 },
    ])
  })
})
