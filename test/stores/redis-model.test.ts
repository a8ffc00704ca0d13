// The Redis scripts against the in-memory ledger (src/stores/ledger/ledger.ts through memoryStore): random sequences
// of reserve, commit, release, balances and reset with explicit times (holds that expire, windows that end,
// call ids reused after their memory ends, commits that list other keys than the reservation) must give
// the same results, operation by operation, and leave no hold field that the ledger does not have.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import { applyOp as apply, comparable, KEYS, ledgerOp, redisHolds, T0 } from '../helpers/ledger-model.js'
import { redisForSuite } from '../helpers/shared-stores.js'

const suite = redisForSuite()

const op = ledgerOp({ records: false })

let run = 0

describe('redisStore scripts against the ledger', () => {
  it('give the same result as memoryStore for every operation of random sequences', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const prefix = `model-${process.pid}-${run++}`
        const redis = redisStore({ client: suite.io, prefix, time: 'client', expiryMarginMs: 3_600_000 })
        const memory = memoryStore()
        let now = T0
        for (const [i, o] of ops.entries()) {
          if (o.kind === 'wait') now += o.ms
          const [got, want] = [comparable(await apply(redis, o, now)), comparable(await apply(memory, o, now))]
          expect({ step: i, op: o, result: got }).toEqual({ step: i, op: o, result: want })
          const balances = { keys: KEYS, now }
          expect({ step: i, balances: await redis.balances(balances) }).toEqual({
            step: i,
            balances: await memory.balances(balances),
          })
        }
        // Every hold field left in Redis belongs to a hold that still counts (no leaked hold).
        for (const key of KEYS) {
          const { reserved: total } = await redisHolds(suite.io, prefix, key, now)
          const [balance] = await memory.balances({ keys: [key], now })
          expect({ key, reserved: total }).toEqual({ key, reserved: balance!.reserved })
        }
      }),
      {
        numRuns: 300,
        examples: [
          // a commit after the window ended, while the call still holds: the key is forgotten, then written anew
          [
            [
              {
                kind: 'reserve',
                call: 'x',
                keys: ['a', 'b'],
                amount: 10,
                uneven: false,
                limit: null,
                ttl: 15_000,
                expiresAt: 5_000,
              },
              { kind: 'commit', call: 'y', keys: ['a'], amount: 5, uneven: false, expiresAt: 5_000, dedupe: 30_000 },
              { kind: 'wait', ms: 7_000 },
              { kind: 'commit', call: 'x', keys: ['a'], amount: 7, uneven: false, expiresAt: 60_000, dedupe: 30_000 },
            ],
          ],
          // an expired hold swept, then the window ends with no hold left
          [
            [
              {
                kind: 'reserve',
                call: 'x',
                keys: ['a'],
                amount: 10,
                uneven: false,
                limit: 100,
                ttl: 1_000,
                expiresAt: 5_000,
              },
              {
                kind: 'reserve',
                call: 'y',
                keys: ['a'],
                amount: 20,
                uneven: false,
                limit: 100,
                ttl: 4_000,
                expiresAt: 5_000,
              },
              { kind: 'wait', ms: 1_000 },
              {
                kind: 'reserve',
                call: 'z',
                keys: ['a'],
                amount: 75,
                uneven: false,
                limit: 100,
                ttl: 15_000,
                expiresAt: 5_000,
              },
              { kind: 'wait', ms: 3_000 },
              { kind: 'wait', ms: 1_000 },
              { kind: 'release', call: 'z' },
              {
                kind: 'reserve',
                call: 'w',
                keys: ['a'],
                amount: 1,
                uneven: false,
                limit: 1,
                ttl: 1_000,
                expiresAt: 20_000,
              },
            ],
          ],
        ],
      },
    )
  }, 120_000)
})
