/**
 * Store contract cases: the ledger (reserve, commit, release, reset, balances).
 *
 * @packageDocumentation
 */
import { type AddCase, DAY, entry, equal, fail, rejects, reserveRequest } from './support.js'

export function ledgerCases(add: AddCase): void {
  // ---------------------------------------------------------------- ledger
  add(
    'ledger',
    'reserve within the limit holds the amount; commit turns it into spend',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}usd`
      const r = await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 300, 1000)]))
      equal(r, { ok: true, duplicate: false, balances: [{ spent: 0, reserved: 300 }] }, 'reserve result')
      const c = await store.commit({
        callId: `${p}c1`,
        now: t0 + 1,
        entries: [{ key: k, amount: 250, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      equal(c, { duplicate: false, balances: [{ before: 0, after: 250, reserved: 0 }] }, 'commit result')
      equal(await store.balances({ keys: [k], now: t0 + 2 }), [{ spent: 250, reserved: 0 }], 'balances after commit')
    },
  )
  add('ledger', 'a reservation above the limit is refused and changes nothing', async (store, { prefix: p, t0 }) => {
    const k = `${p}usd`
    await store.commit({
      callId: `${p}c0`,
      now: t0,
      entries: [{ key: k, amount: 900, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    })
    const r = await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 101, 1000)]))
    equal(r, { ok: false, refusedIndex: 0, balances: [{ spent: 900, reserved: 0 }] }, 'refused reserve')
    const exact = await store.reserve(reserveRequest(`${p}c2`, t0, [entry(k, 100, 1000)]))
    equal(exact.ok, true, 'a reservation that reaches the limit exactly is admitted')
    equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 900, reserved: 100 }], 'balances')
  })
  add('ledger', 'reservation is all or nothing across keys', async (store, { prefix: p, t0 }) => {
    const [a, b, c] = [`${p}a`, `${p}b`, `${p}c`]
    await store.commit({
      callId: `${p}x`,
      now: t0,
      entries: [{ key: b, amount: 50, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    })
    const r = await store.reserve(
      reserveRequest(`${p}c1`, t0, [entry(a, 10, 100), entry(b, 60, 100), entry(c, 10, null)]),
    )
    if (r.ok) fail('reserve should have been refused by the second key')
    equal(r.refusedIndex, 1, 'refusedIndex')
    equal(
      r.balances,
      [
        { spent: 0, reserved: 0 },
        { spent: 50, reserved: 0 },
        { spent: 0, reserved: 0 },
      ],
      'balances of every entry, before the request',
    )
    equal(
      await store.balances({ keys: [a, b, c], now: t0 }),
      [
        { spent: 0, reserved: 0 },
        { spent: 50, reserved: 0 },
        { spent: 0, reserved: 0 },
      ],
      'no key changed',
    )
  })
  add('ledger', 'a key without a limit is tracked, never refused', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    const r = await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 5_000_000_000_000, null)]))
    equal(r.ok, true, 'unlimited reserve')
    equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 0, reserved: 5_000_000_000_000 }], 'balance')
  })
  add('ledger', 'a commit above the hold is recorded in full (overshoot)', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 100, 1000)]))
    const c = await store.commit({
      callId: `${p}c1`,
      now: t0,
      entries: [{ key: k, amount: 1500, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    })
    equal(c.balances, [{ before: 0, after: 1500, reserved: 0 }], 'overshoot commit')
    const r = await store.reserve(reserveRequest(`${p}c2`, t0, [entry(k, 0, 1000)]))
    equal(r.ok, false, 'a key over its limit admits nothing, not even 0')
  })
  add('ledger', 'a commit without a reservation is recorded', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.commit({
      callId: `${p}c1`,
      now: t0,
      entries: [{ key: k, amount: 7, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    })
    equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 7, reserved: 0 }], 'balance')
  })
  add(
    'ledger',
    'release drops the holds; releasing twice or after commit changes nothing',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}k`
      await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 40, 100)]))
      equal(await store.release({ callId: `${p}c1`, now: t0 }), { released: true }, 'first release')
      equal(await store.release({ callId: `${p}c1`, now: t0 }), { released: false }, 'second release')
      await store.reserve(reserveRequest(`${p}c2`, t0, [entry(k, 40, 100)]))
      await store.commit({
        callId: `${p}c2`,
        now: t0,
        entries: [{ key: k, amount: 30, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      equal(await store.release({ callId: `${p}c2`, now: t0 }), { released: false }, 'release after commit')
      equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 30, reserved: 0 }], 'balance')
    },
  )
  add('ledger', 'reset sets spend to zero and keeps holds', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.commit({
      callId: `${p}c1`,
      now: t0,
      entries: [{ key: k, amount: 70, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    })
    await store.reserve(reserveRequest(`${p}c2`, t0, [entry(k, 20, 100)]))
    await store.reset({ keys: [k], now: t0 })
    equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 0, reserved: 20 }], 'balance after reset')
  })
  add('ledger', 'unknown keys read as zero', async (store, { prefix: p, t0 }) => {
    equal(await store.balances({ keys: [`${p}none`], now: t0 }), [{ spent: 0, reserved: 0 }], 'balance')
  })
  add(
    'ledger',
    'amounts up to 2^53 - 1 stay exact; beyond is refused with a typed error',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}big`
      const max = Number.MAX_SAFE_INTEGER
      await store.commit({
        callId: `${p}c1`,
        now: t0,
        entries: [{ key: k, amount: max - 1, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      await store.commit({
        callId: `${p}c2`,
        now: t0,
        entries: [{ key: k, amount: 1, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      equal(await store.balances({ keys: [k], now: t0 }), [{ spent: max, reserved: 0 }], 'exact at 2^53 - 1')
      await rejects(
        () =>
          store.commit({
            callId: `${p}c3`,
            now: t0,
            entries: [{ key: k, amount: 1, expiresAt: null }],
            dedupeUntil: t0 + DAY,
          }),
        'INVALID_INPUT',
        'overflowing commit',
      )
      equal(await store.balances({ keys: [k], now: t0 }), [{ spent: max, reserved: 0 }], 'unchanged after overflow')
    },
  )
}
