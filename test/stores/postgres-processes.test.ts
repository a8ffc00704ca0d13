// PostgreSQL shared by several processes, and PostgreSQL killed (SIGKILL) in the middle of a burst: the budget holds
// across processes, calls fail with a typed StorageError while the server is down, nothing is counted twice, and
// the same store (same pool) works again once the server is back.
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { isStorageError } from '../../src/errors.js'
import { postgresStore, type PostgresStore } from '../../src/stores/postgres.js'
import { startPostgresServer, type PostgresServer } from '../helpers/postgres-server.js'
import { bundleWorker, type WorkerBundle } from '../helpers/worker-bundle.js'

const WORKER = fileURLToPath(new URL('./postgres-worker.ts', import.meta.url))
// Each worker process runs the worker bundled into one JavaScript file (no tsx loader per process).
let worker: WorkerBundle
beforeAll(async () => {
  worker = await bundleWorker(WORKER)
})
afterAll(() => worker?.remove())
const CENT = 10_000_000 // $0.01 in nano-USD

let server: PostgresServer
let pool: pg.Pool

beforeAll(async () => {
  server = await startPostgresServer()
  pool = new pg.Pool({ connectionString: server.url, max: 10 })
  pool.on('error', () => undefined)
}, 60_000)

afterAll(async () => {
  await pool?.end()
  await server?.stop()
})

describe('postgresStore across processes', () => {
  it('4 processes x 250 concurrent $0.01 calls against $5: exactly 500 admitted, $5.000000000 spent, nothing held', async () => {
    const key = 'u:shared|all|usd'
    const job = { url: server.url, calls: 250, amount: CENT, key, limit: 5_000_000_000 }
    const workers = [0, 1, 2, 3].map(() => {
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
    expect(await Promise.all(workers.map((w) => w.next()))).toEqual(['ready', 'ready', 'ready', 'ready'])
    const results = workers.map((w) => w.next())
    for (const w of workers) w.child.stdin.write('go\n')
    const admitted = (await Promise.all(results)).map((line) => (JSON.parse(line) as { admitted: number }).admitted)
    for (const w of workers) w.child.stdin.end()
    expect(admitted.reduce((a, b) => a + b, 0)).toBe(500)
    const store = postgresStore({ pool })
    expect(await store.balances({ keys: [key], now: Date.now() })).toEqual([{ spent: 5_000_000_000, reserved: 0 }])
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, sum(spend_nano_usd)::text AS nano, sum(spend)::text AS usd FROM llm_budget_spend_logs WHERE "user" = 'shared'`,
    )
    expect(rows[0]).toEqual({ n: 500, nano: '5000000000', usd: '5.000000000' })
    const rollups = await store.queryRollups({ scopes: ['user:shared'] })
    expect(rollups.rows.reduce((n, r) => n + r.calls, 0)).toBe(500)
    expect((await pool.query('SELECT count(*)::int AS n FROM llm_budget_holds')).rows[0].n).toBe(0)
  }, 120_000)
})

const T0 = 1_800_000_000_000
const HOLD_TTL = 60_000
const AMOUNT = 1_000
const KEY = 'u:alice|all|usd'

type Outcome = 'committed' | 'reserve-failed' | 'commit-failed'

function commit(store: PostgresStore, i: number) {
  const callId = `k${i}`
  const now = T0 + i
  return store.commit({
    callId,
    now,
    entries: [{ key: KEY, amount: AMOUNT, expiresAt: null }],
    dedupeUntil: now + 86_400_000,
    record: { callId, startedAt: now, endedAt: now, costNanoUsd: AMOUNT, context: { user: 'alice' } },
  })
}

/** One call: reserve, then commit. Returns how far it got; any failure must be a StorageError. */
async function call(store: PostgresStore, i: number): Promise<Outcome> {
  const now = T0 + i
  try {
    const r = await store.reserve({
      callId: `k${i}`,
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

async function until(what: string, condition: () => Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const end = Date.now() + deadlineMs
  while (!(await condition().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('postgresStore when PostgreSQL is killed', () => {
  it('refuses with StorageError while down, counts nothing twice, recovers without a new store or pool', async () => {
    const store = postgresStore({ pool })
    const outcomes: Outcome[] = []
    const batch = async (from: number): Promise<void> => {
      outcomes.push(...(await Promise.all(Array.from({ length: 10 }, (_, j) => call(store, from + j)))))
    }
    for (let b = 0; b < 10; b++) await batch(b * 10)
    // SIGKILL to every PostgreSQL process while a batch is in flight.
    const inFlight = batch(100)
    await server.kill()
    await inFlight
    for (let b = 11; b < 20; b++) await batch(b * 10)
    expect(outcomes.slice(110).filter((o) => o !== 'committed').length).toBe(90) // every call while down was refused
    expect(outcomes.slice(110).every((o) => o === 'reserve-failed')).toBe(true)

    await server.start() // crash recovery replays the WAL
    await until('the pool to reconnect', async () => (await store.balances({ keys: [KEY], now: T0 })).length === 1)
    // The app retries the commits it could not confirm (same call id: counted at most once).
    const retried = await Promise.all(outcomes.map((o, i) => (o === 'commit-failed' ? commit(store, i) : null)))
    for (let b = 20; b < 30; b++) await batch(b * 10)
    expect(outcomes.slice(200).every((o) => o === 'committed')).toBe(true)

    const committed = outcomes.filter((o) => o !== 'reserve-failed').length
    const late = T0 + 300 + HOLD_TTL // after every hold, including any from a reserve whose reply was lost
    expect(await store.balances({ keys: [KEY], now: late })).toEqual([{ spent: committed * AMOUNT, reserved: 0 }])
    // This test's records (the first test's calls are in the same database).
    const records = (await store.queryRecords({})).filter((r) => r.callId.startsWith('k'))
    expect(records.length).toBe(committed)
    expect(new Set(records.map((r) => r.callId)).size).toBe(committed)
    const rollups = await store.queryRollups({ scopes: ['user:alice'] })
    expect(rollups.rows.reduce((n, r) => [n[0]! + r.calls, n[1]! + r.costNanoUsd], [0, 0])).toEqual([
      committed,
      committed * AMOUNT,
    ])
    expect(retried.filter((r) => r !== null).length).toBe(outcomes.filter((o) => o === 'commit-failed').length)
    expect(committed).toBeGreaterThanOrEqual(200)
  }, 120_000)
})
