#!/usr/bin/env node
// Redis losing its data during a burst must not switch budgets off. For each way of losing data (FLUSHALL, a
// restart without persistence, eviction of expiring keys under volatile-lru) and each round: a $2 daily budget,
// a burst of $0.10 calls through withBudget (10 in flight), the data lost once $1 is spent, the burst going on.
// Prints, per scenario, calls tried, admitted before and after the loss, the overspend (admitted beyond the
// budget: must be $0) and how many losses were detected (every call after the loss failed closed).
//
//   npm run soak:redis-loss                  (20 rounds per scenario)
//   SOAK_ROUNDS=100 npm run soak:redis-loss
//   LLM_BUDGET_DIST=/path/to/dist node scripts/soak-redis-loss.mjs   (another build; default ../dist)
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Redis } from 'ioredis'

const here = fileURLToPath(new URL('.', import.meta.url))
const dist = process.env.LLM_BUDGET_DIST ?? join(here, '..', 'dist')
const { BudgetManager, withBudget } = await import(pathToFileURL(join(dist, 'index.js')).href)
const { redisStore } = await import(pathToFileURL(join(dist, 'redis.js')).href)
const rounds = Number(process.env.SOAK_ROUNDS ?? 20)
const CALLS = 60
const IN_FLIGHT = 10
const BUDGET_NANO = 2_000_000_000
const CALL_NANO = 100_000_000

if (spawnSync('sh', ['-c', 'command -v redis-server']).status !== 0) {
  console.error('redis-server is not installed (apt-get install -y redis-server)')
  process.exit(1)
}
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port
    s.close(() => resolve(p))
  })
})
const dir = mkdtempSync(join(tmpdir(), 'llm-budget-soak-redis-'))
const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no']
let server = null
async function startServer() {
  server = spawn('redis-server', args, { stdio: 'ignore' })
  const probe = new Redis(port, '127.0.0.1', { retryStrategy: () => 20, maxRetriesPerRequest: null })
  probe.on('error', () => {})
  await probe.ping()
  probe.disconnect()
}
async function killServer() {
  const current = server
  current.kill('SIGKILL')
  await new Promise((resolve) => current.once('exit', resolve))
}
await startServer()
const admin = new Redis(port, '127.0.0.1', { retryStrategy: () => 20 })
admin.on('error', () => {})
const io = new Redis(port, '127.0.0.1', { retryStrategy: () => 20, maxRetriesPerRequest: 1 })
io.on('error', () => {})

const losses = {
  FLUSHALL: async () => {
    await admin.flushall()
  },
  'restart without persistence': async () => {
    await killServer()
    await startServer()
  },
  'eviction (volatile-lru)': async () => {
    await admin.config('SET', 'maxmemory-policy', 'volatile-lru')
    await admin.config('SET', 'maxmemory', '1')
    await admin.set('filler', 'x').catch(() => {})
    await admin.config('SET', 'maxmemory', '0')
  },
}

async function round(scenario, lose, r) {
  const prefix = `soak-${r}-${Date.now()}`
  const store = redisStore({ client: io, prefix, timeoutMs: 1000 })
  const manager = new BudgetManager({ store })
  let storeErrors = 0
  manager.on('store.error', () => storeErrors++)
  await manager.setBudget('user:alice', { maxBudget: BUDGET_NANO / 1e9, duration: 'daily' })
  const call = withBudget(async () => 'ok', {
    manager,
    context: { user: 'alice' },
    estimate: CALL_NANO / 1e9,
    cost: () => CALL_NANO / 1e9,
  })
  let next = 0
  let admittedBefore = 0
  let admittedAfter = 0
  let lostErrors = 0
  let otherErrors = 0
  let lost = false
  let losing = null
  const worker = async () => {
    while (next < CALLS) {
      next++
      const after = lost
      try {
        await call()
        if (after) admittedAfter++
        else admittedBefore++
        if (!lost && losing === null && admittedBefore * CALL_NANO >= BUDGET_NANO / 2) {
          losing = lose().then(() => {
            lost = true
          })
        }
      } catch (error) {
        if (/lost the store's data|evicted/.test(String(error?.message))) lostErrors++
        else if (!/budget/i.test(String(error?.code)) && error?.code !== 'BUDGET_EXCEEDED') otherErrors++
      }
      if (losing !== null && !lost) await losing
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
  if (losing !== null) await losing
  const admitted = admittedBefore + admittedAfter
  return {
    tried: CALLS,
    admittedBefore,
    admittedAfter,
    overspend: Math.max(0, admitted * CALL_NANO - BUDGET_NANO),
    detected: admittedAfter === 0 && lostErrors > 0,
    lostErrors,
    otherErrors,
    storeErrors,
  }
}

console.log(
  `redisStore losing its data during a burst: Redis ${(await admin.info('server')).match(/redis_version:(\S+)/)[1]}, ${rounds} rounds per scenario, $2 budget, ${CALLS} calls of $0.10, ${IN_FLIGHT} in flight, loss after $1\n`,
)
console.log(
  '| scenario | rounds | calls tried | admitted before the loss | admitted after the loss | overspend | losses detected | calls refused as lost | store.error events | other errors |',
)
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
let failed = false
for (const [scenario, lose] of Object.entries(losses)) {
  const total = {
    tried: 0,
    admittedBefore: 0,
    admittedAfter: 0,
    overspend: 0,
    detected: 0,
    lostErrors: 0,
    otherErrors: 0,
    storeErrors: 0,
  }
  for (let r = 0; r < rounds; r++) {
    const result = await round(scenario, lose, r)
    for (const key of Object.keys(total)) total[key] += key === 'detected' ? (result.detected ? 1 : 0) : result[key]
  }
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  if (total.overspend > 0 || total.detected !== rounds) failed = true
  console.log(
    `| ${scenario} | ${rounds} | ${total.tried} | ${total.admittedBefore} | ${total.admittedAfter} | $${(total.overspend / 1e9).toFixed(2)} | ${total.detected}/${rounds} | ${total.lostErrors} | ${total.storeErrors} | ${total.otherErrors} |`,
  )
}
io.disconnect()
admin.disconnect()
await killServer()
rmSync(dir, { recursive: true, force: true })
if (failed) {
  console.error('\nFAILED: a loss was not detected or a budget was overspent')
  process.exit(1)
}
