// Retention of spend history in the Redis store (ioredis and node-redis): records trimmed by count and by age,
// daily rollups exact past them, coverage from the stream and the rollup metadata; a store reopened on the same
// prefix sees the same rollups and coverage. Also: rollup day hashes expire by themselves, rollup sums refuse to
// overflow, and a rollup day hash that is gone before its retention is over fails closed.
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStore, type RedisStoreOptions } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { retentionTests, type RetentionOptions } from './retention-cases.js'

let server: RedisServer
let io: Redis
let node: ReturnType<typeof createClient>

beforeAll(async () => {
  server = await startRedisServer()
  io = new Redis(server.port, '127.0.0.1')
  node = createClient({ url: server.url })
  await node.connect()
})

afterAll(async () => {
  io?.disconnect()
  await node?.close()
  await server?.stop()
})

let n = 0
const prefixes = new WeakMap<object, string>()

for (const [name, client] of [
  ['ioredis', () => io],
  ['node-redis', () => node],
] as const) {
  describe(`redisStore retention with ${name}`, () => {
    const open = (prefix: string, options: RetentionOptions) => {
      const store = redisStore({ client: client() as RedisStoreOptions['client'], prefix, time: 'client', ...options })
      prefixes.set(store, prefix)
      return store
    }
    retentionTests(
      async (options) => open(`ret${process.pid}-${n++}`, options),
      async (store, options) => {
        await store.close()
        return open(prefixes.get(store)!, options)
      },
    )
  })
}

const DAY = 86_400_000
const T0 = 1_800_000_000_000 - (1_800_000_000_000 % DAY)
const spend = (callId: string, now: number, nano: number, extra: Record<string, unknown> = {}) => ({
  callId,
  now,
  entries: [{ key: 'u:alice|all|usd', amount: 1, expiresAt: null }],
  dedupeUntil: now + DAY,
  record: {
    callId,
    startedAt: now,
    endedAt: now,
    model: 'gpt-4o',
    costNanoUsd: nano,
    context: { user: 'alice' },
    ...extra,
  },
})

describe('redisStore rollups', () => {
  it('keeps one hash per day that expires after the retention, indexed by day; a duplicate commit adds nothing', async () => {
    const prefix = `rk${process.pid}-${n++}`
    const store = redisStore({ client: io, prefix, time: 'client', rollupRetentionMs: 10 * DAY })
    try {
      await store.commit(spend('a', T0 + 1000, 5))
      await store.commit(spend('a', T0 + 1000, 5))
      const day = new Date(T0).toISOString().slice(0, 10)
      const hash = await io.hgetall(`{${prefix}}:u:${day}`)
      expect(hash).toEqual({
        '["global","gpt-4o","gpt-4o"]': '1,0,0,5,0,0',
        '["user:alice","gpt-4o","gpt-4o"]': '1,0,0,5,0,0',
      })
      expect(await io.zrange(`{${prefix}}:ud`, '0', '-1', 'WITHSCORES')).toEqual([day, String(T0)])
      expect(await io.pttl(`{${prefix}}:u:${day}`)).toBeGreaterThan(0)
      expect(await io.pttl(`{${prefix}}:ud`)).toBe(-1)
    } finally {
      await store.close()
    }
  })

  it('refuses a record that would take a rollup sum past 2^53 - 1, changing nothing', async () => {
    const store = redisStore({ client: node, prefix: `ro${process.pid}-${n++}`, time: 'client' })
    try {
      await store.commit(spend('a', T0, Number.MAX_SAFE_INTEGER - 10))
      await expect(store.commit(spend('b', T0 + 1, 11))).rejects.toMatchObject({ code: 'INVALID_INPUT' })
      const result = await store.queryRollups!({ scopes: ['global'] })
      expect(result.rows.map((r) => [r.calls, r.costNanoUsd])).toEqual([[1, Number.MAX_SAFE_INTEGER - 10]])
      expect((await store.queryRecords({})).map((r) => r.callId)).toEqual(['a'])
      expect(await store.balances({ keys: ['u:alice|all|usd'], now: T0 + 2 })).toEqual([{ spent: 1, reserved: 0 }])
    } finally {
      await store.close()
    }
  })

  it('fails closed when a rollup day hash is gone before the end of its retention (eviction)', async () => {
    const prefix = `rl${process.pid}-${n++}`
    const store = redisStore({ client: io, prefix, time: 'client' })
    try {
      await store.commit(spend('a', T0, 5))
      await io.del(`{${prefix}}:u:${new Date(T0).toISOString().slice(0, 10)}`)
      await expect(store.queryRollups!({})).rejects.toMatchObject({ code: 'STORAGE', message: /rollups/ })
      await expect(store.commit(spend('b', T0 + 1, 5))).rejects.toMatchObject({ code: 'STORAGE', message: /rollups/ })
      // the operator accepts the loss: the day is forgotten, and the coverage says rollups are complete after it
      await (store as ReturnType<typeof redisStore>).startOver()
      const after = await store.queryRollups!({})
      expect([after.rows, after.rollupsFrom]).toEqual([[], T0 + DAY])
      await store.commit(spend('b', T0 + 1, 5))
      expect((await store.queryRollups!({ scopes: ['global'] })).rows.map((r) => r.calls)).toEqual([1])
    } finally {
      await store.close()
    }
  })

  it('with maxRecords 0 keeps no record but every rollup, and says records are complete only after the last', async () => {
    const store = redisStore({ client: node, prefix: `r0${process.pid}-${n++}`, time: 'client', maxRecords: 0 })
    try {
      await store.commit(spend('a', T0, 5))
      await store.commit(spend('b', T0 + 7, 6))
      expect(await store.queryRecords({})).toEqual([])
      const result = await store.queryRollups!({ scopes: ['user:alice'] })
      expect(result.rows.map((r) => [r.calls, r.costNanoUsd])).toEqual([[2, 11]])
      expect(result.recordsFrom).toBe(T0 + 8)
    } finally {
      await store.close()
    }
  })
})
