// Random ledger operations for the model tests that hold a store's scripts to the in-memory ledger
// (test/stores/redis-model.test.ts one operation at a time, test/stores/redis-batch-model.test.ts in batches): the
// operations, how one is applied to a store, and how two stores' answers are compared.
import fc from 'fast-check'
import type { Redis } from 'ioredis'
import type { BudgetStore } from '../../src/stores/types.js'

/** The time the operations start at; expiries are offsets from it. */
export const T0 = 1_800_000_000_000
/** The ledger keys and call ids the operations draw from (few, so that they collide). */
export const KEYS = ['a', 'b', 'c']
export const CALLS = ['x', 'y', 'z', 'w']

const keySet = fc.subarray(KEYS, { minLength: 1 })
const expiry = fc.constantFrom<number | null>(null, 5_000, 20_000, 60_000)
const commit = {
  kind: fc.constant('commit' as const),
  call: fc.constantFrom(...CALLS),
  keys: fc.subarray(KEYS),
  amount: fc.integer({ min: 0, max: 60 }),
  // the same amount on every key (the usual case, sent once), or amount + the key's index
  uneven: fc.boolean(),
  expiresAt: expiry,
  dedupe: fc.constantFrom(0, 3_000, 30_000),
}

/** One random operation: reserve, commit (with a spend record when `records`), release, reset, or a wait. */
export function ledgerOp(options: { records: boolean }) {
  return fc.oneof(
    fc.record({
      kind: fc.constant('reserve' as const),
      call: fc.constantFrom(...CALLS),
      keys: keySet,
      amount: fc.integer({ min: 0, max: 60 }),
      uneven: fc.boolean(),
      limit: fc.constantFrom<number | null>(null, 50, 100, 200),
      ttl: fc.constantFrom(1_000, 4_000, 15_000),
      expiresAt: expiry,
    }),
    options.records
      ? fc.record({ ...commit, record: fc.constantFrom<string | null>(null, 'm1', 'm2') })
      : fc.record(commit),
    fc.record({ kind: fc.constant('release' as const), call: fc.constantFrom(...CALLS) }),
    fc.record({ kind: fc.constant('reset' as const), keys: keySet }),
    fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(1, 999, 1_000, 3_000, 7_000) }),
  )
}

/** An operation {@link ledgerOp} draws. */
export type LedgerOp = ReturnType<typeof ledgerOp> extends fc.Arbitrary<infer T> ? T : never

/** Applies `o` to `store` at `now`: its answer, or `{ error: name }` when it throws. */
export async function applyOp(store: BudgetStore, o: LedgerOp, now: number): Promise<unknown> {
  try {
    switch (o.kind) {
      case 'reserve':
        return await store.reserve({
          callId: o.call,
          now,
          holdExpiresAt: now + o.ttl,
          entries: o.keys.map((key, i) => ({
            key,
            amount: o.uneven ? o.amount + i : o.amount,
            limit: o.limit,
            expiresAt: o.expiresAt === null ? null : T0 + o.expiresAt,
          })),
        })
      case 'commit': {
        const model = (o as { record?: string | null }).record ?? null
        return await store.commit({
          callId: o.call,
          now,
          dedupeUntil: now + o.dedupe,
          entries: o.keys.map((key, i) => ({
            key,
            amount: o.uneven ? o.amount + i : o.amount,
            expiresAt: o.expiresAt === null ? null : T0 + o.expiresAt,
          })),
          ...(model === null
            ? {}
            : {
                record: {
                  callId: o.call,
                  startedAt: now - 10,
                  endedAt: now,
                  model,
                  costNanoUsd: o.amount,
                  // every rollup sum differs from the others, so a sum written to the wrong column shows
                  usage: { inputTokens: o.amount + 1, outputTokens: o.amount + 2 },
                  savedNanoUsd: o.amount + 3,
                  estimated: o.amount % 2 === 0,
                  user: o.call === 'x' ? 'alice' : 'bob',
                },
              }),
        })
      }
      case 'release':
        return await store.release({ callId: o.call, now })
      case 'reset':
        return await store.reset({ keys: o.keys, now })
      case 'wait':
        return null
    }
  } catch (error) {
    return { error: (error as Error).name }
  }
}

/**
 * memoryStore leaves the balances after the refused entry empty (ledger.ts maps over a sparse array), the
 * Redis store fills them in; compare the balances the ledger defines: those up to the refused entry.
 */
export function comparable(result: unknown): unknown {
  const r = result as { ok?: boolean; refusedIndex?: number; balances?: unknown[] } | null
  if (r?.ok === false && r.balances !== undefined && r.refusedIndex !== undefined)
    return { ...r, balances: r.balances.slice(0, r.refusedIndex + 1) }
  return result
}

/**
 * The hash of a Redis ledger key, and the sum of its hold buckets still live at `now` (each `b:<expiresAt>` field
 * is `<sum of the amounts>:<number of holds>` of the holds expiring then): must equal the ledger's reserved amount,
 * or a hold leaked. A field of another shape (such as an older version's `h:<call id>`) fails the test.
 */
export async function redisHolds(
  io: Redis,
  prefix: string,
  key: string,
  now: number,
): Promise<{ hash: Record<string, string>; reserved: number }> {
  const hash = await io.hgetall(`{${prefix}}:k:${key}`)
  let reserved = 0
  for (const [field, value] of Object.entries(hash)) {
    if (field.length === 1) continue // the key's own fields
    const bucket = /^b:(\d+(?:\.\d+)?)$/.exec(field)
    const holds = /^(\d+):([1-9]\d*)$/.exec(value)
    if (bucket === null || holds === null) throw new Error(`unexpected field ${field} = ${value} in key ${key}`)
    if (Number(bucket[1]) > now) reserved += Number(holds[1])
  }
  return { hash, reserved }
}
