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

/** One admitted call: reserve then commit on `keys`, with a spend record when `record` is set. */
async function admittedCall(store: RedisStore, callId: string, keys: string[], record: boolean): Promise<void> {
  const now = store.clock.now()
  const reserved = await store.reserve({
    callId,
    now,
    holdExpiresAt: now + 600_000,
    entries: keys.map((key) => ({ key, amount: 1_000, limit: 1e15, expiresAt: windowEnd })),
  })
  expect(reserved.ok).toBe(true)
  await store.commit({
    callId,
    now: store.clock.now(),
    entries: keys.map((key) => ({ key, amount: 900, expiresAt: windowEnd })),
    dedupeUntil: now + 3_600_000,
    ...(record
      ? { record: { callId, startedAt: now, endedAt: now + 1, model: 'gpt-4o', costNanoUsd: 900, user: 'alice' } }
      : {}),
  })
}

describe('redisStore commands per admitted call', () => {
  const keys = ['org:acme|d|usd', 'team:search|d|usd', 'user:alice|d|usd', 'key:sk-1|d|usd']

  it('runs 2 scripts and 37 commands for 4 keys with a record, reading the epoch and call record in one MGET', async () => {
    const store = redisStore({ client: io, prefix: 'commands-4', time: 'server' })
    await admittedCall(store, 'warm', keys, true) // loads the scripts, creates the keys and the day's rollup rows
    await admin.config('RESETSTAT')
    await admittedCall(store, 'measured', keys, true)
    expect(await commandCalls()).toEqual({
      evalsha: 2, // the round trips
      time: 2,
      mget: 2, // epoch + call record, once per script
      hmget: 10, // 4 ledger keys per script, the record metadata, the rollup rows
      hset: 14, // the call's hold and the fields of 4 ledger keys per script, the rollup rows, the record metadata
      hdel: 4, // the call's hold on each key
      set: 2, // the call record
      xadd: 1, // the spend record
    })
    await store.close()
  })

  it('runs 2 scripts and 14 commands for 1 key without a record', async () => {
    const store = redisStore({ client: io, prefix: 'commands-1', time: 'server' })
    await admittedCall(store, 'warm', keys.slice(0, 1), false)
    await admin.config('RESETSTAT')
    await admittedCall(store, 'measured', keys.slice(0, 1), false)
    expect(await commandCalls()).toEqual({ evalsha: 2, time: 2, mget: 2, hmget: 2, hset: 3, hdel: 1, set: 2 })
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
      hmget: 2 * 4 + 2, // each ledger key once per batch; the record metadata and the rollup rows once per batch
      hset: 4 * calls + 2 * 4 + 2, // per reserve its hold on each key; each ledger key, the rollup rows and the metadata once per batch
      hdel: 4 * calls, // the call's hold on each key
      'object|encoding': 4, // each key the batch added holds to: a listpack of more than 32 fields is moved to a hashtable
      hlen: 4, // (these are listpacks: their field count is asked too)
      set: 2 * calls, // the call record
      xadd: calls, // the spend record
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

  it('moves a ledger key many calls hold at once to a hashtable (once), and leaves a quiet key a listpack', async () => {
    const store = redisStore({ client: io, prefix: 'commands-hot', time: 'client' })
    const now = store.clock.now()
    const reserve = (callId: string, key: string) =>
      store.reserve({
        callId,
        now,
        holdExpiresAt: now + 600_000,
        entries: [{ key, amount: 1_000, limit: 1e15, expiresAt: windowEnd }],
      })
    expect((await reserve('quiet-0', 'quiet')).ok).toBe(true)
    expect((await reserve('hot-0', 'hot')).ok).toBe(true)
    await admin.config('RESETSTAT')
    const hot = await Promise.all(Array.from({ length: 40 }, (_, i) => reserve(`hot-${i + 1}`, 'hot')))
    expect(hot.every((r) => r.ok)).toBe(true)
    expect(await commandCalls()).toEqual({
      evalsha: 1,
      time: 1,
      mget: 1,
      hmget: 1,
      hset: 40 + 1 + 1, // the holds, the key's own fields, the long value that converts the hash
      hlen: 1,
      'object|encoding': 1,
      hdel: 1, // the long value again
      set: 40, // the call records
    })
    expect(await admin.object('ENCODING', '{commands-hot}:k:hot')).toBe('hashtable')
    expect(await admin.object('ENCODING', '{commands-hot}:k:quiet')).toBe('listpack')
    expect(await admin.hlen('{commands-hot}:k:hot')).toBe(41 + 5) // 41 holds and s r e n p, nothing else
    expect(await store.balances({ keys: ['hot', 'quiet'], now })).toEqual([
      { spent: 0, reserved: 41_000 },
      { spent: 0, reserved: 1_000 },
    ])
    // a hashtable stays one: the next batch only checks its encoding (one command, no HLEN)
    await admin.config('RESETSTAT')
    await Promise.all([reserve('hot-41', 'hot'), reserve('hot-42', 'hot')])
    const calls = await commandCalls()
    expect([calls.hlen, calls['object|encoding'], calls.hset, calls.hdel]).toEqual([undefined, 1, 3, undefined])
    await store.close()
  })
})
