// Redis losing the store's data must not switch budgets off: after FLUSHALL, a restart without persistence or an
// eviction of ledger keys, a spent-out budget must not admit again from 0. The store detects the loss (its epoch
// key, its registry of live keys) and fails closed with a StorageError, which the manager reports as store.error.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { isBudgetExceededError, isStorageError } from '../../src/errors.js'
import { redisStore, type RedisStoreOptions } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

let server: RedisServer
let io: Redis

beforeAll(async () => {
  server = await startRedisServer() // no persistence: a restart loses everything
  io = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 })
  io.on('error', () => undefined)
})

afterAll(async () => {
  io?.disconnect()
  await server?.stop()
})

let n = 0

/** A manager with a $2 daily budget on user:alice, spent out by two $1 calls; a third is refused. */
async function spentOut(options: Partial<RedisStoreOptions> = {}) {
  const prefix = `loss-${process.pid}-${n++}`
  const store = redisStore({ client: io, prefix, timeoutMs: 1000, ...options })
  const manager = new BudgetManager({ store })
  const storeErrors: Error[] = []
  manager.on('store.error', ({ error }) => storeErrors.push(error))
  await manager.setBudget('user:alice', { maxBudget: 2, duration: 'daily' })
  let ran = 0
  const call = withBudget(async () => ++ran, { manager, context: { user: 'alice' }, estimate: 1, cost: () => 1 })
  await call()
  await call()
  await expect(call()).rejects.toSatisfy(isBudgetExceededError)
  return { prefix, store, manager, storeErrors, call, ran: () => ran }
}

/** Tries `count` calls; answers how many ran and the errors of the others. */
async function burst(call: () => Promise<unknown>, count: number): Promise<{ admitted: number; errors: unknown[] }> {
  const results = await Promise.allSettled(Array.from({ length: count }, () => call()))
  const errors = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []))
  return { admitted: count - errors.length, errors }
}

describe('redisStore after Redis lost its data', () => {
  it('FLUSHALL: a spent-out $2 budget admits nothing; every call fails with StorageError and a store.error event', async () => {
    const { call, ran, storeErrors, manager } = await spentOut()
    await io.flushall()
    const after = await burst(call, 6)
    expect(after.admitted).toBe(0)
    expect(ran()).toBe(2)
    for (const error of after.errors)
      expect(isStorageError(error) && /lost the store's data/.test((error as Error).message)).toBe(true)
    expect(storeErrors.length).toBeGreaterThanOrEqual(6)
    // reads fail closed too: the budget's definition is not reported as gone
    await expect(manager.getStatus('user:alice')).rejects.toSatisfy(isStorageError)
  })

  it('a restart without persistence: the running store fails closed instead of counting from 0', async () => {
    const { call, ran, storeErrors } = await spentOut()
    await server.kill()
    await server.start()
    await io.ping().catch(() => undefined)
    const deadline = Date.now() + 10_000
    let after = await burst(call, 6)
    // calls made while the client reconnects fail with StorageError too; wait until Redis answers
    while (after.errors.some((e) => !/lost the store's data/.test((e as Error).message)) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      after = await burst(call, 6)
    }
    expect(after.admitted).toBe(0)
    expect(ran()).toBe(2)
    for (const error of after.errors)
      expect(isStorageError(error) && /lost the store's data/.test((error as Error).message)).toBe(true)
    expect(storeErrors.length).toBeGreaterThan(0)
  })

  it('eviction of expiring ledger keys under volatile-lru: detected, nothing admitted', async () => {
    await io.config('SET', 'maxmemory-policy', 'volatile-lru')
    try {
      const { call, ran } = await spentOut()
      // evict every key with an expiry: a limit nothing fits under, one write, the limit lifted again
      await io.config('SET', 'maxmemory', '1')
      await io.set('filler', 'x').catch(() => undefined)
      await io.config('SET', 'maxmemory', '0')
      const after = await burst(call, 6)
      expect(after.admitted).toBe(0)
      expect(ran()).toBe(2)
      for (const error of after.errors)
        expect(isStorageError(error) && /evicted/.test((error as Error).message)).toBe(true)
    } finally {
      await io.config('SET', 'maxmemory', '0')
      await io.config('SET', 'maxmemory-policy', 'noeviction')
    }
  })

  it('refuses a server whose maxmemory policy can evict ledger keys, unless told to accept it', async () => {
    await io.config('SET', 'maxmemory', '1gb')
    try {
      for (const policy of ['volatile-lru', 'allkeys-lru']) {
        await io.config('SET', 'maxmemory-policy', policy)
        const store = redisStore({ client: io, prefix: `policy-${policy}-${n++}` })
        const error = await store.balances({ keys: ['k'], now: Date.now() }).catch((e: unknown) => e)
        expect(isStorageError(error) && new RegExp(`maxmemory-policy ${policy}`).test((error as Error).message)).toBe(
          true,
        )
        expect(await io.exists(`{policy-${policy}-${n - 1}}:epoch`)).toBe(0) // nothing written
        const accepting = redisStore({ client: io, prefix: `policy-ok-${n++}`, acceptEviction: true })
        expect(await accepting.balances({ keys: ['k'], now: Date.now() })).toEqual([{ spent: 0, reserved: 0 }])
      }
    } finally {
      await io.config('SET', 'maxmemory', '0')
      await io.config('SET', 'maxmemory-policy', 'noeviction')
    }
  })

  it("initialize: 'explicit' never starts from 0 by itself; startOver() is the operator's deliberate step", async () => {
    const prefix = `explicit-${n++}`
    const store = redisStore({ client: io, prefix, initialize: 'explicit', time: 'client' })
    const entries = [{ key: 'k', amount: 10, limit: 15, expiresAt: null }]
    await expect(store.reserve({ callId: 'a', now: 1, holdExpiresAt: 60_000, entries })).rejects.toThrow(
      /not initialized/,
    )
    await store.initialize()
    await store.commit({
      callId: 'a',
      now: 1,
      entries: [{ key: 'k', amount: 10, expiresAt: null }],
      dedupeUntil: 60_000,
    })
    const other = redisStore({ client: io, prefix, initialize: 'explicit', time: 'client' })
    expect(await other.balances({ keys: ['k'], now: 2 })).toEqual([{ spent: 10, reserved: 0 }])
    await io.flushall()
    // a new process after the loss: it does not create the epoch by itself
    const fresh = redisStore({ client: io, prefix, initialize: 'explicit', time: 'client' })
    await expect(fresh.balances({ keys: ['k'], now: 3 })).rejects.toThrow(/not initialized/)
    await expect(store.balances({ keys: ['k'], now: 3 })).rejects.toThrow(/lost the store's data/)
    // the operator accepts the loss: every running store adopts the new epoch
    await fresh.startOver()
    expect(await store.balances({ keys: ['k'], now: 4 })).toEqual([{ spent: 0, reserved: 0 }])
    expect(await other.reserve({ callId: 'b', now: 4, holdExpiresAt: 60_000, entries })).toMatchObject({
      ok: true,
      duplicate: false,
    })
  })

  it('startOver() after an eviction keeps what survived and stops reporting the evicted keys', async () => {
    await io.config('SET', 'maxmemory-policy', 'volatile-lru')
    try {
      const prefix = `over-${n++}`
      const store = redisStore({ client: io, prefix, time: 'client' })
      const far = Date.now() + 86_400_000
      await store.commit({
        callId: 'a',
        now: 1,
        entries: [
          { key: 'kept', amount: 7, expiresAt: null },
          { key: 'gone', amount: 5, expiresAt: far },
        ],
        dedupeUntil: 2,
      })
      await io.config('SET', 'maxmemory', '1')
      await io.set('filler', 'x').catch(() => undefined)
      await io.config('SET', 'maxmemory', '0')
      await expect(store.balances({ keys: ['gone'], now: 3 })).rejects.toThrow(/evicted/)
      await store.startOver()
      expect(await store.balances({ keys: ['kept', 'gone'], now: 3 })).toEqual([
        { spent: 7, reserved: 0 },
        { spent: 0, reserved: 0 },
      ])
    } finally {
      await io.config('SET', 'maxmemory', '0')
      await io.config('SET', 'maxmemory-policy', 'noeviction')
    }
  })
})
