// Server time: instances whose local clocks disagree agree on windows and on hold expiry, and the keys of
// windows that have passed are gone from Redis.
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { isStorageError } from '../../src/errors.js'
import { redisStore, type RedisStore } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'

const DAY = 86_400_000
let server: RedisServer
let io: Redis

beforeAll(async () => {
  server = await startRedisServer({ hz: 100 })
  io = new Redis(server.port, '127.0.0.1')
})

afterAll(async () => {
  io?.disconnect()
  await server?.stop()
})

async function serverTime(): Promise<number> {
  const [seconds, micros] = await io.time()
  return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)
}

async function countKeys(prefix: string): Promise<number> {
  let cursor = '0'
  let count = 0
  do {
    const [next, keys] = await io.scan(cursor, 'MATCH', `{${prefix}}:*`, 'COUNT', 1000)
    cursor = next
    // the store's epoch and its registry of live keys stay (they have no expiry)
    count += keys.filter((key) => !key.endsWith(':epoch') && !key.endsWith(':live')).length
  } while (cursor !== '0')
  return count
}

async function until(what: string, condition: () => Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await condition())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

describe('redisStore server time', () => {
  it('clock follows the server time whatever the local clock says', async () => {
    const skewed = redisStore({ client: io, prefix: 'clock', localClock: { now: () => Date.now() + 7 * 3_600_000 } })
    await skewed.syncClock()
    expect(Math.abs(skewed.clock.now() - (await serverTime()))).toBeLessThan(1000)
    // Every script reply also carries the server time.
    const other = redisStore({ client: io, prefix: 'clock', localClock: { now: () => Date.now() - 3_600_000 } })
    await other.balances({ keys: ['k'], now: 0 })
    expect(Math.abs(other.clock.now() - (await serverTime()))).toBeLessThan(1000)
    // In client mode the clock is the local clock.
    const local = redisStore({ client: io, prefix: 'clock', time: 'client', localClock: { now: () => 42 } })
    expect(local.clock.now()).toBe(42)
  })

  it("a new process whose local clock is 24 h ahead admits nothing against tomorrow's window before its clock is synced", async () => {
    const prefix = `ahead-${Date.now()}`
    const admin = new BudgetManager({ store: redisStore({ client: io, prefix, time: 'client' }) })
    await admin.setBudget('user:alice', { maxBudget: 2, duration: 'daily' })
    // the new process: its manager takes the store's clock, which has no server sample yet
    const store = redisStore({ client: io, prefix, localClock: { now: () => Date.now() + DAY } })
    const manager = new BudgetManager({ store })
    let ran = 0
    const call = withBudget(async () => ++ran, { manager, context: { user: 'alice' }, estimate: 1, cost: () => 1 })
    const first = await Promise.allSettled(Array.from({ length: 6 }, () => call()))
    for (const r of first)
      if (r.status === 'rejected')
        expect(isStorageError(r.reason) || /BUDGET_EXCEEDED/.test(String((r.reason as { code?: string }).code))).toBe(
          true,
        )
    const second = await Promise.allSettled(Array.from({ length: 6 }, () => call()))
    const admitted = [...first, ...second].filter((r) => r.status === 'fulfilled').length
    expect({ admitted, ran }).toEqual({ admitted: 2, ran: 2 })
    // all of it in today's window on the server's clock, nothing in tomorrow's
    const today = await admin.getStatus('user:alice')
    expect(today.exact.spend).toBe('2.000000000')
  })

  it('two stores whose local clocks differ by 5 minutes around a daily boundary charge every call to the same window', async () => {
    const real = Date.now()
    // Local clocks: A reads 23:57:30, B reads 00:02:30 the next day (UTC); the true time is the server's.
    const shiftA = Math.ceil(real / DAY) * DAY - 150_000 - real
    const clocks = [{ now: () => Date.now() + shiftA }, { now: () => Date.now() + shiftA + 300_000 }]
    expect(Math.floor(clocks[0]!.now() / DAY)).not.toBe(Math.floor(clocks[1]!.now() / DAY)) // local clocks disagree
    const prefix = `window-${real}`
    const stores = clocks.map((localClock) => redisStore({ client: io, prefix, localClock }))
    await Promise.all(stores.map((s) => s.syncClock()))
    const windows = new Set<string>()
    await Promise.all(
      stores.flatMap((store, s) =>
        Array.from({ length: 50 }, async (_, i) => {
          const now = store.clock.now()
          const windowStart = Math.floor(now / DAY) * DAY
          const key = `user:alice|d:${new Date(windowStart).toISOString().slice(0, 10)}|usd`
          windows.add(key)
          const callId = `s${s}-${i}`
          const r = await store.reserve({
            callId,
            now,
            holdExpiresAt: now + 60_000,
            entries: [{ key, amount: 1, limit: 1000, expiresAt: windowStart + DAY }],
          })
          expect(r.ok).toBe(true)
          await store.commit({
            callId,
            now: store.clock.now(),
            entries: [{ key, amount: 1, expiresAt: windowStart + DAY }],
            dedupeUntil: now + 60_000,
          })
        }),
      ),
    )
    const serverDay = new Date(Math.floor((await serverTime()) / DAY) * DAY).toISOString().slice(0, 10)
    expect([...windows]).toEqual([`user:alice|d:${serverDay}|usd`])
    expect(await stores[0]!.balances({ keys: [...windows], now: stores[0]!.clock.now() })).toEqual([
      { spent: 100, reserved: 0 },
    ])
  })

  it('a hold lasts its TTL on the server clock even when the reserving instance runs 10 minutes late', async () => {
    const late = -600_000
    for (const time of ['server', 'client'] as const) {
      const prefix = `hold-${time}-${Date.now()}`
      // this instance is allowed to run 10 minutes off the server (by default a reservation more than a minute off is refused)
      const lateStore = redisStore({ client: io, prefix, time, maxClockSkewMs: 900_000 })
      const onTime = redisStore({ client: io, prefix, time })
      const lateNow = Date.now() + late
      await lateStore.reserve({
        callId: 'c1',
        now: lateNow,
        holdExpiresAt: lateNow + 60_000,
        entries: [{ key: 'k', amount: 100, limit: 100, expiresAt: null }],
      })
      const second = await onTime.reserve({
        callId: 'c2',
        now: Date.now(),
        holdExpiresAt: Date.now() + 60_000,
        entries: [{ key: 'k', amount: 100, limit: 100, expiresAt: null }],
      })
      // With server time the first hold still counts and the second call is refused; with the callers'
      // clocks the late instance's hold looks expired to the other one, which is admitted too.
      expect({ time, ok: second.ok }).toEqual({ time, ok: time === 'client' })
    }
  })

  it('after the windows of 10,000 scopes have passed, their keys are gone', async () => {
    const scopes = 10_000
    const write = (target: RedisStore, i: number, windowEnd: number) => {
      const now = target.clock.now()
      const key = `user:u${i}|w|usd`
      const entries = [{ key, amount: 10, limit: 1000, expiresAt: windowEnd }]
      return target.reserve({ callId: `c${i}`, now, holdExpiresAt: windowEnd - 1000, entries }).then(async () => {
        // Every 10th call never finishes: its hold must expire with the rest.
        if (i % 10 !== 0) await target.commit({ callId: `c${i}`, now, entries, dedupeUntil: windowEnd })
      })
    }
    // One window for every scope, ending at one instant (as a real window ends for all scopes). It must end after
    // the 10,000 writes have finished (and the holds, which end 1 s before it, after the balances are read), and the
    // test then waits for it: its length is twice what the writes take on this machine now, estimated from 500 of the
    // same writes under another prefix, at least 5 s. On a machine whose load rises during the writes (seen at load
    // average 10-22) they can still outlast it: then the attempt is abandoned under its own prefix (its keys expire
    // as well) and made again with a window twice as long, up to 60 s; the checks below run on an attempt whose
    // writes all finished inside their window with time to spare.
    let prefix = ''
    let store: RedisStore | undefined
    let estimate = 0
    for (let attempt = 0; store === undefined; attempt++) {
      prefix = `expiry-${Date.now()}-${attempt}`
      const target = redisStore({ client: io, prefix, expiryMarginMs: 0, maxRecords: 0 })
      await target.syncClock()
      if (attempt === 0) {
        const probe = redisStore({ client: io, prefix: `${prefix}-probe`, expiryMarginMs: 0, maxRecords: 0 })
        await probe.syncClock()
        const probeStart = Date.now()
        await Promise.all(Array.from({ length: 500 }, (_, i) => write(probe, i, probe.clock.now() + 60_000)))
        estimate = ((Date.now() - probeStart) * scopes) / 500
      }
      const length = Math.min(60_000, Math.max(5_000, 2 * estimate) * 2 ** attempt)
      const writesStart = target.clock.now()
      const windowEnd = writesStart + length
      for (let batch = 0; batch < scopes; batch += 500)
        await Promise.all(Array.from({ length: 500 }, (_, j) => write(target, batch + j, windowEnd)))
      // The checks before the holds end (a count of 20,000 keys, two balances) need time too: at least 1 s, and half
      // of what the writes took, left.
      const written = target.clock.now()
      if (windowEnd - 1000 - written >= Math.max(1000, (written - writesStart) / 2)) store = target
      else if (length === 60_000)
        throw new Error('the 10,000 writes did not finish before the holds of a 60 s window end')
    }
    // Hash per scope (holds are fields of it), call record per call.
    expect(await countKeys(prefix)).toBe(scopes * 2)
    const sample = await store.balances({ keys: ['user:u1|w|usd', 'user:u0|w|usd'], now: store.clock.now() })
    expect(sample).toEqual([
      { spent: 10, reserved: 0 },
      { spent: 0, reserved: 10 },
    ])
    await until('the keys of 10,000 past windows to expire', async () => (await countKeys(prefix)) === 0, 90_000)
    expect(await store.balances({ keys: ['user:u1|w|usd', 'user:u0|w|usd'], now: store.clock.now() })).toEqual([
      { spent: 0, reserved: 0 },
      { spent: 0, reserved: 0 },
    ])
  }, 240_000)
})
