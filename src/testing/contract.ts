/**
 * The store contract suite: one set of behaviours every {@link BudgetStore} must have, runnable with any
 * test runner that has an `it(name, fn)` (vitest, jest, mocha, node:test).
 *
 * ```ts
 * import { it } from 'vitest'
 * import { runStoreContract } from 'llm-budget/testing'
 * runStoreContract(it, () => myStore(), { concurrency: 1000 })
 * ```
 *
 * Each test gets a fresh store from `makeStore` and a random key prefix; time comes from explicit `now`
 * values, never from sleeps.
 *
 * @packageDocumentation
 */
import type {
  BudgetStore,
  CommitRequest,
  ReserveEntry,
  ReserveRequest,
  RollupQuery,
  RollupResult,
  StoredBudget,
} from '../stores/types.js'

/** A test registration function such as vitest's or jest's `it`. */
export type ContractIt = (name: string, fn: () => Promise<void>, timeoutMs?: number) => void

/** Makes a fresh store for one test. */
export type MakeStore = () => BudgetStore | Promise<BudgetStore>

/** Options of {@link runStoreContract}. */
export interface StoreContractOptions {
  /** Concurrent reservations in the concurrency group. Default `1000`. */
  concurrency?: number
  /** Per-test timeout in ms passed to `it`. Default `60_000`. */
  timeoutMs?: number
  /** Only run the groups named here (default: all). */
  groups?: readonly ContractGroup[]
  /** Close the store after each test. Default `true`. */
  closeAfterEach?: boolean
  /** The store's own extra tests, registered after the contract's. */
  additionalTests?: (it: ContractIt, makeStore: MakeStore) => void
}

/** The groups of the contract suite. */
export type ContractGroup =
  'ledger' | 'holds' | 'idempotency' | 'validation' | 'budgets' | 'records' | 'rollups' | 'concurrency'

/** One case of the suite. */
export interface ContractCase {
  group: ContractGroup
  name: string
  run(store: BudgetStore, context: ContractContext): Promise<void>
}

/** What each case receives besides the store. */
export interface ContractContext {
  /** A random prefix for this test's keys, call ids and scopes. */
  prefix: string
  /** A base time (epoch ms) for this test. */
  t0: number
  /** Concurrency of the concurrency group. */
  concurrency: number
}

function fail(message: string): never {
  throw new Error(`store contract: ${message}`)
}

function equal(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual)
  const e = JSON.stringify(expected)
  if (a !== e) fail(`${what}: expected ${e}, got ${a}`)
}

async function rejects(promise: () => Promise<unknown>, code: string, what: string): Promise<void> {
  let thrown: unknown
  try {
    await promise()
  } catch (error) {
    thrown = error
  }
  if (thrown === undefined) fail(`${what}: expected an error with code ${code}, but it succeeded`)
  const actual = (thrown as { code?: unknown }).code
  if (actual !== code) fail(`${what}: expected code ${code}, got ${String(actual)} (${String(thrown)})`)
}

const HOUR = 3_600_000
const DAY = 24 * HOUR

function entry(key: string, amount: number, limit: number | null, expiresAt: number | null = null): ReserveEntry {
  return { key, amount, limit, expiresAt }
}

/** A commit of `nano` on `key` with a spend record that names user, team, tags, model and tokens. */
function spendCommit(
  p: string,
  callId: string,
  now: number,
  key: string,
  nano: number,
  extra: { user?: string; model?: string; tags?: string[]; estimated?: boolean } = {},
): CommitRequest {
  const context: Record<string, string | string[]> = { user: extra.user ?? `${p}alice`, team: `${p}search` }
  if (extra.tags !== undefined) context.tags = extra.tags
  return {
    callId,
    now,
    entries: [{ key, amount: nano, expiresAt: null }],
    dedupeUntil: now + DAY,
    record: {
      callId,
      startedAt: now - 10,
      endedAt: now,
      model: extra.model ?? 'gpt-4o',
      modelServed: extra.model ?? 'gpt-4o',
      provider: 'openai',
      costNanoUsd: nano,
      estimated: extra.estimated ?? false,
      usage: { inputTokens: 100, outputTokens: 10 },
      context,
    },
  }
}

async function rollups(store: BudgetStore, query: RollupQuery): Promise<RollupResult> {
  if (typeof store.queryRollups !== 'function')
    fail('the store has no `queryRollups`: daily rollups are part of the contract')
  return store.queryRollups(query)
}

function reserveRequest(callId: string, now: number, entries: ReserveEntry[], ttl = HOUR): ReserveRequest {
  return { callId, now, holdExpiresAt: now + ttl, entries }
}

/** Every case of the contract suite, for runners that want to pick or wrap them. */
export function storeContractCases(): ContractCase[] {
  const cases: ContractCase[] = []
  const add = (group: ContractGroup, name: string, run: ContractCase['run']): void => {
    cases.push({ group, name, run })
  }

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

  return cases
}

/**
 * Registers the store contract suite with a test runner's `it`. Every store that ships with llm-budget passes
 * it; run it against your own store to check that it keeps the same promises.
 *
 * @param it - the test runner's `it` (or `test`).
 * @param makeStore - makes a fresh store for each test.
 * @param options - see {@link StoreContractOptions}.
 */
export function runStoreContract(it: ContractIt, makeStore: MakeStore, options: StoreContractOptions = {}): void {
  const concurrency = options.concurrency ?? 1000
  const timeoutMs = options.timeoutMs ?? 60_000
  const closeAfterEach = options.closeAfterEach ?? true
  for (const contractCase of storeContractCases()) {
    if (options.groups !== undefined && !options.groups.includes(contractCase.group)) continue
    it(
      `store contract › ${contractCase.group} › ${contractCase.name}`,
      async () => {
        const store = await makeStore()
        const prefix = `contract-${Math.random().toString(36).slice(2, 10)}|`
        try {
          await contractCase.run(store, { prefix, t0: 1_800_000_000_000, concurrency })
        } finally {
          if (closeAfterEach) await store.close()
        }
      },
      timeoutMs,
    )
  }
  options.additionalTests?.(it, makeStore)
}
