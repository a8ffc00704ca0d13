// Holds of a caller that reserves the same entries call after call: the hold expiry heap does not grow with
// finished calls, held calls share their (never changed) key and amount arrays, and every balance stays exact.
import { describe, expect, it } from 'vitest'
import * as ledger from '../../src/stores/ledger/ledger.js'
import type { ReserveEntry } from '../../src/stores/types.js'

const T0 = 1_800_000_000_000
const id = (n: number) => `abcdefghijklmnop-${n.toString(36)}`

function entries(amount: number): ReserveEntry[] {
  return [
    { key: 'a', amount, limit: 1_000_000_000, expiresAt: null },
    { key: 'b', amount, limit: null, expiresAt: null },
  ]
}

describe('ledger holds', () => {
  it('a sequential caller leaves no finished call in the hold expiry heap', () => {
    for (const end of ['commit', 'release'] as const) {
      const state = ledger.createLedger()
      for (let n = 1; n <= 1000; n++) {
        const now = T0 + n
        ledger.reserve(state, { callId: id(n), now, holdExpiresAt: now + 60_000, entries: entries(5) })
        if (end === 'commit')
          ledger.commit(state, {
            callId: id(n),
            now,
            entries: [{ key: 'a', amount: 3, expiresAt: null }],
            dedupeUntil: now + 1,
          })
        else ledger.release(state, { callId: id(n), now })
      }
      // Without taking a finished call's entry off, 1000 stale entries (a rebuild only past 1024).
      expect(state.holdExpiries.at.length).toBe(0)
      expect(state.holdExpiries.ids.length).toBe(0)
      const [a, b] = ledger.balances(state, { keys: ['a', 'b'], now: T0 + 2000 })
      expect(a).toEqual({ spent: end === 'commit' ? 3000 : 0, reserved: 0 })
      expect(b).toEqual({ spent: 0, reserved: 0 })
    }
  })

  it('holds overlapping in time still expire, and a hold finished out of order leaves the heap valid', () => {
    const state = ledger.createLedger()
    ledger.reserve(state, { callId: id(1), now: T0, holdExpiresAt: T0 + 100, entries: entries(7) })
    ledger.reserve(state, { callId: id(2), now: T0, holdExpiresAt: T0 + 200, entries: entries(7) })
    ledger.reserve(state, { callId: id(3), now: T0, holdExpiresAt: T0 + 300, entries: entries(7) })
    // The first one ends: not the heap's last entry, so it stays (stale) and the others keep theirs.
    ledger.release(state, { callId: id(1), now: T0 + 1 })
    expect(ledger.balances(state, { keys: ['a'], now: T0 + 1 })[0]).toEqual({ spent: 0, reserved: 14 })
    expect(ledger.balances(state, { keys: ['a'], now: T0 + 200 })[0]).toEqual({ spent: 0, reserved: 7 })
    expect(ledger.balances(state, { keys: ['a'], now: T0 + 300 })[0]).toEqual({ spent: 0, reserved: 0 })
  })

  it('held calls with equal entries share arrays; other amounts and snapshots get their own', () => {
    const state = ledger.createLedger()
    const same = entries(5)
    ledger.reserve(state, { callId: id(1), now: T0, holdExpiresAt: T0 + 1000, entries: same })
    ledger.reserve(state, { callId: id(2), now: T0, holdExpiresAt: T0 + 1000, entries: entries(5) })
    // The caller changes its entries after a reservation: the next one holds what it asks, the first keeps its own.
    same[0]!.amount = 9
    ledger.reserve(state, { callId: id(3), now: T0, holdExpiresAt: T0 + 1000, entries: same })
    const first = ledger.findCall(state, id(1)) as ledger.HeldCall
    const second = ledger.findCall(state, id(2)) as ledger.HeldCall
    const third = ledger.findCall(state, id(3)) as ledger.HeldCall
    expect(second.amounts).toBe(first.amounts)
    expect(first.amounts).toEqual([5, 5])
    expect(third.amounts).toEqual([9, 5])
    expect(ledger.balances(state, { keys: ['a', 'b'], now: T0 })).toEqual([
      { spent: 0, reserved: 19 },
      { spent: 0, reserved: 15 },
    ])
    const snapshot = ledger.snapshotLedger(state) as { held: [string, string[], number[], number][] }
    expect(snapshot.held[0]![2]).not.toBe(first.amounts)
    snapshot.held[0]![2][0] = 1000
    expect(first.amounts).toEqual([5, 5])
    ledger.release(state, { callId: id(1), now: T0 + 1 })
    ledger.release(state, { callId: id(3), now: T0 + 1 })
    expect(ledger.balances(state, { keys: ['a', 'b'], now: T0 + 1 })).toEqual([
      { spent: 0, reserved: 5 },
      { spent: 0, reserved: 5 },
    ])
  })

  it('a commit whose own hold kept an expired key alive adds to a new key once the hold ends', () => {
    const state = ledger.createLedger()
    const w = { key: 'w', expiresAt: T0 + 100 }
    ledger.commit(state, { callId: id(1), now: T0, entries: [{ ...w, amount: 7 }], dedupeUntil: T0 + 1 })
    ledger.reserve(state, {
      callId: id(2),
      now: T0 + 50,
      holdExpiresAt: T0 + 60_000,
      entries: [{ ...w, amount: 5, limit: null }],
    })
    // At T0 + 100 the window key has expired; only the hold keeps it. Ending the hold forgets it: the commit's
    // amount starts a new key (the next window), with the commit's expiry.
    const result = ledger.commit(state, {
      callId: id(2),
      now: T0 + 100,
      entries: [{ key: 'w', amount: 3, expiresAt: T0 + 200 }],
      dedupeUntil: T0 + 101,
    })
    expect(result.balances).toEqual([{ before: 0, after: 3, reserved: 0 }])
    expect(ledger.balances(state, { keys: ['w'], now: T0 + 199 })).toEqual([{ spent: 3, reserved: 0 }])
    expect(ledger.balances(state, { keys: ['w'], now: T0 + 200 })).toEqual([{ spent: 0, reserved: 0 }])
  })
})
