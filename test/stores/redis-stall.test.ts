// A stalled Redis (CLIENT PAUSE: commands wait, then run): a reservation that timed out on the client but ran
// later must not hold the budget for the hold's 10 minutes, because the store releases the call id itself; and
// while Redis does not answer, the circuit fails calls at once instead of making each wait `timeoutMs`.
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { describe, expect, it } from 'vitest'
import { isStorageError } from '../../src/errors.js'
import { redisStore } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

/**
 * Each test pauses the whole Redis (CLIENT PAUSE ... ALL) and waits for it to answer again, so each runs against a
 * redis-server and clients of its own: the tests run at the same time and their pauses overlap.
 */
interface Redises {
  admin: Redis
  io: Redis
  node: ReturnType<typeof createClient>
}

async function withRedis(test: (redis: Redises) => Promise<void>): Promise<void> {
  const server: RedisServer = await startRedisServer()
  const admin = new Redis(server.port, '127.0.0.1')
  const io = new Redis(server.port, '127.0.0.1')
  const node: Redises['node'] = createClient({ url: server.url })
  try {
    // Connected before the test, as clients made once for the file were: its first call has 300 ms.
    await Promise.all([node.connect(), admin.ping(), io.ping()])
    await test({ admin, io, node })
  } finally {
    admin.disconnect()
    io.disconnect()
    if (node.isOpen) await node.close()
    await server.stop()
  }
}

async function until(what: string, condition: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

/**
 * A call outside the stall, tried again until it answers (each try idempotent): the first initializes the store
 * (the epoch, the scripts), and on a loaded machine any call may take longer than the short `timeoutMs` the stalls
 * below are measured against. Answers what the call answered.
 */
async function answered<T>(call: () => Promise<T>): Promise<T> {
  let result: { value: T } | undefined
  await until('the store to answer', () =>
    call().then(
      (value) => {
        result = { value }
        return true
      },
      (error: unknown) => {
        if (isStorageError(error) && /timed out|failed fast/.test(error.message)) return false
        throw error
      },
    ),
  )
  return result!.value
}

let n = 0
const HOLD_MS = 600_000

describe.concurrent('redisStore with a stalled Redis', () => {
  for (const [label, client] of [
    ['ioredis', (redis: Redises) => redis.io],
    ['node-redis', (redis: Redises) => redis.node],
  ] as const) {
    it(`${label}: a reservation that timed out but ran later is released by the store, not held for 10 minutes`, () =>
      withRedis(async (redis) => {
        const { admin } = redis
        const store = redisStore({ client: client(redis), prefix: `stall-${n++}`, timeoutMs: 300, time: 'client' })
        const entries = [{ key: 'k', amount: 100, limit: 100, expiresAt: null }]
        // the scripts are loaded: the stalled reservation itself is sent and runs when Redis resumes
        const w = Date.now()
        await answered(() => store.reserve({ callId: 'warm-up', now: w, holdExpiresAt: w + HOLD_MS, entries }))
        await answered(() => store.release({ callId: 'warm-up', now: w }))
        await admin.call('CLIENT', 'PAUSE', '1500', 'ALL')
        const now = Date.now()
        const stalled = await store
          .reserve({ callId: 'stalled', now, holdExpiresAt: now + HOLD_MS, entries })
          .catch((e: unknown) => e)
        expect(isStorageError(stalled) && /timed out/.test((stalled as Error).message)).toBe(true)
        // after the pause the reservation runs, and the store's own release follows it: the budget is free again
        await until('the stalled hold to be released', async () => {
          const t = Date.now()
          const r = await store
            .reserve({ callId: `next-${t}`, now: t, holdExpiresAt: t + HOLD_MS, entries })
            .catch(() => null)
          if (r?.ok === true) await store.release({ callId: `next-${t}`, now: t })
          return r?.ok === true
        })
        // and a retry of the stalled reservation after its release changes nothing (tombstone)
        const t = Date.now()
        expect(
          await answered(() => store.reserve({ callId: 'stalled', now: t, holdExpiresAt: t + HOLD_MS, entries })),
        ).toMatchObject({
          ok: true,
          duplicate: true,
        })
        expect(await answered(() => store.balances({ keys: ['k'], now: t }))).toEqual([{ spent: 0, reserved: 0 }])
      }))

    it(`${label}: a batch of reservations and a commit whose reply was lost: each is unknown, the reservations are released by the store, the commit is applied once`, () =>
      withRedis(async (redis) => {
        const { admin } = redis
        const store = redisStore({
          client: client(redis),
          prefix: `stall-batch-${n++}`,
          timeoutMs: 300,
          time: 'client',
        })
        const w = Date.now()
        const entry = (key: string) => [{ key, amount: 100, limit: 100, expiresAt: null }]
        await answered(() => store.reserve({ callId: 'held', now: w, holdExpiresAt: w + HOLD_MS, entries: entry('c') }))
        await admin.call('CLIENT', 'PAUSE', '1500', 'ALL')
        const now = Date.now()
        const commit = {
          callId: 'held',
          now,
          entries: [{ key: 'c', amount: 70, expiresAt: null }],
          dedupeUntil: now + HOLD_MS,
        }
        // one turn: 10 reservations and the commit go to Redis as one batch, whose reply comes after the timeout
        const outcomes = await Promise.all([
          ...Array.from({ length: 10 }, (_, i) =>
            store
              .reserve({ callId: `stalled-${i}`, now, holdExpiresAt: now + HOLD_MS, entries: entry(`k${i}`) })
              .catch((e: unknown) => e),
          ),
          store.commit(commit).catch((e: unknown) => e),
        ])
        for (const e of outcomes) expect(isStorageError(e) && /timed out/.test((e as Error).message)).toBe(true)
        const keys = Array.from({ length: 10 }, (_, i) => `k${i}`)
        await until('every stalled hold to be released', async () => {
          const balances = await store.balances({ keys, now: Date.now() }).catch(() => null)
          return balances !== null && balances.every((b) => b.reserved === 0 && b.spent === 0)
        })
        // the commit ran when Redis resumed: its retry is a duplicate and the spend counts once
        expect(await answered(() => store.commit({ ...commit, now: Date.now() }))).toMatchObject({ duplicate: true })
        expect(await answered(() => store.balances({ keys: ['c'], now: Date.now() }))).toEqual([
          { spent: 70, reserved: 0 },
        ])
      }))
  }

  it('fails fast after consecutive failures to reach Redis, and closes again once Redis answers', () =>
    withRedis(async ({ admin, io }) => {
      const store = redisStore({
        client: io,
        prefix: `circuit-${n++}`,
        timeoutMs: 300,
        failFast: { failures: 2, probeAfterMs: 200 },
        time: 'client',
      })
      await answered(() => store.balances({ keys: ['k'], now: Date.now() }))
      const ask = () => store.balances({ keys: ['k'], now: Date.now() }).catch((e: unknown) => e)
      await admin.call('CLIENT', 'PAUSE', '3000', 'ALL')
      const first = await ask()
      const second = await ask()
      expect([first, second].map((e) => isStorageError(e) && /timed out/.test((e as Error).message))).toEqual([
        true,
        true,
      ])
      const third = await ask()
      expect(isStorageError(third) && /failed fast/.test((third as Error).message)).toBe(true)
      await until('the circuit to close', async () => Array.isArray(await ask()))
      expect(await ask()).toEqual([{ spent: 0, reserved: 0 }])
    }))

  it('with failFast: false every call waits for its own timeout', () =>
    withRedis(async ({ admin, io }) => {
      const store = redisStore({
        client: io,
        prefix: `no-circuit-${n++}`,
        timeoutMs: 200,
        failFast: false,
        time: 'client',
      })
      await answered(() => store.balances({ keys: ['k'], now: Date.now() }))
      await admin.call('CLIENT', 'PAUSE', '1500', 'ALL')
      const errors = []
      for (let i = 0; i < 4; i++)
        errors.push(await store.balances({ keys: ['k'], now: Date.now() }).catch((e: unknown) => e))
      for (const e of errors) expect(isStorageError(e) && /timed out/.test((e as Error).message)).toBe(true)
      await until('Redis to answer again', async () =>
        Array.isArray(await store.balances({ keys: ['k'], now: Date.now() }).catch(() => null)),
      )
    }))
})
