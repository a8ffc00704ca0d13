// The batched Redis scripts against the in-memory ledger, for runs of alike operations: a batch script repeats a
// reservation (or a commit) of the operation just before it when the next one is the same operation of another call
// (same keys, terms, amount and clock; scripts.ts, REPEAT and CREPEAT), checking only limits, the largest exact
// amounts and sums, and that the hold bucket keeps others. Runs of 1-8 alike reservations and commits of the calls
// reserved by an earlier run (so their call records are one text), amounts that cross a limit, 2^52 (the largest
// amount answered as a number) or 2^53 - 1 (overflow) inside a run, runs broken by a release, a reserve of a call id
// that has a record, a wait or a gap of 1 ms, are issued in batches and compared with memoryStore applied in order:
// every result, the balances, the holds, the records and the rollups.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { applyOp, comparable, KEYS, redisHolds, T0, type LedgerOp as ModelOp } from '../helpers/ledger-model.js'
import { redisForSuite } from '../helpers/shared-stores.js'

const suite = redisForSuite()

/** An operation of the ledger model, a commit with its spend record's model (or none). */
type LedgerOp = ModelOp | (Extract<ModelOp, { kind: 'commit' }> & { record: string | null })

// (odd amounts past 2^50: sums near 2^53 are odd, where a number reply would lose the last digit)
const amount = fc.constantFrom(0, 7, 7, 900, 900, 2 ** 50 + 1, 2 ** 51 + 3)
const expiry = fc.constantFrom<number | null>(null, 20_000, 60_000)
const step = fc.oneof(
  fc.record({
    kind: fc.constant('reserve' as const),
    keys: fc.subarray(KEYS, { minLength: 1 }),
    amount,
    uneven: fc.constantFrom(false, false, true),
    // each call of the run its own amount (the amount plus its place in the run), or all the same
    vary: fc.boolean(),
    // 'tight': the largest total of the keys before the batch and 2.5 amounts, so that the run crosses it
    limit: fc.constantFrom<number | 'tight' | null>(null, 'tight', 'tight', 2 ** 52),
    ttl: fc.constantFrom(4_000, 15_000),
    expiresAt: expiry,
    gaps: fc.array(fc.constantFrom(0, 0, 0, 0, 0, 1), { minLength: 1, maxLength: 10 }),
    newBatch: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant('commit' as const),
    // the run of reservations whose calls commit (counted from the latest), on the same keys or a part of them
    run: fc.nat(3),
    part: fc.constantFrom(false, false, true),
    // the calls of the run before it too, committed alike right after (their call records differ when their
    // reservations did: another hold expiry or other amounts)
    both: fc.boolean(),
    amount,
    uneven: fc.constantFrom(false, false, true),
    // each call of the run its own amount (the amount plus its place in the run), or all the same
    vary: fc.boolean(),
    expiresAt: expiry,
    dedupe: fc.constantFrom(0, 30_000),
    record: fc.constantFrom<string | null>(null, 'm1', 'm1', 'm1', 'm2'),
    gaps: fc.array(fc.constantFrom(0, 0, 0, 0, 1), { minLength: 1, maxLength: 10 }),
    newBatch: fc.boolean(),
  }),
  fc.record({
    kind: fc.constantFrom('release' as const, 'again' as const),
    run: fc.nat(3),
    newBatch: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(1, 1_000, 7_000) }),
)
type Step = typeof step extends fc.Arbitrary<infer T> ? T : never

/** The runs' operations, each with its gap after the one before, in batches. */
/** A limit set when its batch is issued, the same for every reservation of its run. */
type Tight = { keys: string[]; amount: number; value?: number }
type Entry = [LedgerOp, number, (Tight | undefined)?]

function batches(steps: Step[]): Entry[][] {
  const out: Entry[][] = [[]]
  const runs: Array<{ calls: string[]; keys: string[]; expiresAt: number | null }> = []
  let id = 0
  for (const s of steps) {
    if (s.kind === 'wait') {
      out.push([[{ kind: 'wait', ms: s.ms }, 0]], [])
      continue
    }
    if (s.newBatch) out.push([])
    const batch = out[out.length - 1]!
    if (s.kind === 'reserve') {
      const calls = s.gaps.map(() => `c${id++}`)
      runs.push({ calls, keys: s.keys, expiresAt: s.expiresAt })
      const tight = s.limit === 'tight' ? { keys: s.keys, amount: s.amount } : undefined
      const limit = s.limit === 'tight' ? null : s.limit
      for (const [j, call] of calls.entries()) {
        const o = {
          kind: 'reserve' as const,
          call,
          keys: s.keys,
          amount: s.vary ? s.amount + j : s.amount,
          uneven: s.uneven,
          limit,
          ttl: s.ttl,
          expiresAt: s.expiresAt,
        }
        batch.push([o, s.gaps[j]!, tight])
      }
      continue
    }
    const run = runs[runs.length - 1 - (s.run % Math.max(runs.length, 1))]
    if (run === undefined) continue
    if (s.kind === 'commit') {
      const keys = s.part ? run.keys.slice(1) : run.keys
      const before = s.both ? runs[runs.indexOf(run) - 1] : undefined
      const calls = [...run.calls, ...(before?.calls ?? [])]
      for (const [j, call] of calls.entries())
        batch.push([
          {
            kind: 'commit',
            call,
            keys,
            amount: s.vary ? s.amount + j : s.amount,
            uneven: s.uneven,
            expiresAt: run.expiresAt,
            dedupe: s.dedupe,
            record: s.record,
          },
          s.gaps[j % s.gaps.length]!,
        ])
    } else if (s.kind === 'release') batch.push([{ kind: 'release', call: run.calls[0]! }, 0])
    // a reservation of a call id that has a record (held, committed or released): never repeated
    else
      batch.push([
        {
          kind: 'reserve',
          call: run.calls[0]!,
          keys: run.keys,
          amount: 7,
          uneven: false,
          limit: null,
          ttl: 4_000,
          expiresAt: run.expiresAt,
        },
        0,
      ])
  }
  return out.filter((b) => b.length > 0)
}

/**
 * The ledger refuses a reservation whose total passes both its limit and 2^53 - 1; the Redis script answers the
 * overflow first (an InvalidInputError), as it did before runs were repeated. Compared as the Redis answer.
 */
function overflowFirst(o: LedgerOp, want: unknown): unknown {
  const r = want as { ok?: boolean; refusedIndex?: number; balances?: Array<{ spent: number; reserved: number }> }
  if (o.kind !== 'reserve' || r?.ok !== false || r.refusedIndex === undefined) return want
  const b = r.balances![r.refusedIndex]!
  const amount = o.uneven ? o.amount + r.refusedIndex : o.amount
  return b.spent + b.reserved + amount > Number.MAX_SAFE_INTEGER ? { error: 'InvalidInputError' } : want
}

/** The examples' stores: a Redis store on client time (a prefix of its own) and a memoryStore, each keeping `cap` records. */
function storesFor(name: string, cap?: number): { redis: BudgetStore; memory: BudgetStore; prefix: string } {
  const prefix = `batch-repeat-${name}-${process.pid}`
  const records = cap === undefined ? {} : { maxRecords: cap }
  const redis = redisStore({ client: suite.io, prefix, time: 'client', expiryMarginMs: 3_600_000, ...records })
  return { redis, memory: memoryStore(records), prefix }
}

/** The examples' operations: on keys `a` and `b`, one amount for both. */
function reserve(call: string, amount = 900, ttl: 1_000 | 4_000 | 15_000 = 15_000, limit: number | null = null) {
  const op: LedgerOp = { kind: 'reserve', call, keys: ['a', 'b'], amount, uneven: false, limit, ttl, expiresAt: 60_000 }
  return op
}
function commit(call: string): LedgerOp {
  return commitOf(call, 700, 'm1')
}
function commitOf(call: string, amount: number, record: string | null): LedgerOp {
  const keys = ['a', 'b']
  return { kind: 'commit', call, keys, amount, uneven: false, expiresAt: 60_000, dedupe: 30_000, record }
}

/** Runs each batch on Redis (as one batch) and on memoryStore (in order), expecting the same results. */
async function sameResults(redis: BudgetStore, memory: BudgetStore, batches: Array<Array<[LedgerOp, number]>>) {
  for (const batch of batches) {
    const got = await Promise.all(batch.map(([o, now]) => applyOp(redis, o, now)))
    const want: unknown[] = []
    for (const [o, now] of batch) want.push(await applyOp(memory, o, now))
    expect(got).toEqual(want)
  }
}

/** The operations `ops` of one batch, each at `now`. */
const at = (now: number, ops: LedgerOp[]): Array<[LedgerOp, number]> => ops.map((o) => [o, now])

let run = 0

describe('redisStore batched scripts, runs of alike operations, against the ledger', () => {
  it('give the same result as memoryStore for every operation, and the same balances, holds, records and rollups', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 14 }), async (steps) => {
        const prefix = `batch-repeat-${process.pid}-${run++}`
        const redis = redisStore({ client: suite.io, prefix, time: 'client', expiryMarginMs: 3_600_000 })
        const memory = memoryStore()
        let now = T0
        for (const [g, batch] of batches(steps).entries()) {
          const group = batch.map(([o]) => o)
          if (group[0]!.kind === 'wait') {
            now += group[0]!.ms
            continue
          }
          const times: number[] = []
          for (const [, after] of batch) times.push((now += after))
          for (const [o, , tight] of batch) {
            if (tight === undefined || o.kind !== 'reserve') continue
            if (tight.value === undefined) {
              const totals = (await memory.balances({ keys: tight.keys, now: times[0]! })).map(
                (b) => b.spent + b.reserved,
              )
              tight.value = Math.min(Math.max(...totals) + Math.floor(2.5 * tight.amount), 2 ** 52)
            }
            o.limit = tight.value
          }
          const got = await Promise.all(group.map((o, j) => applyOp(redis, o, times[j]!)))
          const want: unknown[] = []
          for (const [j, o] of group.entries()) want.push(await applyOp(memory, o, times[j]!))
          expect({ group: g, ops: group, results: got.map(comparable) }).toEqual({
            group: g,
            ops: group,
            results: want.map((w, j) => comparable(overflowFirst(group[j]!, w))),
          })
          const balances = { keys: KEYS, now }
          expect({ group: g, balances: await redis.balances(balances) }).toEqual({
            group: g,
            balances: await memory.balances(balances),
          })
        }
        for (const key of KEYS) {
          const { reserved } = await redisHolds(suite.io, prefix, key, now)
          const [balance] = await memory.balances({ keys: [key], now })
          expect({ key, reserved }).toEqual({ key, reserved: balance!.reserved })
        }
        expect(await redis.queryRecords({})).toEqual(await memory.queryRecords({}))
        expect((await redis.queryRollups!({})).rows).toEqual((await memory.queryRollups!({})).rows)
        await redis.close()
      }),
      { numRuns: 500 },
    )
  }, 180_000)

  it('take the last hold of a bucket the whole way: the bucket goes, as with one operation at a time', async () => {
    const { redis, memory, prefix } = storesFor('last')
    // the first commit makes the rollup rows (a commit that makes one is not repeated), the next four are alike
    const calls = ['c1', 'c2', 'c3', 'c4']
    await sameResults(redis, memory, [
      at(T0, [reserve('w')]),
      at(T0, [commit('w')]),
      at(
        T0,
        calls.map((c) => reserve(c)),
      ),
      at(T0, calls.map(commit)),
    ])
    for (const key of ['a', 'b']) {
      const { hash } = await redisHolds(suite.io, prefix, key, T0)
      expect(Object.keys(hash).filter((f) => f.startsWith('b:'))).toEqual([])
    }
    const keys = ['a', 'b']
    expect(await redis.balances({ keys, now: T0 })).toEqual(await memory.balances({ keys, now: T0 }))
    await redis.close()
  })

  it('do not repeat a commit whose call record differs: its holds are in the bucket of its own expiry', async () => {
    const { redis, memory } = storesFor('other')
    // a1-a3 hold until T0 + 15,000, b1-b2 one millisecond longer; a1 and b1 commit alike, one after the other
    await sameResults(redis, memory, [
      at(T0, [reserve('w')]),
      at(T0, [commit('w')]),
      at(
        T0,
        ['a1', 'a2', 'a3'].map((c) => reserve(c)),
      ),
      at(
        T0 + 1,
        ['b1', 'b2'].map((c) => reserve(c)),
      ),
      at(T0 + 2, ['a1', 'b1'].map(commit)),
    ])
    // a2 and a3 have expired, b2 holds
    const balances = { keys: ['a', 'b'], now: T0 + 15_000 }
    expect(await redis.balances(balances)).toEqual(await memory.balances(balances))
    await redis.close()
  })

  // A commit that repeats the one before it reuses that one's dedupe mark (text and expiry) only when its own dedupe end
  // is the same text: a mark kept too long would answer a later commit as a duplicate, one kept too short count it twice.
  it('mark each commit of a run of alike commits done until its own dedupe end', async () => {
    const { redis, memory } = storesFor('dedupe')
    // w's commit makes the rollup rows; then, in one batch, c1-c3 commit alike (c2 and c3 repeat, c4 keeps the
    // bucket), c2 remembered for 3 s only: at T0 + 10,000 its commit counts again, c3's is a duplicate
    const short: LedgerOp = {
      kind: 'commit',
      call: 'c2',
      keys: ['a', 'b'],
      amount: 700,
      uneven: false,
      expiresAt: 60_000,
      dedupe: 3_000,
      record: 'm1',
    }
    await sameResults(redis, memory, [
      at(
        T0,
        ['w', 'c1', 'c2', 'c3', 'c4'].map((c) => reserve(c)),
      ),
      at(T0, [commit('w')]),
      at(T0, [commit('c1'), short, commit('c3')]),
      at(T0 + 10_000, [commit('c2'), commit('c3')]),
    ])
    const balances = { keys: ['a', 'b'], now: T0 + 10_000 }
    expect(await redis.balances(balances)).toEqual(await memory.balances(balances))
    await redis.close()
  })

  // The batch answers a run of operations with the same short answer as one count (-k): a commit's short answer
  // carries the amount its call record held, so commits that held different amounts are not one run.
  it('give each commit of a run of alike commits back the amount its own reservation held', async () => {
    const { redis, memory } = storesFor('held')
    // c1-c3 hold 900, 500 and 900 in one bucket (c4 keeps it); w's commit makes the rollup rows; then c1-c3 commit
    // 700 each alike in one batch (c2 and c3 repeat, each answering '=' and its held amount)
    await sameResults(redis, memory, [
      at(T0, [reserve('w'), reserve('c1'), reserve('c2', 500), reserve('c3'), reserve('c4')]),
      at(T0, [commit('w')]),
      at(T0, [commit('c1'), commit('c2'), commit('c3')]),
    ])
    const balances = { keys: ['a', 'b'], now: T0 }
    expect(await redis.balances(balances)).toEqual(await memory.balances(balances))
    await redis.close()
  })

  // A run of alike commits adds its records' sums to the rollup rows once (csettle); the records of the same sums text
  // one after the other are added as those sums times their number.
  it('add the sums of a run of alike commits to the rollup rows, alike records by their number', async () => {
    const { redis, memory } = storesFor('sums')
    // w's commit makes the rollup rows; then c1-c5 commit alike in one batch (c2-c5 repeat, c6 keeps the bucket): 700
    // three times, 500, 700 (the sums change after two alike records in the run, then again)
    await sameResults(redis, memory, [
      at(
        T0,
        ['w', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6'].map((c) => reserve(c)),
      ),
      at(T0, [commit('w')]),
      at(T0, [commit('c1'), commit('c2'), commit('c3'), commitOf('c4', 500, 'm1'), commit('c5')]),
    ])
    expect((await redis.queryRollups!({})).rows).toEqual((await memory.queryRollups!({})).rows)
    await redis.close()
  })

  it('keep the record stream to its cap after a batch of alike commits', async () => {
    // below 1,000 records the cap is exact (MAXLEN =): the batch's first record trims, the others leave it to the
    // batch's end
    const { redis, memory, prefix } = storesFor('cap', 3)
    const calls = ['w', 'c1', 'c2', 'c3', 'c4', 'c5', 'c6']
    // c6 keeps its hold, so that every commit after c1 repeats the one before it (none ends its bucket)
    await sameResults(redis, memory, [
      at(
        T0,
        calls.map((c) => reserve(c)),
      ),
      at(T0, [commit('w')]),
      at(T0, calls.slice(1, 6).map(commit)),
    ])
    expect(await suite.io.xlen(`{${prefix}}:r`)).toBe(3)
    expect(await redis.queryRecords({})).toEqual(await memory.queryRecords({}))
    await redis.close()
  })

  // A run of repeats is added to the key views once (settle, csettle): before the operation after it reads them.
  it('let a reservation and a release after a run of alike commits in the same batch see the commits', async () => {
    const { redis, memory } = storesFor('after-commits')
    // w and c1-c5 hold 900 each (one bucket); w's commit makes the rollup rows; then, in one batch, c1-c3 commit alike
    // (c2 and c3 repeat), r reserves under a limit it fits only once they have (spent 2,800 and reserved 1,800: 4,600
    // of 4,700; not yet settled, the views say 1,400 and 3,600), and c5 releases its hold
    await sameResults(redis, memory, [
      at(
        T0,
        ['w', 'c1', 'c2', 'c3', 'c4', 'c5'].map((c) => reserve(c)),
      ),
      at(T0, [commit('w')]),
      at(T0, [commit('c1'), commit('c2'), commit('c3'), reserve('r', 100, 15_000, 4_700)]),
      at(T0, [commit('c4'), commit('c2'), { kind: 'release', call: 'c5' }]),
    ])
    const balances = { keys: ['a', 'b'], now: T0 }
    expect(await redis.balances(balances)).toEqual(await memory.balances(balances))
    await redis.close()
  })

  it('answer the overflow of a commit in a run of alike commits whose spent passes 2^53 - 1', async () => {
    const { redis, memory } = storesFor('spent-overflow')
    // x commits 2^53 - 2,001 without a record (no rollup row grows with it); w's commit makes the rollup rows; then,
    // in one batch, c1-c3 commit 700 each alike: c3 passes 2^53 - 1 (an overflow, nothing written)
    await sameResults(redis, memory, [
      at(
        T0,
        ['x', 'w', 'c1', 'c2', 'c3', 'c4'].map((c) => reserve(c)),
      ),
      at(T0, [commitOf('x', Number.MAX_SAFE_INTEGER - 2_000, null)]),
      at(T0, [commit('w')]),
      at(
        T0,
        ['c1', 'c2', 'c3'].map((c) => commit(c)),
      ),
    ])
    const balances = { keys: ['a', 'b'], now: T0 }
    expect(await redis.balances(balances)).toEqual(await memory.balances(balances))
    await redis.close()
  })

  // The property test's 1 ms gaps never let a hold expire between two neighbouring operations of one batch; these do.
  it('do not repeat a commit whose holds expired since the commit before it in the same batch', async () => {
    const { redis, memory } = storesFor('now-c')
    // w, c1, c2 and c3 hold until T0 + 15,000 (one bucket); w's commit makes the rollup rows; then, in one batch, c1
    // commits before the holds expire and c2 when they have: the whole way clears the bucket, c3's hold with it
    await sameResults(redis, memory, [
      at(
        T0,
        ['w', 'c1', 'c2', 'c3'].map((c) => reserve(c)),
      ),
      at(T0, [commit('w')]),
      [
        [commit('c1'), T0 + 1_000],
        [commit('c2'), T0 + 15_000],
      ],
    ])
    const balances = { keys: ['a', 'b'], now: T0 + 15_000 }
    expect(await redis.balances(balances)).toEqual(await memory.balances(balances))
    await redis.close()
  })

  it('do not repeat a reservation when holds expired since the reservation before it in the same batch', async () => {
    const { redis, memory } = storesFor('now-r')
    // o holds 900 until T0 + 1,000; r1 and r2 (limit 1,200) ask for the same hold expiry, r2 once o's hold is gone
    // (its answer's balances no longer count it)
    await sameResults(redis, memory, [
      at(T0, [reserve('o', 900, 1_000)]),
      [
        [reserve('r1', 100, 4_000, 1_200), T0 + 500],
        [reserve('r2', 100, 1_000, 1_200), T0 + 3_500],
      ],
    ])
    await redis.close()
  })
})
