// What Redis runs for one admitted call of the Redis store (reserve + commit), counted by Redis itself
// (`INFO commandstats`, the commands inside the scripts included): the hot path's exact profile, so that a change
// that adds a command per call is seen here, not only in the bench.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStore, type RedisStore } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

let server: RedisServer
let io: Redis
let admin: Redis

beforeAll(async () => {
  server = await startRedisServer()
  io = new Redis(server.port, '127.0.0.1')
  admin = new Redis(server.port, '127.0.0.1')
})

afterAll(async () => {
  io?.disconnect()
  admin?.disconnect()
  await server?.stop()
})

/** Calls per command since the last `CONFIG RESETSTAT`, the bench's own `INFO`/`CONFIG` left out. */
async function commandCalls(): Promise<Record<string, number>> {
  const text = await admin.info('commandstats')
  const calls: Record<string, number> = {}
  for (const m of text.matchAll(/cmdstat_([^:]+):calls=(\d+)/g)) {
    if (m[1] === 'info' || m[1]!.startsWith('config')) continue
    calls[m[1]!] = Number(m[2])
  }
  return calls
}

/** The window end of every key (fixed, as within one window: a later end would move the key's expiry). */
const windowEnd = Date.now() + 86_400_000

/**
 * One admitted call: reserve then commit on `keys`, with a spend record when `record` is set. In server time a
 * store moves the instants a call states by how far its `now` is behind Redis's clock (about the round trip), and a
 * key's window end moves (a ZADD and a PEXPIREAT) when that makes it later: a warm call made `behindMs` behind sets
 * the ends so late that the measured call's round trip, however slow the machine, does not move them.
 */
async function admittedCall(
  store: RedisStore,
  callId: string,
  keys: string[],
  record: boolean,
  behindMs = 0,
): Promise<void> {
  const now = store.clock.now() - behindMs
  const reserved = await store.reserve({
    callId,
    now,
    holdExpiresAt: now + 600_000,
    entries: keys.map((key) => ({ key, amount: 1_000, limit: 1e15, expiresAt: windowEnd })),
  })
  expect(reserved.ok).toBe(true)
  await store.commit({
    callId,
    now: store.clock.now() - behindMs,
    entries: keys.map((key) => ({ key, amount: 900, expiresAt: windowEnd })),
    dedupeUntil: now + 3_600_000,
    ...(record
      ? { record: { callId, startedAt: now, endedAt: now + 1, model: 'gpt-4o', costNanoUsd: 900, user: 'alice' } }
      : {}),
  })
}

describe('redisStore commands per admitted call', () => {
  const keys = ['org:acme|d|usd', 'team:search|d|usd', 'user:alice|d|usd', 'key:sk-1|d|usd']

  it('runs 2 scripts and 33 commands for 4 keys with a record, reading the epoch and call record in one MGET', async () => {
    const store = redisStore({ client: io, prefix: 'commands-4', time: 'server' })
    await admittedCall(store, 'warm', keys, true, 10_000) // loads the scripts, creates the keys and the day's rollup rows
    await admin.config('RESETSTAT')
    await admittedCall(store, 'measured', keys, true)
    expect(await commandCalls()).toEqual({
      evalsha: 2, // the round trips
      time: 2,
      mget: 2, // epoch + call record, once per script
      hmget: 10, // 4 ledger keys (with the hold's bucket) per script, the record metadata, the rollup rows
      hset: 10, // 4 ledger keys per script (the reserve: 'r' and the hold's bucket; the commit: 's' and 'r'), the rollup rows, the record metadata
      hdel: 4, // the hold's bucket on each key, empty after the commit
      set: 2, // the call record
      xadd: 1, // the spend record
    })
    await store.close()
  })

  it('runs 2 scripts and 13 commands for 1 key without a record', async () => {
    const store = redisStore({ client: io, prefix: 'commands-1', time: 'server' })
    await admittedCall(store, 'warm', keys.slice(0, 1), false, 10_000)
    await admin.config('RESETSTAT')
    await admittedCall(store, 'measured', keys.slice(0, 1), false)
    expect(await commandCalls()).toEqual({ evalsha: 2, time: 2, mget: 2, hmget: 2, hset: 2, hdel: 1, set: 2 })
    await store.close()
  })
  it('runs one batch script for the reserves of one tick and one for their commits, reading and writing each ledger key, the rollup rows and the record metadata once per batch', async () => {
    const store = redisStore({ client: io, prefix: 'commands-batch', time: 'client' })
    await admittedCall(store, 'warm', keys, true)
    await admin.config('RESETSTAT')
    const calls = 20
    const now = store.clock.now()
    const ids = Array.from({ length: calls }, (_, i) => `batch-${i}`)
    const reserved = await Promise.all(
      ids.map((callId) =>
        store.reserve({
          callId,
          now,
          holdExpiresAt: now + 600_000,
          entries: keys.map((key) => ({ key, amount: 1_000, limit: 1e15, expiresAt: windowEnd })),
        }),
      ),
    )
    expect(reserved.every((r) => r.ok)).toBe(true)
    await Promise.all(
      ids.map((callId) =>
        store.commit({
          callId,
          now,
          entries: keys.map((key) => ({ key, amount: 900, expiresAt: windowEnd })),
          dedupeUntil: now + 3_600_000,
          record: { callId, startedAt: now, endedAt: now + 1, model: 'gpt-4o', costNanoUsd: 900, user: 'alice' },
        }),
      ),
    )
    expect(await commandCalls()).toEqual({
      evalsha: 2, // one batch of 20 reserves, one of 20 commits
      time: 2,
      mget: 2, // the epoch and the batch's 20 call records
      hmget: 2 * 4 + 2, // each ledger key (with the batch's hold bucket) once per batch; the record metadata and the rollup rows once per batch
      // each ledger key once per batch (its fields and the bucket of the batch's 20 holds, which share their expiry),
      // the rollup rows and the metadata once per batch: nothing per call
      hset: 2 * 4 + 2,
      hdel: 4, // the bucket on each key, empty once the 20 calls committed
      set: 2 * calls, // the call record
      xadd: calls, // the spend record (the batch's first trims the stream to its cap)
      xtrim: 1, // the stream to its cap, once for the batch's other records
    })
    await store.close()
  })

  it('declares each call record of a batch and each distinct list of its other keys once', async () => {
    const store = redisStore({ client: io, prefix: 'commands-keys', time: 'server' })
    await admittedCall(store, 'warm', keys, true)
    await admin.config('SET', 'slowlog-log-slower-than', '0')
    await admin.slowlog('RESET')
    const now = store.clock.now()
    const reserve = (callId: string, entryKeys: string[]) =>
      store.reserve({
        callId,
        now,
        holdExpiresAt: now + 600_000,
        entries: entryKeys.map((key) => ({ key, amount: 1_000, limit: 1e15, expiresAt: windowEnd })),
      })
    const ids = Array.from({ length: 20 }, (_, i) => `keys-${i}`)
    // 19 reserves on the 4 keys, one on 2 of them
    const reserved = await Promise.all(ids.map((id, i) => reserve(id, i === 7 ? keys.slice(0, 2) : keys)))
    expect(reserved.every((r) => r.ok)).toBe(true)
    const log = (await admin.slowlog('GET', 100)) as [number, number, number, string[]][]
    await admin.config('SET', 'slowlog-log-slower-than', '10000')
    const scripts = log.map((entry) => entry[3]).filter((args) => args[0]?.toLowerCase() === 'evalsha')
    expect(scripts.length).toBe(1)
    // the store's 5 keys, 20 call records, the 4 keys once and the 2 keys once (each operation named all its keys
    // before: 5 + 19 * 5 + 3)
    expect(Number(scripts[0]![2])).toBe(5 + 20 + 4 + 2)
    expect(await store.balances({ keys, now })).toEqual([
      { spent: 900, reserved: 20_000 },
      { spent: 900, reserved: 20_000 },
      { spent: 900, reserved: 19_000 },
      { spent: 900, reserved: 19_000 },
    ])
    await store.close()
  })

  it("sends each distinct list of the operations' terms once per batch, and per operation its shape, now and own values", async () => {
    const store = redisStore({ client: io, prefix: 'commands-terms', time: 'server' })
    await admittedCall(store, 'warm', keys, true)
    await admin.config('SET', 'slowlog-log-slower-than', '0')
    await admin.slowlog('RESET')
    const now = store.clock.now()
    const entries = (limit: number) => keys.map((key) => ({ key, amount: 1_000, limit, expiresAt: windowEnd }))
    const ids = Array.from({ length: 10 }, (_, i) => `terms-${i}`)
    // 9 reserves with the same limits, one with a limit its total passes (refused: the terms are its own)
    const reserved = await Promise.all(
      ids.map((callId, i) =>
        store.reserve({ callId, now, holdExpiresAt: now + 600_000, entries: entries(i === 4 ? 1 : 1e15) }),
      ),
    )
    expect(reserved.map((r) => r.ok)).toEqual(ids.map((_, i) => i !== 4))
    // 9 commits with a record of gpt-4o, one of gpt-4o-mini (another rollup row: other terms)
    await Promise.all(
      ids.map((callId, i) =>
        i === 4
          ? Promise.resolve()
          : store.commit({
              callId,
              now,
              entries: keys.map((key) => ({ key, amount: 900, expiresAt: windowEnd })),
              dedupeUntil: now + 3_600_000,
              record: {
                callId,
                startedAt: now,
                endedAt: now + 1,
                model: i === 7 ? 'gpt-4o-mini' : 'gpt-4o',
                costNanoUsd: 900,
              },
            }),
      ),
    )
    const log = (await admin.slowlog('GET', 100)) as [number, number, number, string[]][]
    await admin.config('SET', 'slowlog-log-slower-than', '10000')
    const scripts = log
      .map((entry) => entry[3])
      .filter((args) => args[0]?.toLowerCase() === 'evalsha')
      .reverse()
    expect(scripts.length).toBe(2)
    // SLOWLOG keeps at most 32 arguments of a command, the last one telling how many more there were
    const argc = (command: string[]) => {
      const more = /^\.\.\. \((\d+) more arguments\)$/.exec(command.at(-1) ?? '')
      return more === null ? command.length : command.length - 1 + Number(more[1])
    }
    const argv = (command: string[]) => argc(command) - 3 - Number(command[2])
    // the reserves: 10 common, 2 lists of terms (limit and window end per key: 8 each), per reserve its shape, now,
    // holdExpiresAt and its amount, the same on the 4 keys: sent once (4; 7 with an amount per key; before the terms:
    // kind, tail, keys, arguments, now, holdExpiresAt, 3 per key: 18); the now, holdExpiresAt and amount of every
    // reserve after the first left out, the same as the one before (9 each); the shape once for each run of
    // reserves of the same shape (the first, the next 3, the refused one, the last 5: 6 fewer)
    expect(argv(scripts[0]!)).toBe(10 + 2 * 8 + 10 * 4 - 3 * 9 - 6)
    // the commits: 10 common, 2 lists of terms (the number of rollup rows, the window ends, the 'global' row: 1 + 4 +
    // 1), per commit its shape, now, dedupeUntil, endedAt, its amount (once), the rollup sums and the record's 5
    // fields (16; 19 with an amount per key; before the terms: kind, tail, keys, arguments, now, dedupeUntil,
    // endedAt, rows, 2 per key, sums, row, 5 fields: 27); the now, dedupeUntil and endedAt of every commit after
    // the first left out (8 each); the shape once for each run (the first, the next 5, the gpt-4o-mini one, the last
    // 2: 5 fewer)
    expect(argv(scripts[1]!)).toBe(10 + 2 * 6 + 9 * 16 - 3 * 8 - 5)
    expect(await store.balances({ keys, now })).toEqual(keys.map(() => ({ spent: 9 * 900 + 900, reserved: 0 })))
    await store.close()
  })

  it('keeps the holds of a batch on a ledger key in one bucket field, however many calls hold it', async () => {
    const store = redisStore({ client: io, prefix: 'commands-hot', time: 'client' })
    const now = store.clock.now()
    const reserve = (callId: string, key: string, holdExpiresAt = now + 600_000) =>
      store.reserve({
        callId,
        now,
        holdExpiresAt,
        entries: [{ key, amount: 1_000, limit: 1e15, expiresAt: windowEnd }],
      })
    expect((await reserve('hot-0', 'hot')).ok).toBe(true)
    await admin.config('RESETSTAT')
    const hot = await Promise.all(Array.from({ length: 40 }, (_, i) => reserve(`hot-${i + 1}`, 'hot')))
    expect(hot.every((r) => r.ok)).toBe(true)
    expect(await commandCalls()).toEqual({
      evalsha: 1,
      time: 1,
      mget: 1,
      hmget: 1, // the key's fields and the bucket
      hset: 1, // 'r' and the bucket, once
      set: 40, // the call records
    })
    // s r e n p and one bucket: the 41 holds expire at the same instant
    const hash = await admin.hgetall('{commands-hot}:k:hot')
    expect(Object.keys(hash).sort()).toEqual(['b:' + (now + 600_000), 'e', 'n', 'p', 'r', 's'])
    expect(hash['b:' + (now + 600_000)]).toBe('41000:41')
    expect(await admin.object('ENCODING', '{commands-hot}:k:hot')).toBe('listpack')
    // a hold expiring at another instant gets a bucket of its own
    expect((await reserve('hot-other', 'hot', now + 300_000)).ok).toBe(true)
    expect(await admin.hget('{commands-hot}:k:hot', 'b:' + (now + 300_000))).toBe('1000:1')
    expect(await store.balances({ keys: ['hot'], now })).toEqual([{ spent: 0, reserved: 42_000 }])
    // the commits take their amounts off their buckets; an empty bucket is deleted
    await Promise.all(
      ['hot-0', 'hot-1', 'hot-other'].map((callId) =>
        store.commit({
          callId,
          now,
          entries: [{ key: 'hot', amount: 900, expiresAt: windowEnd }],
          dedupeUntil: now + 60_000,
        }),
      ),
    )
    expect(await admin.hget('{commands-hot}:k:hot', 'b:' + (now + 600_000))).toBe('39000:39')
    expect(await admin.hexists('{commands-hot}:k:hot', 'b:' + (now + 300_000))).toBe(0)
    expect(await store.balances({ keys: ['hot'], now })).toEqual([{ spent: 2_700, reserved: 39_000 }])
    await store.close()
  })
})
