/**
 * Store contract cases: concurrency (no lost or doubled update under parallel operations).
 *
 * @packageDocumentation
 */
import { type AddCase, DAY, entry, equal, reserveRequest } from './support.js'

export function concurrencyCases(add: AddCase): void {
  // ---------------------------------------------------------------- concurrency
  add(
    'concurrency',
    'concurrent reservations never exceed the limit: exactly limit/amount are admitted',
    async (store, { prefix: p, t0, concurrency }) => {
      const k = `${p}usd`
      const amount = 10_000_000 // $0.01 in nano-USD
      const limit = amount * Math.floor(concurrency / 2)
      const results = await Promise.all(
        Array.from({ length: concurrency }, (_, i) =>
          store.reserve(reserveRequest(`${p}c${i}`, t0, [entry(k, amount, limit)])),
        ),
      )
      const admitted = results.flatMap((r, i) => (r.ok ? [i] : []))
      equal(admitted.length, Math.floor(concurrency / 2), 'admitted reservations')
      await Promise.all(
        admitted.map((i) =>
          store.commit({
            callId: `${p}c${i}`,
            now: t0 + 1,
            entries: [{ key: k, amount, expiresAt: null }],
            dedupeUntil: t0 + DAY,
          }),
        ),
      )
      equal(
        await store.balances({ keys: [k], now: t0 + 2 }),
        [{ spent: limit, reserved: 0 }],
        'spent exactly the limit, no holds left',
      )
    },
  )
  add(
    'concurrency',
    'concurrent reservations on several keys of different limits respect every limit',
    async (store, { prefix: p, t0, concurrency }) => {
      const keys = [`${p}org`, `${p}team`, `${p}user`, `${p}key`]
      const limits = [400, 300, 350, 1000].map((n) => n * Math.ceil(concurrency / 1000))
      const results = await Promise.all(
        Array.from({ length: concurrency }, (_, i) =>
          store.reserve(
            reserveRequest(
              `${p}c${i}`,
              t0,
              keys.map((key, j) => entry(key, 1, limits[j]!)),
            ),
          ),
        ),
      )
      const admitted = results.filter((r) => r.ok).length
      equal(admitted, Math.min(concurrency, ...limits), 'admitted = the tightest limit')
      const balances = await store.balances({ keys, now: t0 })
      equal(
        balances.map((b) => b.reserved),
        keys.map(() => admitted),
        'every key holds the admitted calls',
      )
    },
  )
  add('concurrency', 'concurrent duplicate commits of one call count once', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.reserve(reserveRequest(`${p}c1`, t0, [entry(k, 10, 100)]))
    const request = {
      callId: `${p}c1`,
      now: t0,
      entries: [{ key: k, amount: 9, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    }
    const results = await Promise.all(Array.from({ length: 20 }, () => store.commit(request)))
    equal(results.filter((r) => !r.duplicate).length, 1, 'one commit applied')
    equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 9, reserved: 0 }], 'counted once')
  })
  add(
    'concurrency',
    'concurrent commits and releases leave no hold behind',
    async (store, { prefix: p, t0, concurrency }) => {
      const k = `${p}k`
      const n = Math.min(concurrency, 400)
      await Promise.all(
        Array.from({ length: n }, (_, i) => store.reserve(reserveRequest(`${p}c${i}`, t0, [entry(k, 5, null)]))),
      )
      await Promise.all(
        Array.from({ length: n }, (_, i) =>
          i % 2 === 0
            ? store.commit({
                callId: `${p}c${i}`,
                now: t0,
                entries: [{ key: k, amount: 3, expiresAt: null }],
                dedupeUntil: t0 + DAY,
              })
            : store.release({ callId: `${p}c${i}`, now: t0 }),
        ),
      )
      equal(await store.balances({ keys: [k], now: t0 }), [{ spent: 3 * Math.ceil(n / 2), reserved: 0 }], 'balances')
    },
  )
}
