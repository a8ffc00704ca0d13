// BudgetManager and withBudget on redisStore: several processes, skewed clocks around a daily boundary, and
// Redis going down between calls.
import type { ScopeString } from '../../src/budget/scopes.js'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager, withBudget } from '../../src/budget/index.js'
import { isStorageError } from '../../src/errors.js'
import { redisStore } from '../../src/stores/redis.js'
import { startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { bundleWorker, type WorkerBundle } from '../helpers/worker-bundle.js'

const WORKER = fileURLToPath(new URL('./redis-manager-worker.ts', import.meta.url))
// Each worker process runs the worker bundled into one JavaScript file (no tsx loader per process).
let worker: WorkerBundle
beforeAll(async () => {
  worker = await bundleWorker(WORKER)
})
afterAll(() => worker?.remove())
const DAY = 86_400_000

let server: RedisServer
let io: Redis

beforeAll(async () => {
  server = await startRedisServer({ appendonly: true, appendfsync: 'always' })
  io = new Redis(server.port, '127.0.0.1')
  io.on('error', () => undefined)
})

afterAll(async () => {
  io?.disconnect()
  await server?.stop()
})

async function runWorkers(prefix: string, contexts: Record<string, string>[]): Promise<number[]> {
  const workers = contexts.map((context, i) => {
    const job = { port: server.port, prefix, calls: 250, context, client: i % 2 === 0 ? 'ioredis' : 'node-redis' }
    const child = spawn(process.execPath, [worker.path, JSON.stringify(job)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    })
    const lines = createInterface({ input: child.stdout })
    const next = (): Promise<string> =>
      new Promise((resolve, reject) => {
        lines.once('line', resolve)
        child.once('exit', (code) => reject(new Error(`worker exited with ${code}`)))
      })
    return { child, next }
  })
  expect(await Promise.all(workers.map((w) => w.next()))).toEqual(contexts.map(() => 'ready'))
  const results = workers.map((w) => w.next())
  for (const w of workers) w.child.stdin.write('go\n')
  const out = (await Promise.all(results)).map(
    (line) => JSON.parse(line) as { admitted: number; otherErrors: string[] },
  )
  for (const w of workers) w.child.stdin.end()
  for (const o of out) expect(o.otherErrors).toEqual([])
  return out.map((o) => o.admitted)
}

describe('BudgetManager on redisStore', () => {
  it('4 processes x 250 withBudget calls of $0.01 against one $5 daily budget: exactly 500 admitted, $5.000000000 spent', async () => {
    const prefix = `mgr-one-${Date.now()}`
    const manager = new BudgetManager({ store: redisStore({ client: io, prefix }) })
    await manager.setBudget('team:search', { maxBudget: 5, duration: 'daily' })
    const admitted = await runWorkers(
      prefix,
      [0, 1, 2, 3].map((i) => ({ user: `u${i}`, team: 'search' })),
    )
    expect(admitted.reduce((a, b) => a + b, 0)).toBe(500)
    const status = await manager.getStatus('team:search')
    expect(status.exact.spend).toBe('5.000000000')
    expect(status.reserved).toBe(0)
  })

  it('user, team and org budgets of different sizes across 4 processes', async () => {
    const prefix = `mgr-scopes-${Date.now()}`
    const manager = new BudgetManager({ store: redisStore({ client: io, prefix }) })
    await manager.setBudget('org:acme', { maxBudget: 4.5, duration: 'daily' })
    await manager.setBudget('team:a', { maxBudget: 2, duration: 'daily' })
    await manager.setBudget('team:b', { maxBudget: 4, duration: 'monthly' })
    for (let i = 0; i < 4; i++) await manager.setBudget(`user:u${i}`, { maxBudget: 1.5, duration: 'daily' })
    const contexts = [0, 1, 2, 3].map((i) => ({ user: `u${i}`, team: i < 2 ? 'a' : 'b', org: 'acme' }))
    const admitted = await runWorkers(prefix, contexts)
    const exact = async (scope: ScopeString) => (await manager.getStatus(scope)).exact.spend
    // team a admits at most 200 calls, team b at most 300 (its users' 150 each): 500 wanted, the org's 450 binds.
    expect(admitted.reduce((a, b) => a + b, 0)).toBe(450)
    expect(await exact('org:acme')).toBe('4.500000000')
    const [a, b] = [Number(await exact('team:a')), Number(await exact('team:b'))]
    expect(a).toBeLessThanOrEqual(2)
    expect(Math.round((a + b) * 100)).toBe(450)
    for (let i = 0; i < 4; i++) {
      const status = await manager.getStatus(`user:u${i}`)
      expect(Math.round(status.spend * 100)).toBe(admitted[i])
      expect(status.spend).toBeLessThanOrEqual(1.5)
      expect(status.reserved).toBe(0)
    }
  })

  it('two managers whose clocks differ by 5 minutes around a daily boundary charge every call to the same window', async () => {
    const prefix = `mgr-skew-${Date.now()}`
    const real = Date.now()
    const shift = Math.ceil(real / DAY) * DAY - 150_000 - real // local clocks read 23:57:30 and 00:02:30 UTC
    const managers = await Promise.all(
      [0, 300_000].map(async (extra) => {
        const store = redisStore({ client: io, prefix, localClock: { now: () => Date.now() + shift + extra } })
        await store.syncClock()
        return new BudgetManager({ store })
      }),
    )
    await managers[0]!.setBudget('user:alice', { maxBudget: 100, duration: 'daily' })
    const calls = managers.map((manager) =>
      withBudget(async () => 'x', { manager, context: { user: 'alice' }, estimate: 0.01, cost: () => 0.01 }),
    )
    await Promise.all(Array.from({ length: 100 }, (_, i) => calls[i % 2]!()))
    const [seconds] = await io.time()
    const serverDayStart = Math.floor((Number(seconds) * 1000) / DAY) * DAY
    for (const manager of managers) {
      const status = await manager.getStatus('user:alice')
      expect(status.windowStart?.getTime()).toBe(serverDayStart)
      expect(status.exact.spend).toBe('1.000000000') // all 100 calls in this one window
    }
  })

  it('Redis down: calls refused with StorageError (onStoreError deny), nothing double counted, recovery without a new manager', async () => {
    const prefix = `mgr-outage-${Date.now()}`
    const store = redisStore({ client: io, prefix, timeoutMs: 500 })
    const manager = new BudgetManager({ store })
    await manager.setBudget('user:bob', { maxBudget: 10, duration: 'daily' })
    let ran = 0
    const call = withBudget(async () => ++ran, { manager, context: { user: 'bob' }, estimate: 0.01, cost: () => 0.01 })
    for (let i = 0; i < 20; i++) await call()
    await server.kill()
    const down = await Promise.allSettled(Array.from({ length: 20 }, () => call()))
    for (const r of down) expect(r.status === 'rejected' && isStorageError(r.reason)).toBe(true)
    expect(ran).toBe(20) // no call ran unguarded
    await server.start()
    const deadline = Date.now() + 20_000
    for (;;) {
      try {
        await call()
        break
      } catch (error) {
        expect(isStorageError(error)).toBe(true)
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
    for (let i = 0; i < 19; i++) await call()
    expect(ran).toBe(40)
    const status = await manager.getStatus('user:bob')
    expect(status.exact.spend).toBe('0.400000000')
    expect(status.reserved).toBe(0)
  })
})
