/**
 * Store contract cases: validation of requests, and budgets (compare-and-set, history).
 *
 * @packageDocumentation
 */
import type { ReserveRequest, StoredBudget } from '../../stores/types.js'
import { type AddCase, DAY, entry, equal, rejects, reserveRequest } from './support.js'

export function validationCases(add: AddCase): void {
  // ---------------------------------------------------------------- validation
  add('validation', 'invalid requests are typed errors and change nothing', async (store, { prefix: p, t0 }) => {
    const k = `${p}k`
    await store.commit({
      callId: `${p}seed`,
      now: t0,
      entries: [{ key: k, amount: 10, expiresAt: null }],
      dedupeUntil: t0 + DAY,
    })
    const bad: [string, unknown][] = [
      ['negative amount', reserveRequest(`${p}b1`, t0, [entry(k, -1, 100)])],
      ['NaN amount', reserveRequest(`${p}b2`, t0, [entry(k, Number.NaN, 100)])],
      ['Infinity amount', reserveRequest(`${p}b3`, t0, [entry(k, Number.POSITIVE_INFINITY, 100)])],
      ['fractional amount', reserveRequest(`${p}b4`, t0, [entry(k, 1.5, 100)])],
      ['negative limit', reserveRequest(`${p}b5`, t0, [entry(k, 1, -5)])],
      ['empty key', reserveRequest(`${p}b6`, t0, [entry('', 1, 100)])],
      ['10,000-character key', reserveRequest(`${p}b7`, t0, [entry('k'.repeat(10_000), 1, 100)])],
      ['no entries', reserveRequest(`${p}b8`, t0, [])],
      ['the same key twice', reserveRequest(`${p}b9`, t0, [entry(k, 1, 100), entry(k, 1, 100)])],
      ['empty call id', reserveRequest('', t0, [entry(k, 1, 100)])],
      ['10,000-character call id', reserveRequest('c'.repeat(10_000), t0, [entry(k, 1, 100)])],
      ['NaN now', reserveRequest(`${p}b10`, Number.NaN, [entry(k, 1, 100)])],
      ['amount as a string', reserveRequest(`${p}b11`, t0, [entry(k, '5' as unknown as number, 100)])],
    ]
    for (const [what, request] of bad) {
      await rejects(() => store.reserve(request as ReserveRequest), 'INVALID_INPUT', `reserve with ${what}`)
    }
    await rejects(
      () =>
        store.commit({
          callId: `${p}b12`,
          now: t0,
          entries: [{ key: k, amount: -3, expiresAt: null }],
          dedupeUntil: t0 + DAY,
        }),
      'INVALID_INPUT',
      'commit with a negative amount',
    )
    await rejects(
      () =>
        store.commit({
          callId: `${p}b13`,
          now: t0,
          entries: [
            { key: k, amount: 3, expiresAt: null },
            { key: `${p}k2`, amount: Number.NaN, expiresAt: null },
          ],
          dedupeUntil: t0 + DAY,
        }),
      'INVALID_INPUT',
      'commit with one bad entry among good ones',
    )
    equal(
      await store.balances({ keys: [k, `${p}k2`], now: t0 }),
      [
        { spent: 10, reserved: 0 },
        { spent: 0, reserved: 0 },
      ],
      'nothing changed',
    )
  })
  add('validation', 'keys and ids such as __proto__ are plain data', async (store, { prefix: p, t0 }) => {
    for (const key of ['__proto__', 'constructor', `${p}__proto__`, 'toString']) {
      const scoped = key.startsWith(p) ? key : `${p}${key}|raw`
      await store.commit({
        callId: `${p}${key}`,
        now: t0,
        entries: [{ key: scoped, amount: 3, expiresAt: null }],
        dedupeUntil: t0 + DAY,
      })
      equal(await store.balances({ keys: [scoped], now: t0 }), [{ spent: 3, reserved: 0 }], `balance of ${key}`)
    }
    equal(({} as Record<string, unknown>).spent, undefined, 'Object.prototype untouched')
  })

  // ---------------------------------------------------------------- budgets
  add(
    'budgets',
    'budget definitions are created, updated, read, listed and deleted with history',
    async (store, { prefix: p, t0 }) => {
      const scope = `user:${p}alice`
      const created = await store.putBudget({
        scope,
        definition: { maxBudget: 5 },
        now: t0,
        ifRevision: 0,
        history: { scope, action: 'create', at: t0, old: null, new: { maxBudget: 5 }, reason: 'start' },
      })
      equal(
        created.ok && created.budget,
        { scope, definition: { maxBudget: 5 }, revision: 1, createdAt: t0, updatedAt: t0 },
        'created',
      )
      const conflict = await store.putBudget({
        scope,
        definition: { maxBudget: 6 },
        now: t0 + 1,
        ifRevision: 0,
        history: { scope, action: 'create', at: t0 + 1, old: null, new: { maxBudget: 6 }, reason: null },
      })
      equal(conflict.ok, false, 'create over an existing budget with ifRevision 0 conflicts')
      await store.putBudget({
        scope,
        definition: { maxBudget: 8 },
        now: t0 + 2,
        ifRevision: 1,
        history: { scope, action: 'update', at: t0 + 2, old: { maxBudget: 5 }, new: { maxBudget: 8 }, reason: 'more' },
      })
      const read = (await store.getBudget(scope)) as StoredBudget
      equal(
        [read.definition, read.revision, read.createdAt, read.updatedAt],
        [{ maxBudget: 8 }, 2, t0, t0 + 2],
        'read back',
      )
      const listed = (await store.listBudgets()).filter((b) => b.scope === scope)
      equal(listed.length, 1, 'listed once')
      await store.putBudget({
        scope,
        definition: null,
        now: t0 + 3,
        history: { scope, action: 'delete', at: t0 + 3, old: { maxBudget: 8 }, new: null, reason: null },
      })
      equal(await store.getBudget(scope), null, 'deleted')
      const history = await store.getHistory(scope)
      equal(
        history.map((h) => [h.action, h.at, h.reason]),
        [
          ['create', t0, 'start'],
          ['update', t0 + 2, 'more'],
          ['delete', t0 + 3, null],
        ],
        'history',
      )
    },
  )
  add('budgets', 'a returned definition is a copy', async (store, { prefix: p, t0 }) => {
    const scope = `team:${p}t`
    await store.putBudget({
      scope,
      definition: { maxBudget: 1 },
      now: t0,
      history: { scope, action: 'create', at: t0, old: null, new: { maxBudget: 1 }, reason: null },
    })
    const read = (await store.getBudget(scope)) as StoredBudget
    ;(read.definition as Record<string, unknown>).maxBudget = 99
    equal(((await store.getBudget(scope)) as StoredBudget).definition, { maxBudget: 1 }, 'stored definition unchanged')
  })
}
