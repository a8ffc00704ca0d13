// The batched Redis scripts against the in-memory ledger: random sequences of reserve, commit (with or without a
// spend record) and release are issued
// in groups without waiting (one group goes to Redis as one batch script, each operation with its own `now`), and
// the same operations one after the other, in the same order, to memoryStore. Every operation must give the same
// result, the balances after each group must agree, and no hold field may be left that the ledger does not have.
// The cached view of a hot key (read once, written once per batch), sweeps and forgotten keys inside a batch, and
// call ids used twice in one batch are all exercised here.
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

let server: RedisServer
let io: Redis

beforeAll(async () => {
  server = await startRedisServer()
  io = new Redis(server.port, '127.0.0.1')
})

afterAll(async () => {
  io?.disconnect()
  await server?.stop()
})

const T0 = 1_800_000_000_000
const KEYS = ['a', 'b', 'c']
const CALLS = ['x', 'y', 'z', 'w']

const keySet = fc.subarray(KEYS, { minLength: 1 })
const expiry = fc.constantFrom<number | null>(null, 5_000, 20_000, 60_000)
const op = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    call: fc.constantFrom(...CALLS),
    keys: keySet,
    amount: fc.integer({ min: 0, max: 60 }),
    limit: fc.constantFrom<number | null>(null, 50, 100, 200),
    ttl: fc.constantFrom(1_000, 4_000, 15_000),
    expiresAt: expiry,
  }),
  fc.record({
    kind: fc.constant('commit' as const),
    call: fc.constantFrom(...CALLS),
    keys: fc.subarray(KEYS),
    amount: fc.integer({ min: 0, max: 60 }),
    expiresAt: expiry,
    dedupe: fc.constantFrom(0, 3_000, 30_000),
    record: fc.constantFrom<string | null>(null, 'm1', 'm2'),
  }),
  fc.record({ kind: fc.constant('release' as const), call: fc.constantFrom(...CALLS) }),
  fc.record({ kind: fc.constant('reset' as const), keys: keySet }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(1, 999, 1_000, 3_000, 7_000) }),
)

type Op = typeof op extends fc.Arbitrary<infer T> ? T : never

async function apply(store: BudgetStore, o: Op, now: number): Promise<unknown> {
  try {
    switch (o.kind) {
      case 'reserve':
        return await store.reserve({
          callId: o.call,
          now,
          holdExpiresAt: now + o.ttl,
          entries: o.keys.map((key) => ({
            key,
            amount: o.amount,
            limit: o.limit,
            expiresAt: o.expiresAt === null ? null : T0 + o.expiresAt,
          })),
        })
      case 'commit':
        return await store.commit({
          callId: o.call,
          now,
          dedupeUntil: now + o.dedupe,
          entries: o.keys.map((key) => ({
            key,
            amount: o.amount,
            expiresAt: o.expiresAt === null ? null : T0 + o.expiresAt,
          })),
          ...(o.record === null
            ? {}
            : {
                record: {
                  callId: o.call,
                  startedAt: now - 10,
                  endedAt: now,
                  model: o.record,
                  costNanoUsd: o.amount,
                  // every rollup sum differs from the others, so a sum written to the wrong column shows
                  usage: { inputTokens: o.amount + 1, outputTokens: o.amount + 2 },
                  savedNanoUsd: o.amount + 3,
                  estimated: o.amount % 2 === 0,
                  user: o.call === 'x' ? 'alice' : 'bob',
                },
              }),
        })
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
function comparable(result: unknown): unknown {
  const r = result as { ok?: boolean; refusedIndex?: number; balances?: unknown[] } | null
  if (r?.ok === false && r.balances !== undefined) return { ...r, balances: r.balances.slice(0, r.refusedIndex! + 1) }
  return result
}

let run = 0

/** An operation and how long after the previous one of its batch it is issued (its request's now). */
type Timed = [Op, number]
const gap = fc.constantFrom(0, 1, 999, 1_000, 4_000)

/** Splits the operations into groups at each wait and reset (those run alone, between batches). */
function groups(ops: Timed[]): Timed[][] {
  const out: Timed[][] = [[]]
  for (const t of ops) {
    if (t[0].kind === 'wait' || t[0].kind === 'reset') out.push([t], [])
    else out[out.length - 1]!.push(t)
  }
  return out.filter((g) => g.length > 0)
}

describe('redisStore batched scripts against the ledger', () => {
  it('give the same result as memoryStore, one after the other, for every operation of random batches', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(op, gap), { minLength: 1, maxLength: 60 }), async (timed) => {
        const prefix = `batch-model-${process.pid}-${run++}`
        const redis = redisStore({ client: io, prefix, time: 'client', expiryMarginMs: 3_600_000 })
        const memory = memoryStore()
        let now = T0
        for (const [g, batch] of groups(timed).entries()) {
          const group = batch.map(([o]) => o)
          if (group[0]!.kind === 'wait') now += group[0]!.ms
          // each operation of a batch has its own now (client time), some far enough apart for holds to expire
          // and windows to end between two operations of one batch
          const times: number[] = []
          for (const [, after] of batch) times.push((now += after))
          const got = await Promise.all(group.map((o, j) => apply(redis, o, times[j]!)))
          const want: unknown[] = []
          for (const [j, o] of group.entries()) want.push(await apply(memory, o, times[j]!))
          expect({ group: g, ops: group, results: got.map(comparable) }).toEqual({
            group: g,
            ops: group,
            results: want.map(comparable),
          })
          const balances = { keys: KEYS, now }
          expect({ group: g, balances: await redis.balances(balances) }).toEqual({
            group: g,
            balances: await memory.balances(balances),
          })
        }
        for (const key of KEYS) {
          const hash = await io.hgetall(`{${prefix}}:k:${key}`)
          const holds = Object.entries(hash).filter(([field]) => field.startsWith('h:'))
          const total = holds.reduce(
            (sum, [, value]) => (Number(value.split(':')[1]) > now ? sum + Number(value.split(':')[0]) : sum),
            0,
          )
          const [balance] = await memory.balances({ keys: [key], now })
          expect({ key, reserved: total }).toEqual({ key, reserved: balance!.reserved })
          // the fields written when a key is created come before any hold field in its hash (found at its head)
          const fields = Object.keys(hash)
          const firstHold = fields.findIndex((f) => f.startsWith('h:'))
          if (firstHold >= 0) expect(fields.slice(firstHold).filter((f) => ['s', 'r', 'p'].includes(f))).toEqual([])
        }
        // the records and the daily rollups the batched commits wrote (the record metadata and the rollup rows are
        // read once and written once per batch)
        const recordsOf = async (store: BudgetStore) =>
          (await store.queryRecords({})).map((r) => [r.callId, r.endedAt, r.model, r.costNanoUsd])
        expect(await recordsOf(redis)).toEqual(await recordsOf(memory))
        expect((await redis.queryRollups!({})).rows).toEqual((await memory.queryRollups!({})).rows)
        await redis.close()
      }),
      { numRuns: 300 },
    )
  }, 180_000)
})
