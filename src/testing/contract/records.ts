/**
 * Store contract cases: spend records and daily rollups.
 *
 * @packageDocumentation
 */
import { type AddCase, DAY, equal, HOUR, rejects, rollups, spendCommit } from './support.js'

export function recordCases(add: AddCase): void {
  // ---------------------------------------------------------------- records
  add(
    'records',
    'spend records are stored with their commit, once, and queried by time',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}k`
      for (let i = 0; i < 5; i++) {
        const callId = `${p}r${i}`
        const request = {
          callId,
          now: t0 + i * 1000,
          entries: [{ key: k, amount: 10 + i, expiresAt: null }],
          dedupeUntil: t0 + DAY,
          record: {
            callId,
            startedAt: t0 + i * 1000 - 5,
            endedAt: t0 + i * 1000,
            model: 'gpt-4o',
            costNanoUsd: 10 + i,
          },
        }
        await store.commit(request)
        if (i === 2) await store.commit(request) // duplicate: no second record
      }
      const all = (await store.queryRecords({ from: t0, to: t0 + 10_000 })).filter((r) => r.callId.startsWith(p))
      equal(
        all.map((r) => r.costNanoUsd),
        [10, 11, 12, 13, 14],
        'all records, oldest first, no duplicate',
      )
      const middle = (await store.queryRecords({ from: t0 + 1000, to: t0 + 3000 })).filter((r) =>
        r.callId.startsWith(p),
      )
      equal(
        middle.map((r) => r.callId),
        [`${p}r1`, `${p}r2`],
        'from inclusive, to exclusive',
      )
      const limited = await store.queryRecords({ from: t0, to: t0 + 10_000, limit: 2 })
      equal(limited.length <= 2, true, 'limit')
    },
  )

  // ---------------------------------------------------------------- rollups
  add(
    'rollups',
    'commits with records add to daily rollups per scope and model; a duplicate counts once',
    async (store, { prefix: p, t0 }) => {
      const k = `${p}usd`
      const day0 = Math.floor(t0 / DAY) * DAY
      await store.commit(spendCommit(p, `${p}a`, day0 + HOUR, k, 1_000, { tags: [`${p}batch`, `${p}batch`] }))
      await store.commit(spendCommit(p, `${p}a`, day0 + HOUR, k, 1_000, { tags: [`${p}batch`] }))
      await store.commit(spendCommit(p, `${p}b`, day0 + 2 * HOUR, k, 2_500, { model: 'gpt-4o-mini', estimated: true }))
      await store.commit(spendCommit(p, `${p}c`, day0 + DAY + HOUR, k, 7, { user: `${p}bob` }))
      const scopes = [`user:${p}alice`, `user:${p}bob`, `team:${p}search`, `tag:${p}batch`]
      const result = await rollups(store, { from: day0, to: day0 + 2 * DAY, scopes })
      const rows = result.rows.map((r) => [
        r.day,
        r.scope,
        r.model,
        r.modelServed,
        r.calls,
        r.inputTokens,
        r.outputTokens,
        r.costNanoUsd,
        r.savedNanoUsd,
        r.estimatedCalls,
      ])
      const d0 = new Date(day0).toISOString().slice(0, 10)
      const d1 = new Date(day0 + DAY).toISOString().slice(0, 10)
      equal(
        rows,
        [
          [d0, `tag:${p}batch`, 'gpt-4o', 'gpt-4o', 1, 100, 10, 1_000, 0, 0],
          [d0, `team:${p}search`, 'gpt-4o', 'gpt-4o', 1, 100, 10, 1_000, 0, 0],
          [d0, `team:${p}search`, 'gpt-4o-mini', 'gpt-4o-mini', 1, 100, 10, 2_500, 0, 1],
          [d0, `user:${p}alice`, 'gpt-4o', 'gpt-4o', 1, 100, 10, 1_000, 0, 0],
          [d0, `user:${p}alice`, 'gpt-4o-mini', 'gpt-4o-mini', 1, 100, 10, 2_500, 0, 1],
          [d1, `team:${p}search`, 'gpt-4o', 'gpt-4o', 1, 100, 10, 7, 0, 0],
          [d1, `user:${p}bob`, 'gpt-4o', 'gpt-4o', 1, 100, 10, 7, 0, 0],
        ],
        'rollup rows, sorted by day, scope and model',
      )
      const second = await rollups(store, { from: day0 + 1, to: day0 + 2 * DAY, scopes: [`team:${p}search`] })
      equal(
        second.rows.map((r) => [r.day, r.calls]),
        [[d1, 1]],
        'from selects the days that start at or after it',
      )
      const typed = await rollups(store, { from: day0, to: day0 + DAY, scopes: ['user:*'] })
      equal(
        typed.rows.filter((r) => r.scope.startsWith(`user:${p}`)).map((r) => r.scope),
        [`user:${p}alice`, `user:${p}alice`],
        '`user:*` selects every user',
      )
      const global = (await rollups(store, { from: day0, to: day0 + 2 * DAY, scopes: ['global'] })).rows
      equal(
        global.every((r) => r.scope === 'global'),
        true,
        'global rows',
      )
      equal(global.reduce((n, r) => n + r.calls, 0) >= 3, true, 'global counts every call')
      equal(
        [
          typeof result.recordsFrom === 'number' || result.recordsFrom === null,
          typeof result.rollupsFrom === 'number' || result.rollupsFrom === null,
        ],
        [true, true],
        'coverage',
      )
    },
  )
  add(
    'rollups',
    'a commit without a record adds no rollup; invalid queries are typed errors',
    async (store, { prefix: p, t0 }) => {
      await store.commit({
        callId: `${p}x`,
        now: t0,
        entries: [{ key: `${p}k`, amount: 5, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      equal((await rollups(store, { scopes: [`user:${p}alice`] })).rows, [], 'no rows')
      await rejects(() => rollups(store, { from: Number.NaN }), 'INVALID_INPUT', 'NaN from')
      await rejects(
        () => rollups(store, { scopes: 'user:x' as unknown as string[] }),
        'INVALID_INPUT',
        'scopes as a string',
      )
    },
  )
  add('rollups', 'concurrent commits add to one rollup row exactly', async (store, { prefix: p, t0, concurrency }) => {
    const n = Math.min(concurrency, 200)
    const day0 = Math.floor(t0 / DAY) * DAY
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        store.commit(spendCommit(p, `${p}c${i}`, day0 + HOUR + i, `${p}usd`, 10_000_000 + i)),
      ),
    )
    const rows = (await rollups(store, { from: day0, to: day0 + DAY, scopes: [`user:${p}alice`] })).rows
    equal(
      rows.map((r) => [r.calls, r.costNanoUsd, r.inputTokens]),
      [[n, 10_000_000 * n + (n * (n - 1)) / 2, 100 * n]],
      'one row with every call',
    )
  })
}
