// Redis killed (SIGKILL) in the middle of a run: calls fail with a typed StorageError, nothing is counted
// twice when it comes back (same port and data directory, AOF with fsync always), and the same store works
// again without being recreated.
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { afterEach, describe, expect, it } from 'vitest'
import { isStorageError } from '../../src/errors.js'
import { redisStore, type RedisStore } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const T0 = 1_800_000_000_000
const HOLD_TTL = 60_000
const AMOUNT = 1_000
const KEY = 'user:alice|usd'

let server: RedisServer | undefined
const cleanup: (() => Promise<void> | void)[] = []

afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn()
  await server?.stop()
  server = undefined
})

async function until(what: string, condition: () => Promise<boolean>, deadlineMs = 20_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await condition().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

type Outcome = 'committed' | 'reserve-failed' | 'commit-failed'

/** One call: reserve, then commit. Returns how far it got; any failure must be a StorageError. */
async function call(store: RedisStore, i: number): Promise<Outcome> {
  const callId = `c${i}`
  const now = T0 + i
  try {
    const r = await store.reserve({
      callId,
      now,
      holdExpiresAt: now + HOLD_TTL,
      entries: [{ key: KEY, amount: AMOUNT, limit: 1e15, expiresAt: null }],
    })
    expect(r.ok).toBe(true)
  } catch (error) {
    expect(isStorageError(error), String(error)).toBe(true)
    return 'reserve-failed'
  }
  try {
    await commit(store, i)
    return 'committed'
  } catch (error) {
    expect(isStorageError(error), String(error)).toBe(true)
    return 'commit-failed'
  }
}

function commit(store: RedisStore, i: number) {
  const callId = `c${i}`
  const now = T0 + i
  return store.commit({
    callId,
    now,
    entries: [{ key: KEY, amount: AMOUNT, expiresAt: null }],
    dedupeUntil: now + 86_400_000,
    record: { callId, startedAt: now, endedAt: now },
  })
}

const clients = {
  ioredis: async (port: number) => {
    const client = new Redis(port, '127.0.0.1')
    client.on('error', () => undefined)
    cleanup.push(() => client.disconnect())
    return client
  },
  'node-redis': async (port: number) => {
    const client = createClient({
      url: `redis://127.0.0.1:${port}`,
      socket: { reconnectStrategy: (retries: number) => Math.min(retries * 50, 500) },
    })
    client.on('error', () => undefined)
    await client.connect()
    cleanup.push(() => client.destroy())
    return client
  },
}

describe('redisStore when Redis goes down', () => {
  for (const [name, connect] of Object.entries(clients)) {
    it(`${name}: refuses with StorageError while down, counts nothing twice, recovers without a new store`, async () => {
      server = await startRedisServer({ appendonly: true, appendfsync: 'always' })
      const client = await connect(server.port)
      const store = redisStore({ client, prefix: 'outage', time: 'client', timeoutMs: 500 })
      const outcomes: Outcome[] = []
      const batch = async (from: number) => {
        const results = await Promise.all(Array.from({ length: 10 }, (_, j) => call(store, from + j)))
        outcomes.push(...results)
      }
      for (let b = 0; b < 10; b++) await batch(b * 10)
      // Kill Redis while a batch is in flight.
      const inFlight = batch(100)
      await server.kill()
      await inFlight
      for (let b = 11; b < 20; b++) await batch(b * 10)
      const failedWhileDown = outcomes.slice(110).filter((o) => o !== 'committed').length
      expect(failedWhileDown).toBe(90) // every call while down was refused with a StorageError

      await server.start()
      await until('the client to reconnect', async () => (await store.balances({ keys: [KEY], now: T0 })).length === 1)
      // The app retries the commits it could not confirm (same call id: counted at most once).
      const retried = await Promise.all(outcomes.map((o, i) => (o === 'commit-failed' ? commit(store, i) : null)))
      for (let b = 20; b < 30; b++) await batch(b * 10)
      expect(outcomes.slice(200).every((o) => o === 'committed')).toBe(true)

      const committed = outcomes.filter((o) => o !== 'reserve-failed').length
      const late = T0 + 300 + HOLD_TTL // after every hold, including any from a reserve whose reply was lost
      expect(await store.balances({ keys: [KEY], now: late })).toEqual([{ spent: committed * AMOUNT, reserved: 0 }])
      const records = await store.queryRecords({})
      expect(records.length).toBe(committed)
      expect(new Set(records.map((r) => r.callId)).size).toBe(committed)
      expect(retried.filter((r) => r !== null).length).toBe(outcomes.filter((o) => o === 'commit-failed').length)
      expect(committed).toBeGreaterThanOrEqual(200)
    })
  }
})
