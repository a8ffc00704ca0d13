/**
 * Store contract cases: holds and expiry, and idempotency by call id.
 *
 * @packageDocumentation
 */
import { type AddCase, DAY, entry, equal, HOUR, reserveRequest } from './support.js'

export function holdCases(add: AddCase): void {
  // ---------------------------------------------------------------- holds and expiry
  add('holds', 'a hold stops counting at its expiry', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 100, 100)], 1000))
    equal(await store.balances({ keys: [k], now: t0 + 999 }), [{ spent: 0, reserved: 100 }], 'before expiry')
    equal((await store.reserve(reserveRequest(`${p}c2`, t0 + 999, [entry(k, 1, 100)]))).ok, false, 'refused while held')
    equal(await store.balances({ keys: [k], now: t0 + 1000 }), [{ spent: 0, reserved: 0 }], 'at expiry')
    equal(
      (await store.reserve(reserveRequest(`${p}c3`, t0 + 1000, [entry(k, 100, 100)]))).ok,
      true,
      'admitted after expiry',
    )
  })
  add(
    'holds',
    'a commit after the hold expired still counts in the reservation key',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}k`
      await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 100, 100)], 1000))
      await store.commit({
        callId: `${p}c1`,
        now: t0 + 5000,
        entries: [{ key: k, amount: 80, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      equal(await store.balances({ keys: [k], now: t0 + 5000 }), [{ spent: 80, reserved: 0 }], 'late commit')
    },
  )
  add('holds', 'a key is forgotten after its expiry, and starts from zero', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.commit({
      callId: `${p}c1`,
      now: t0,
      entries: [{ key: k, amount: 50, expiresAt: t0 + HOUR }],
      dedupeUntil: t0 + DAY,
    })
    equal(await store.balances({ keys: [k], now: t0 + HOUR - 1 }), [{ spent: 50, reserved: 0 }], 'before key expiry')
    equal(await store.balances({ keys: [k], now: t0 + HOUR }), [{ spent: 0, reserved: 0 }], 'after key expiry')
    equal(
      (await store.reserve(reserveRequest(`${p}c2`, t0 + HOUR, [entry(k, 100, 100, t0 + 2 * HOUR)]))).ok,
      true,
      'fresh window admits',
    )
  })
  add('holds', 'a later expiry extends a key; null keeps it', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.commit({
      callId: `${p}c1`,
      now: t0,
      entries: [{ key: k, amount: 5, expiresAt: t0 + HOUR }],
      dedupeUntil: t0 + DAY,
    })
    await store.commit({
      callId: `${p}c2`,
      now: t0,
      entries: [{ key: k, amount: 5, expiresAt: t0 + 2 * HOUR }],
      dedupeUntil: t0 + DAY,
    })
    equal(await store.balances({ keys: [k], now: t0 + HOUR + 1 }), [{ spent: 10, reserved: 0 }], 'extended')
  })

  // ---------------------------------------------------------------- idempotency
  add('idempotency', 'a repeated reservation with the same call id holds once', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 60, 100)]))
    const again = await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 60, 100)]))
    equal(again, { ok: true, duplicate: true, balances: [{ spent: 0, reserved: 60 }] }, 'duplicate reserve')
  })
  add('idempotency', 'a repeated commit with the same call id counts once', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    const req = { callId: `${p}c1`, now: t0, entries: [{ key: k, amount: 25, expiresAt: null }], dedupeUntil: t0 + DAY }
    await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 30, 100)]))
    await store.commit(req)
    const again = await store.commit(req)
    equal(again, { duplicate: true, balances: [{ before: 25, after: 25, reserved: 0 }] }, 'duplicate commit')
    equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 25, reserved: 0 }], 'counted once')
  })
  add(
    'idempotency',
    'a release of an unknown call id leaves a tombstone: the late reservation changes nothing',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}k`
      equal(
        await store.release({ callId: `${p}late`, now: t0, holdExpiresAt: t0 + 60_000 }),
        { released: false },
        'release first',
      )
      const late = await store.reserve(reserveRequest(`${p}late`, t0 + 1_000, [entry(k, 40, 100)]))
      equal(late.ok && late.duplicate, true, 'late reservation is a duplicate')
      equal(await store.balances({ keys: [k], now: t0 + 1_000 }), [{ spent: 0, reserved: 0 }], 'no hold added')
      // Without holdExpiresAt the tombstone still outlives a default hold.
      equal(await store.release({ callId: `${p}late2`, now: t0 }), { released: false }, 'release without expiry')
      const late2 = await store.reserve(reserveRequest(`${p}late2`, t0 + 60_000, [entry(k, 40, 100)]))
      equal(late2.ok && late2.duplicate, true, 'late reservation after a release without expiry is a duplicate')
      equal(await store.balances({ keys: [k], now: t0 + 60_000 }), [{ spent: 0, reserved: 0 }], 'still no hold')
    },
  )
  add(
    'idempotency',
    'a reservation with the id of a finished call changes nothing',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}k`
      await store.commit({
        callId: `${p}c1`,
        now: t0,
        entries: [{ key: k, amount: 10, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      const r = await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 10, 100)]))
      equal(r.ok && r.duplicate, true, 'duplicate')
      equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 10, reserved: 0 }], 'no hold added')
    },
  )
}
