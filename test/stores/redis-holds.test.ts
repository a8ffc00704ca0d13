// The hold buckets of the Redis store (a ledger key keeps one field per hold expiry instant, the sum of the holds
// expiring then, instead of one field per call): the edges the random model tests do not reach. Client-time stores,
// so that each operation's `now` is the test's.
import { createClient } from 'redis'
import { describe, expect, it } from 'vitest'
import { StorageError } from '../../src/errors.js'
import { memoryStore } from '../../src/stores/memory.js'
import { redisStore } from '../../src/stores/redis.js'
import type { BudgetStore } from '../../src/stores/types.js'
import { redisHolds, T0 } from '../helpers/ledger-model.js'
import { redisForSuite } from '../helpers/shared-stores.js'

const suite = redisForSuite()

let run = 0
let prefix = ''
/** A client-time store on a prefix of its own (`prefix` names it). */
const open = () => {
  prefix = `holds-${process.pid}-${run++}`
  return redisStore({ client: suite.io, prefix, time: 'client', expiryMarginMs: 3_600_000 })
}

const reserve = (store: BudgetStore, callId: string, now: number, holdExpiresAt: number, amount = 100) =>
  store.reserve({ callId, now, holdExpiresAt, entries: [{ key: 'k', amount, limit: null, expiresAt: null }] })
const commit = (store: BudgetStore, callId: string, now: number, amount = 90) =>
  store.commit({ callId, now, entries: [{ key: 'k', amount, expiresAt: null }], dedupeUntil: now + 60_000 })
const balance = async (store: BudgetStore, now: number) => (await store.balances({ keys: ['k'], now }))[0]

describe('redisStore hold buckets', () => {
  it('takes nothing off the reserved amount for a commit whose hold expired and was swept', async () => {
    const stores = [open(), memoryStore()]
    for (const store of stores) {
      await reserve(store, 'a', T0, T0 + 1_000)
      await reserve(store, 'b', T0 + 500, T0 + 5_000)
    }
    const got = []
    for (const store of stores) {
      // the sweep runs here (a's hold expired at T0 + 1,000)
      const swept = await balance(store, T0 + 2_000)
      await commit(store, 'a', T0 + 2_000)
      got.push([swept, await balance(store, T0 + 2_000)])
    }
    expect(got[0]).toEqual(got[1])
    expect(got[0]).toEqual([
      { spent: 0, reserved: 100 },
      { spent: 90, reserved: 100 },
    ])
    await stores[0]!.close()
  })

  it('never takes a swept hold off a bucket of the same instant made again by a clock that is behind', async () => {
    const store = open()
    const x = T0 + 1_000
    await reserve(store, 'swept', T0, x, 100)
    // a process whose clock is ahead sweeps the hold (its expiry has passed at its 'now')
    expect(await balance(store, x)).toEqual({ spent: 0, reserved: 0 })
    // one whose clock is behind reserves a hold expiring at the same instant: the bucket of x again
    await reserve(store, 'again', T0, x, 40)
    expect(await balance(store, T0 + 500)).toEqual({ spent: 0, reserved: 40 })
    // the swept call commits at a 'now' before x: its hold is gone, the other call's stays counted
    await commit(store, 'swept', T0 + 500, 90)
    expect(await balance(store, T0 + 500)).toEqual({ spent: 90, reserved: 40 })
    // the bucket made again after a sweep of its instant is not taken from by a commit either (no commit can tell
    // its holds from the swept ones): it holds until it expires, then goes
    await commit(store, 'again', T0 + 500, 30)
    expect(await balance(store, T0 + 500)).toEqual({ spent: 120, reserved: 40 })
    expect(await balance(store, x + 1)).toEqual({ spent: 120, reserved: 0 })
    const { hash } = await redisHolds(suite.io, prefix, 'k', x + 1)
    expect(Object.keys(hash).filter((f) => f.startsWith('b:'))).toEqual([])
    await store.close()
  })

  it('remembers the swept instant when the key is forgotten, so a bucket made again on the new key keeps its holds', async () => {
    const store = open()
    const x = T0 + 1_000
    const end = T0 + 800
    const entry = (amount: number) => [{ key: 'k', amount, limit: null, expiresAt: end }]
    await store.reserve({ callId: 'swept', now: T0, holdExpiresAt: x, entries: entry(100) })
    // a process whose clock is ahead sweeps the hold and forgets the key (its window is over, no hold is left)
    expect(await balance(store, x)).toEqual({ spent: 0, reserved: 0 })
    // one whose clock is behind makes the key again, with a hold expiring at the same instant
    await store.reserve({ callId: 'again', now: T0, holdExpiresAt: x, entries: entry(40) })
    // the swept call commits: its hold went with the sweep, the other call's stays counted
    await store.commit({ callId: 'swept', now: T0 + 500, entries: entry(90), dedupeUntil: T0 + 60_000 })
    expect(await balance(store, T0 + 500)).toEqual({ spent: 90, reserved: 40 })
    await store.close()
  })

  it("makes a key without a window on a swept instant a forgotten key left, without that instant's expiry", async () => {
    const store = open()
    const x = T0 + 1_000
    await store.reserve({
      callId: 'swept',
      now: T0,
      holdExpiresAt: x,
      entries: [{ key: 'k', amount: 100, limit: null, expiresAt: T0 + 800 }],
    })
    expect(await balance(store, x)).toEqual({ spent: 0, reserved: 0 })
    const hash = `{${prefix}}:k:k`
    expect(await suite.io.hgetall(hash)).toEqual({ w: String(x) })
    expect(await suite.io.pttl(hash)).toBeGreaterThan(0)
    await commit(store, 'forever', T0, 90)
    expect(await suite.io.pttl(hash)).toBe(-1)
    expect(await balance(store, x + 3_600_000)).toEqual({ spent: 90, reserved: 0 })
    await store.close()
  })

  it('fails loudly with a StorageError on a ledger key holding a hold field of an older version', async () => {
    const store = open()
    await reserve(store, 'new', T0, T0 + 1_000)
    // what an older version wrote: one field per call ('h:<call id>' = '<amount>:<expiry>')
    await suite.io.hset(`{${prefix}}:k:k`, 'h:old', `70:${T0 + 1_000}`)
    const failed = await balance(store, T0 + 2_000).catch((error: unknown) => error)
    expect(failed).toBeInstanceOf(StorageError)
    expect((failed as Error).message).toMatch(/field h:old this version does not write/)
    await store.close()
  })

  it('answers amounts at and above 2^52 exactly through ioredis and node-redis (integer replies only below 2^52)', async () => {
    const node = createClient({ url: `redis://127.0.0.1:${suite.server.port}` })
    await node.connect()
    const big = 2 ** 52
    for (const client of [suite.io, node]) {
      prefix = `holds-${process.pid}-${run++}`
      const store = redisStore({ client, prefix, time: 'client' })
      const now = Date.now()
      // a window end: the scripts' usual paths (a key whose expiry does not move), where the replies carry numbers
      const end = now + 3_600_000
      const entries = (amount: number) => [
        { key: 'below', amount: amount - 1, limit: null, expiresAt: end },
        { key: 'at', amount, limit: null, expiresAt: end },
        { key: 'top', amount: 2 * amount - 2, limit: null, expiresAt: end },
      ]
      const reserved = await store.reserve({ callId: 'r1', now, holdExpiresAt: now + 60_000, entries: entries(big) })
      expect(reserved.balances.map((b) => b.reserved)).toEqual([big - 1, big, 2 * big - 2])
      // spend MAX_SAFE_INTEGER on 'top' in two commits: the reserved amount and the spent one cross 2^52 both ways
      const committed = await store.commit({
        callId: 'r1',
        now,
        entries: [
          { key: 'below', amount: big - 1, expiresAt: end },
          { key: 'at', amount: big, expiresAt: end },
          { key: 'top', amount: big, expiresAt: end },
        ],
        dedupeUntil: now + 60_000,
      })
      expect(committed.balances).toEqual([
        { before: 0, after: big - 1, reserved: 0 },
        { before: 0, after: big, reserved: 0 },
        { before: 0, after: big, reserved: 0 },
      ])
      const again = await store.commit({
        callId: 'r2',
        now,
        entries: [{ key: 'top', amount: big - 1, expiresAt: end }],
        dedupeUntil: now + 60_000,
      })
      expect(again.balances).toEqual([{ before: big, after: Number.MAX_SAFE_INTEGER, reserved: 0 }])
      expect(await store.balances({ keys: ['below', 'at', 'top'], now })).toEqual([
        { spent: big - 1, reserved: 0 },
        { spent: big, reserved: 0 },
        { spent: Number.MAX_SAFE_INTEGER, reserved: 0 },
      ])
      await store.close()
    }
    await node.close()
  })
})
