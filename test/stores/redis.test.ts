// The store contract suite against a real redis-server, with an ioredis client and with a node-redis client,
// plus the Redis store's own behaviour (options, scripts reloaded on NOSCRIPT, key layout, records).
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStore, type RedisStoreOptions } from '../../src/stores/redis.js'
import { runStoreContract } from '../../src/testing/index.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

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

/** How many scripts Redis has run (`EVALSHA` and `EVAL`, from `INFO commandstats`). */
async function scriptCalls(): Promise<number> {
  const text = await io.info('commandstats')
  let calls = 0
  for (const m of text.matchAll(/cmdstat_(evalsha|eval):calls=(\d+)/g)) calls += Number(m[2])
  return calls
}
const uniquePrefix = (): string => `t${process.pid}-${n++}`

describe('redisStore with ioredis', () => {
  runStoreContract(it, () => redisStore({ client: io, prefix: uniquePrefix(), time: 'client' }))
})

describe('redisStore with node-redis', () => {
  runStoreContract(it, () => redisStore({ client: node, prefix: uniquePrefix(), time: 'client' }))
})

describe('redisStore', () => {
  it('recognises each client', () => {
    expect(redisStore({ client: io }).clientKind).toBe('ioredis')
    expect(redisStore({ client: node }).clientKind).toBe('node-redis')
  })

  it('validates its options when created', () => {
    const bad: [Partial<RedisStoreOptions>, RegExp][] = [
      [{ client: {} as never }, /client/],
      [{ client: io, prefix: 'a{b}' }, /prefix/],
      [{ client: io, prefix: '' }, /prefix/],
      [{ client: io, time: 'local' as never }, /time/],
      [{ client: io, timeoutMs: 0 }, /timeoutMs/],
      [{ client: io, expiryMarginMs: -1 }, /expiryMarginMs/],
      [{ client: io, maxRecords: 1.5 }, /maxRecords/],
    ]
    for (const [options, message] of bad) expect(() => redisStore(options as RedisStoreOptions)).toThrow(message)
  })

  it('refuses unknown options, naming the closest known one, and bad values with the value it got', () => {
    expect(() => redisStore({ client: io, timeoutMS: 500 } as never)).toThrow(
      /no option `"timeoutMS"`.*Did you mean `timeoutMs`/,
    )
    expect(() => redisStore({ client: io, failFast: { failures: 0, probeAfterMs: 10 } })).toThrow(/failFast\.failures/)
    expect(() => redisStore({ client: io, initialize: 'later' as never })).toThrow(/initialize.*"later"/)
    expect(() => redisStore({ client: io, maxClockSkewMs: -1 })).toThrow(/maxClockSkewMs/)
    expect(() => redisStore(undefined as never)).toThrow(/needs an options object with a `client`/)
  })

  it('refuses an ioredis client with a keyPrefix', async () => {
    const prefixed = new Redis(server.port, '127.0.0.1', { keyPrefix: 'x:', lazyConnect: true })
    expect(() => redisStore({ client: prefixed })).toThrow(/keyPrefix/)
    prefixed.disconnect()
  })

  it('puts every key under one hash tag and stores amounts as integer strings', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client' })
    const now = Date.now()
    await store.reserve({
      callId: 'c1',
      now,
      holdExpiresAt: now + 60_000,
      entries: [{ key: 'user:alice|d:x|usd', amount: 9_007_199_254_740_990, limit: null, expiresAt: now + 3_600_000 }],
    })
    await store.commit({
      callId: 'c1',
      now,
      entries: [{ key: 'user:alice|d:x|usd', amount: 9_007_199_254_740_991, expiresAt: now + 3_600_000 }],
      dedupeUntil: now + 60_000,
      record: { callId: 'c1', startedAt: now, endedAt: now },
    })
    const keys = (await io.keys(`*${prefix}*`)).sort()
    expect(keys.every((k) => k.startsWith(`{${prefix}}:`))).toBe(true)
    const day = new Date(now).toISOString().slice(0, 10)
    expect(keys).toEqual([
      `{${prefix}}:c:c1`,
      `{${prefix}}:epoch`,
      `{${prefix}}:k:user:alice|d:x|usd`,
      `{${prefix}}:live`,
      `{${prefix}}:r`,
      `{${prefix}}:rm`,
      `{${prefix}}:u:${day}`,
      `{${prefix}}:ud`,
    ])
    // the record is one stream entry whose fields are the record's fields (JSON values), not one JSON blob
    const entries = await io.xrange(`{${prefix}}:r`, '-', '+')
    expect(entries.map(([, fields]) => fields)).toEqual([
      ['callId', '"c1"', 'startedAt', String(now), 'endedAt', String(now)],
    ])
    expect(await io.hget(`{${prefix}}:k:user:alice|d:x|usd`, 's')).toBe('9007199254740991')
    const ttl = await io.pttl(`{${prefix}}:k:user:alice|d:x|usd`)
    expect(ttl).toBeGreaterThan(3_600_000)
    expect(ttl).toBeLessThanOrEqual(3_600_000 + 300_000)
  })

  it('keeps a key until its last hold when the hold outlives the window, and moves its expiry only later', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client', expiryMarginMs: 1000 })
    const hash = `{${prefix}}:k:k`
    // whole seconds left, allowing the test up to 5 s of delay between the write and the read
    const expectTtl = async (seconds: number): Promise<void> => {
      const left = await io.pttl(hash)
      expect(left).toBeLessThanOrEqual(seconds * 1000)
      expect(left).toBeGreaterThan((seconds - 5) * 1000)
    }
    const now = Date.now()
    await store.reserve({
      callId: 'a',
      now,
      holdExpiresAt: now + 5_000,
      entries: [{ key: 'k', amount: 1, limit: null, expiresAt: now + 20_000 }],
    })
    await expectTtl(21) // window end + margin
    expect(await io.hget(hash, 'p')).toBe('') // written empty with the key, so that reads find it at the head
    await store.reserve({
      callId: 'b',
      now,
      holdExpiresAt: now + 60_000,
      entries: [{ key: 'k', amount: 1, limit: null, expiresAt: now + 20_000 }],
    })
    await expectTtl(61) // the hold outlives the window: last hold + margin
    expect(await io.hget(hash, 'p')).toBe(String(now + 60_000))
    await store.commit({
      callId: 'b',
      now,
      entries: [{ key: 'k', amount: 1, expiresAt: now + 20_000 }],
      dedupeUntil: now + 1000,
    })
    await expectTtl(61) // never earlier
    await store.commit({
      callId: 'c',
      now,
      entries: [{ key: 'k', amount: 1, expiresAt: now + 120_000 }],
      dedupeUntil: now + 1000,
    })
    await expectTtl(121) // a later window end moves it
    expect(await store.balances({ keys: ['k'], now: now + 119_999 })).toEqual([{ spent: 2, reserved: 0 }])
    expect(await store.balances({ keys: ['k'], now: now + 120_000 })).toEqual([{ spent: 0, reserved: 0 }])
  })

  it('works on ledger keys written by the previous version, which have no empty `p` field', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client', expiryMarginMs: 1000 })
    const hash = `{${prefix}}:k:k`
    const now = Date.now()
    const entries = (amount: number, expiresAt: number) => [{ key: 'k', amount, limit: 100, expiresAt }]
    await store.reserve({ callId: 'a', now, holdExpiresAt: now + 5_000, entries: entries(10, now + 20_000) })
    await store.reserve({ callId: 'b', now, holdExpiresAt: now + 5_000, entries: entries(20, now + 20_000) })
    // the previous version wrote 'p' only when a hold outlived the window end
    expect(await io.hdel(hash, 'p')).toBe(1)
    const spend = (amount: number) => [{ key: 'k', amount, expiresAt: now + 20_000 }]
    await store.commit({ callId: 'a', now, entries: spend(7), dedupeUntil: now + 1000 })
    expect(await io.hexists(hash, 'p')).toBe(0)
    // a hold beyond the window end writes 'p' on the old key, and the expiry follows it
    const late = await store.reserve({
      callId: 'c',
      now,
      holdExpiresAt: now + 60_000,
      entries: entries(30, now + 20_000),
    })
    expect(late).toEqual({ ok: true, duplicate: false, balances: [{ spent: 7, reserved: 50 }] })
    expect(await io.hget(hash, 'p')).toBe(String(now + 60_000))
    expect(await io.pttl(hash)).toBeGreaterThan(55_000)
    const refused = await store.reserve({
      callId: 'd',
      now,
      holdExpiresAt: now + 5_000,
      entries: entries(44, now + 20_000),
    })
    expect(refused).toEqual({ ok: false, refusedIndex: 0, balances: [{ spent: 7, reserved: 50 }] })
    await store.release({ callId: 'b', now, holdExpiresAt: now + 5_000 })
    await store.commit({ callId: 'c', now, entries: spend(25), dedupeUntil: now + 1000 })
    expect(await store.balances({ keys: ['k'], now })).toEqual([{ spent: 32, reserved: 0 }])
    expect(await io.hget(hash, 'r')).toBe('0')
  })

  it('counts the hold of a call whose record is gone until it expires, and the call id reserving again once', async () => {
    // A record can vanish before its hold expires only when clocks disagree by more than the margin;
    // deleting it by hand makes the same state. The holds of a key are summed by expiry instant (one bucket per
    // instant, not one field per call), so the orphaned hold cannot be told from the other holds of its bucket: it
    // keeps counting until it expires (more held than the ledger would, never less), and the new reservation of
    // the call id is a hold of its own.
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client' })
    const now = 1_800_000_000_000
    const entries = (amount: number) => [
      { key: 'a', amount, limit: 100, expiresAt: null },
      { key: 'b', amount, limit: 100, expiresAt: now + 60_000 },
    ]
    await store.reserve({ callId: 'other', now, holdExpiresAt: now + 1000, entries: entries(20) })
    await store.reserve({ callId: 'x', now, holdExpiresAt: now + 1000, entries: entries(10) })
    await io.del(`{${prefix}}:c:x`)
    const again = await store.reserve({ callId: 'x', now, holdExpiresAt: now + 2000, entries: entries(7) })
    expect(again).toEqual({
      ok: true,
      duplicate: false,
      balances: [
        { spent: 0, reserved: 37 },
        { spent: 0, reserved: 37 },
      ],
    })
    expect(await io.hget(`{${prefix}}:k:a`, 'r')).toBe('37')
    await store.commit({
      callId: 'x',
      now,
      entries: [{ key: 'a', amount: 5, expiresAt: null }],
      dedupeUntil: now + 1000,
    })
    // the commit takes the new hold (7) off both keys, the orphaned one (10) stays with 'other' (20)
    expect(await store.balances({ keys: ['a', 'b'], now })).toEqual([
      { spent: 5, reserved: 30 },
      { spent: 0, reserved: 30 },
    ])
    expect(await store.balances({ keys: ['a', 'b'], now: now + 1000 })).toEqual([
      { spent: 5, reserved: 0 },
      { spent: 0, reserved: 0 },
    ])
  })

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT) without a new store', async () => {
    const store = redisStore({ client: io, prefix: uniquePrefix(), time: 'client' })
    const now = 1_800_000_000_000
    const entry = { key: 'k', amount: 5, limit: 100, expiresAt: null }
    await store.reserve({ callId: 'a', now, holdExpiresAt: now + 1000, entries: [entry] })
    await io.script('FLUSH')
    await store.reserve({ callId: 'b', now, holdExpiresAt: now + 1000, entries: [entry] })
    expect(await store.balances({ keys: ['k'], now })).toEqual([{ spent: 0, reserved: 10 }])
  })

  it('answers refusals and validation errors without a round trip for invalid input', async () => {
    const store = redisStore({ client: io, prefix: uniquePrefix(), time: 'client' })
    await store.initialize() // the first contact (epoch, eviction policy, server time) is behind us
    const before = Number((await io.info('stats')).match(/total_commands_processed:(\d+)/)?.[1])
    await expect(
      store.reserve({
        callId: 'x',
        now: 0,
        holdExpiresAt: 1,
        entries: [{ key: 'k', amount: -1, limit: null, expiresAt: null }],
      }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT' })
    const after = Number((await io.info('stats')).match(/total_commands_processed:(\d+)/)?.[1])
    expect(after - before).toBe(1) // only the first INFO
  })

  it('reads records in endedAt order even when they arrive out of order', async () => {
    const store = redisStore({ client: io, prefix: uniquePrefix(), time: 'client' })
    const ended = [5000, 1000, 9000, 3000, 7000, 2000]
    for (const [i, endedAt] of ended.entries()) {
      await store.commit({
        callId: `r${i}`,
        now: 10_000,
        entries: [],
        dedupeUntil: 20_000,
        record: { callId: `r${i}`, startedAt: endedAt - 1, endedAt },
      })
    }
    expect((await store.queryRecords({})).map((r) => r.endedAt)).toEqual([1000, 2000, 3000, 5000, 7000, 9000])
    expect((await store.queryRecords({ from: 2000, to: 7000 })).map((r) => r.endedAt)).toEqual([2000, 3000, 5000])
    expect((await store.queryRecords({ from: 2000, to: 7000, limit: 2 })).map((r) => r.endedAt)).toEqual([2000, 3000])
  })

  it('caps the record stream', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client', maxRecords: 100 })
    for (let i = 0; i < 1000; i++) {
      await store.commit({
        callId: `r${i}`,
        now: i,
        entries: [],
        dedupeUntil: 10_000,
        record: { callId: `r${i}`, startedAt: i, endedAt: i },
      })
    }
    const length = await io.xlen(`{${prefix}}:r`)
    expect(length).toBeGreaterThanOrEqual(100)
    expect(length).toBeLessThan(300)
    expect((await store.queryRecords({})).at(-1)?.callId).toBe('r999')
  })

  it('keeps the exact cap when one batch adds many records (trimmed once, at the end of the batch)', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client', maxRecords: 10 })
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        store.commit({
          callId: `r${i}`,
          now: 100,
          entries: [],
          dedupeUntil: 10_000,
          record: { callId: `r${i}`, startedAt: i, endedAt: i },
        }),
      ),
    )
    expect(await io.xlen(`{${prefix}}:r`)).toBe(10)
    expect((await store.queryRecords({})).map((r) => r.callId)).toEqual(
      Array.from({ length: 10 }, (_, i) => `r${30 + i}`),
    )
  })

  it('reads records of one stream field per record field, and the older ones of one d field', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client' })
    await io.xadd(`{${prefix}}:r`, '1000-0', 'callId', '"fields"', 'startedAt', '999', 'endedAt', '1000', 'd', '"x"')
    await io.xadd(`{${prefix}}:r`, '2000-0', 'd', JSON.stringify({ callId: 'blob', startedAt: 1999, endedAt: 2000 }))
    await store.commit({
      callId: 'new',
      now: 5000,
      entries: [],
      dedupeUntil: 10_000,
      record: { callId: 'new', startedAt: 2999, endedAt: 3000, model: 'gpt-4o', user: 'alice' },
    })
    expect(await store.queryRecords({})).toEqual([
      { callId: 'fields', startedAt: 999, endedAt: 1000, d: 'x' },
      { callId: 'blob', startedAt: 1999, endedAt: 2000 },
      { callId: 'new', startedAt: 2999, endedAt: 3000, model: 'gpt-4o', user: 'alice' },
    ])
  })

  it('names the record field JSON cannot make, and writes nothing', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client' })
    const record = { callId: 'big', startedAt: 1, endedAt: 2, meta: { n: 1n } } as never
    await expect(
      store.commit({ callId: 'big', now: 5000, entries: [], dedupeUntil: 10_000, record }),
    ).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/record\.meta/) })
    expect(await io.exists(`{${prefix}}:r`, `{${prefix}}:c:big`)).toBe(0)
  })

  it('sends the reserves of one tick as one batch script, each with its own reply or error', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client' })
    const now = 1_800_000_000_000
    await store.balances({ keys: ['warm'], now }) // loads the script
    await store.release({ callId: 'warm', now }) // loads the batch script
    await io.set(`{${prefix}}:k:bad`, 'not a hash')
    const batched = redisStore({ client: io, prefix, time: 'client' })
    await batched.balances({ keys: ['warm'], now })
    const evalshaBefore = await scriptCalls()
    const reserves = Promise.allSettled(
      Array.from({ length: 50 }, (_, i) =>
        batched.reserve({
          callId: `p${i}`,
          now,
          holdExpiresAt: now + 1000,
          entries: [{ key: i === 7 ? 'bad' : `k${i % 5}`, amount: 1, limit: null, expiresAt: null }],
        }),
      ),
    )
    const results = await reserves
    expect(await scriptCalls()).toBe(evalshaBefore + 1)
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(
      ['STORAGE'],
    )
    expect((results[7] as PromiseRejectedResult).reason.message).toMatch(/WRONGTYPE/)
    expect(await store.balances({ keys: ['k0', 'k1', 'k2', 'k3', 'k4'], now })).toEqual([
      { spent: 0, reserved: 10 },
      { spent: 0, reserved: 10 },
      { spent: 0, reserved: 9 },
      { spent: 0, reserved: 10 },
      { spent: 0, reserved: 10 },
    ])
  })

  it("answers a reservation refused on its first key of a batch with its own keys' balances, not an earlier operation's", async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ client: io, prefix, time: 'client' })
    const now = 1_800_000_000_000
    const entries = (keys: string[], limit: number, amount: number) =>
      keys.map((key) => ({ key, amount, limit, expiresAt: null }))
    await store.commit({
      callId: 'seed',
      now,
      entries: entries(['b1', 'b2', 'b3'], 0, 7).map(({ key }) => ({ key, amount: 7, expiresAt: null })),
      dedupeUntil: now + 1000,
    })
    // one batch: a reservation on a1..a3, then one refused at once on b1 (the scripts' tables of the first hold a1..a3)
    const [first, second] = await Promise.all([
      store.reserve({ callId: 'first', now, holdExpiresAt: now + 1000, entries: entries(['a1', 'a2', 'a3'], 100, 5) }),
      store.reserve({ callId: 'second', now, holdExpiresAt: now + 1000, entries: entries(['b1', 'b2', 'b3'], 1, 5) }),
    ])
    expect(first).toMatchObject({ ok: true })
    expect(second).toEqual({
      ok: false,
      refusedIndex: 0,
      balances: [
        { spent: 7, reserved: 0 },
        { spent: 7, reserved: 0 },
        { spent: 7, reserved: 0 },
      ],
    })
  })

  it('is unusable after close and leaves the client open', async () => {
    const store = redisStore({ client: io, prefix: uniquePrefix() })
    await store.close()
    await expect(store.balances({ keys: ['k'], now: 0 })).rejects.toMatchObject({ code: 'STORAGE' })
    expect(await io.ping()).toBe('PONG')
  })
})
