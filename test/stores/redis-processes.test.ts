// Several processes reserving against one Redis at once: the budget is enforced across all of them.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { redisStore } from '../../src/stores/redis.js'
import { redisForSuite } from '../helpers/shared-stores.js'
import { bundleWorker, type WorkerBundle } from '../helpers/worker-bundle.js'

const WORKER = fileURLToPath(new URL('./redis-worker.ts', import.meta.url))
// Each worker process runs the worker bundled into one JavaScript file (no tsx loader per process).
let worker: WorkerBundle
beforeAll(async () => {
  worker = await bundleWorker(WORKER)
})
afterAll(() => worker?.remove())
const CENT = 10_000_000 // $0.01 in nano-USD

const suite = redisForSuite()

interface WorkerJob {
  port: number
  prefix: string
  calls: number
  amount: number
  keys: { key: string; limit: number | null }[]
  client: 'ioredis' | 'node-redis'
}

/** Starts one worker per job, releases them together, and returns how many calls each admitted. */
async function runWorkers(jobs: WorkerJob[]): Promise<number[]> {
  const workers = jobs.map((job) => {
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
  const ready = workers.map((w) => w.next())
  expect(await Promise.all(ready)).toEqual(jobs.map(() => 'ready'))
  const results = workers.map((w) => w.next())
  for (const w of workers) w.child.stdin.write('go\n')
  const out = await Promise.all(results)
  for (const w of workers) w.child.stdin.end()
  return out.map((line) => (JSON.parse(line) as { admitted: number }).admitted)
}

describe('redisStore across processes', () => {
  it('4 processes x 250 concurrent $0.01 reservations against $5: exactly 500 admitted, $5.000000000 spent, no holds', async () => {
    const prefix = `procs-${Date.now()}`
    const key = 'user:shared|d|usd'
    const admitted = await runWorkers(
      [0, 1, 2, 3].map((i) => ({
        port: suite.server.port,
        prefix,
        calls: 250,
        amount: CENT,
        keys: [{ key, limit: 5_000_000_000 }],
        client: i % 2 === 0 ? 'ioredis' : 'node-redis',
      })),
    )
    expect(admitted.reduce((a, b) => a + b, 0)).toBe(500)
    const store = redisStore({ client: suite.io, prefix })
    await store.syncClock()
    expect(await store.balances({ keys: [key], now: store.clock.now() })).toEqual([
      { spent: 5_000_000_000, reserved: 0 },
    ])
    expect(await suite.io.hget(`{${prefix}}:k:${key}`, 's')).toBe('5000000000')
  })

  it('user, team and org budgets of different sizes hold across 4 processes', async () => {
    const prefix = `procs-scopes-${Date.now()}`
    const org = { key: 'org:acme|usd', limit: 4_500_000_000 } // 450 calls
    const teams = [
      { key: 'team:a|usd', limit: 2_000_000_000 },
      { key: 'team:b|usd', limit: 4_000_000_000 },
    ] // 200, 400
    const users = [0, 1, 2, 3].map((i) => ({ key: `user:u${i}|usd`, limit: 1_500_000_000 })) // 150 each
    const jobs = users.map((user, i) => ({
      port: suite.server.port,
      prefix,
      calls: 250,
      amount: CENT,
      keys: [user, teams[i < 2 ? 0 : 1]!, org],
      client: (i % 2 === 0 ? 'node-redis' : 'ioredis') as WorkerJob['client'],
    }))
    const admitted = await runWorkers(jobs)
    const store = redisStore({ client: suite.io, prefix })
    const now = store.clock.now()
    const [orgBalance, teamA, teamB, ...userBalances] = await store.balances({
      keys: [org.key, teams[0]!.key, teams[1]!.key, ...users.map((u) => u.key)],
      now,
    })
    // Demand: team a can admit at most 200 (its limit), team b 300 (its two users' 150 each), 500 in all:
    // the org's 450 is the binding limit, so exactly 450 calls are admitted.
    expect(admitted.reduce((a, b) => a + b, 0)).toBe(450)
    expect(orgBalance).toEqual({ spent: 4_500_000_000, reserved: 0 })
    expect(teamA!.spent).toBeLessThanOrEqual(2_000_000_000)
    expect(teamB!.spent).toBeLessThanOrEqual(4_000_000_000)
    expect(teamA!.spent + teamB!.spent).toBe(4_500_000_000)
    for (const [i, balance] of userBalances.entries()) {
      expect(balance.spent).toBe(admitted[i]! * CENT)
      expect(balance.spent).toBeLessThanOrEqual(1_500_000_000)
      expect(balance.reserved).toBe(0)
    }
    expect(teamA!.reserved + teamB!.reserved).toBe(0)
  })
})
