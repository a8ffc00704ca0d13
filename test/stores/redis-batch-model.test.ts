// The batched Redis scripts against the in-memory ledger: random sequences of reserve, commit (with or without a
// spend record) and release are issued
// in groups without waiting (one group goes to Redis as one batch script, each operation with its own `now`), and
// the same operations one after the other, in the same order, to memoryStore. Every operation must give the same
// result, the balances after each group must agree, and no hold field may be left that the ledger does not have.
// The cached view of a hot key (read once, written once per batch), sweeps and forgotten keys inside a batch, and
// call ids used twice in one batch are all exercised here.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import {
  applyOp as apply,
  comparable,
  KEYS,
  ledgerOp,
  redisHolds,
  T0,
  type LedgerOp as Op,
} from '../helpers/ledger-model.js'
import { redisForSuite } from '../helpers/shared-stores.js'

const suite = redisForSuite()

const op = ledgerOp({ records: true })

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
        const redis = redisStore({ client: suite.io, prefix, time: 'client', expiryMarginMs: 3_600_000 })
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
          const { hash, reserved: total } = await redisHolds(suite.io, prefix, key, now)
          const [balance] = await memory.balances({ keys: [key], now })
          expect({ key, reserved: total }).toEqual({ key, reserved: balance!.reserved })
          // the fields written when a key is created come before any hold bucket in its hash (found at its head)
          const fields = Object.keys(hash)
          const firstHold = fields.findIndex((f) => f.startsWith('b:'))
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
