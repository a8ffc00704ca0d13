// withBudget overhead (reserve + commit on 4 scopes, memoryStore), flat as records accumulate, side by side
// with llm-spend-guard (checkBudget + recordUsage) and llm-cost-guard (track); memory of 100,000 active scopes.
// Run: npm run build && node --expose-gc bench/budget.bench.mjs   (or npm run bench -- budget)
// LLM_BUDGET_DIST=/path/to/dist overrides where llm-budget is imported from.
// Each subject's code is warmed up on two throwaway instances first (WARMUP calls in all), so the "1st record" column
// measures a fresh store with compiled code, as the later columns do, rather than the JIT's first tiers. Two, because
// with one, the measured instance's new closures made V8 deoptimize ("code dependencies") and compile again over its
// first ~7,000 calls (10-70 us each, a third of the 1st column's batches, so its median flipped between runs).
import { createRequire } from 'node:module'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

const dist = process.env.LLM_BUDGET_DIST ?? new URL('../dist', import.meta.url).pathname
const { BudgetManager, withBudget, memoryStore } = await import(`${dist}/index.js`)
// Both peers are loaded as CommonJS (llm-cost-guard's ESM build has extension-less imports Node cannot resolve).
const require = createRequire(import.meta.url)
const spendGuard = require('llm-spend-guard')
const costGuard = require('llm-cost-guard')

const gc = globalThis.gc ?? (() => {})
const BATCH = 1000
const BATCHES = 21

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Median microseconds per call over BATCHES batches of BATCH sequential awaited calls. */
async function measure(call, batch = BATCH, batches = BATCHES) {
  const perCall = []
  for (let b = 0; b < batches; b++) {
    const start = performance.now()
    for (let i = 0; i < batch; i++) await call(i)
    perCall.push(((performance.now() - start) * 1000) / batch)
  }
  return median(perCall)
}

/**
 * Median microseconds of CPU time (user + system, the whole process) per call of each of two subjects, over BATCHES
 * batches of BATCH calls each, the two subjects' batches alternating (and which goes first alternating too). Both are
 * measured in the same seconds, so a change of the machine's load or clock speed falls on both; and CPU time, not wall
 * time, so the time the process spends descheduled on a shared machine counts for neither.
 */
async function measurePair(a, b, batch = BATCH, batches = BATCHES) {
  const perCall = [[], []]
  for (let k = 0; k < batches; k++) {
    const order = k % 2 === 0 ? [0, 1] : [1, 0]
    for (const j of order) {
      const subject = j === 0 ? a : b
      const start = process.cpuUsage()
      for (let i = 0; i < batch; i++) await subject.call()
      const used = process.cpuUsage(start)
      perCall[j].push((used.user + used.system) / batch)
    }
  }
  return perCall.map(median)
}

/** Runs `calls` calls on two throwaway instances of a subject, so that its code is compiled before it is measured. */
async function warmUp(makeSubject, calls) {
  for (let k = 0; k < 2; k++) {
    const subject = await makeSubject()
    for (let i = 0; i < calls / 2; i++) await subject.call()
  }
}

/** Makes calls on a subject until it has made `target` calls. */
async function advance(subject, target) {
  while (subject.count < target) await subject.call()
}

/** Advances a subject to `target` calls made, then measures (wall time). */
async function at(subject, target, batch, batches) {
  await advance(subject, target)
  return measure(() => subject.call(), batch, batches)
}

// ----------------------------------------------------------------------------------------------- llm-budget
async function ours() {
  const manager = new BudgetManager({ store: memoryStore() })
  await manager.setBudget('org:acme', { maxBudget: 1_000_000, duration: 'monthly' })
  await manager.setBudget('team:search', { maxBudget: 100_000, duration: 'monthly' })
  await manager.setBudget('user:alice', { maxBudget: 50_000, duration: 'daily' })
  await manager.setBudget('key:sk-1', { maxBudget: 10_000 })
  const fn = withBudget(async () => 1, {
    manager,
    context: { org: 'acme', team: 'search', user: 'alice', key: 'sk-1' },
    estimate: 0.002,
    cost: () => 0.0015,
  })
  const subject = { count: 0, call: () => (subject.count++, fn()) }
  return subject
}

// ----------------------------------------------------------------------------------------------- peers
function spendGuardSubject() {
  const manager = new spendGuard.BudgetManager({
    globalBudgetTokens: 1e15,
    userBudgetTokens: 1e15,
    sessionBudgetTokens: 1e15,
    dailyBudgetTokens: 1e15,
  })
  const ctx = { userId: 'alice', sessionId: 's1', route: '/chat' }
  const subject = {
    count: 0,
    call: async () => {
      subject.count++
      await manager.checkBudget(100, ctx)
      await manager.recordUsage(100, ctx)
    },
  }
  return subject
}

function costGuardSubject() {
  const day = 86_400_000
  const guard = costGuard.createGuard({
    budgets: [
      { id: 'global', limitUsd: 1e9, windowMs: 30 * day, scopeBy: 'global' },
      { id: 'user', limitUsd: 1e9, windowMs: day, scopeBy: 'user' },
      { id: 'feature', limitUsd: 1e9, windowMs: day, scopeBy: 'feature' },
      { id: 'user-feature', limitUsd: 1e9, windowMs: day, scopeBy: 'user_feature' },
    ],
    pricing: { 'gpt-4o': { inputPerMillionUsd: 2.5, outputPerMillionUsd: 10 } },
  })
  const subject = {
    count: 0,
    call: async () => {
      subject.count++
      await guard.track({ model: 'gpt-4o', inputTokens: 100, outputTokens: 50, userId: 'alice', feature: 'chat' })
    },
  }
  return subject
}

if (process.argv.includes('--memory')) {
  await measureMemory()
} else {
  const rows = []
  const fmt = (us) => (us === null ? 'n/a' : us < 10 ? us.toFixed(2) : us.toFixed(0))

  const WARMUP = 20_000
  {
    // llm-budget and llm-spend-guard side by side: both advanced to the same record count, then measured in
    // alternating batches (measurePair).
    await warmUp(ours, WARMUP)
    await warmUp(spendGuardSubject, WARMUP)
    const subject = await ours()
    const peer = spendGuardSubject()
    const columns = []
    for (const target of [0, 100_000, 1_000_000]) {
      await advance(subject, target)
      await advance(peer, target)
      columns.push(await measurePair(subject, peer))
    }
    rows.push(['llm-budget withBudget, 4 scopes (reserve + commit, atomic)', ...columns.map((c) => c[0])])
    rows.push(['llm-spend-guard checkBudget + recordUsage (not atomic)', ...columns.map((c) => c[1])])
  }
  {
    // llm-cost-guard scans every stored event on each track: measured at 1, 10k and 20k events (100k would take hours).
    await warmUp(costGuardSubject, 2_000)
    const subject = costGuardSubject()
    const first = await at(subject, 0, 100, 11)
    const tenK = await at(subject, 10_000, 100, 5)
    const twentyK = await at(subject, 20_000, 100, 5)
    rows.push(['llm-cost-guard track (events 1 / 10k / 20k)', first, tenK, twentyK])
  }

  console.log(
    '(llm-budget and llm-spend-guard: CPU time, measured in alternating batches; llm-cost-guard: wall time)\n',
  )
  console.log('| subject | us/call at 1st record | at 100k-th | at 1M-th |')
  console.log('|---|---:|---:|---:|')
  for (const [name, a, b, c] of rows) console.log(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${fmt(c)} |`)
  const ourRow = rows[0]
  console.log(
    `\nllm-budget vs llm-spend-guard (target <= 0.2x): ${[1, 2, 3].map((c) => `${(ourRow[c] / rows[1][c]).toFixed(2)}x`).join(' / ')} at the 1st / 100k-th / 1M-th call; target <= 5 us per call: ${ourRow.slice(1).every((v) => v <= 5) ? 'met' : 'NOT met'}`,
  )
  const { spawnSync } = await import('node:child_process')
  const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--memory'], {
    stdio: 'inherit',
    env: process.env,
  })
  if (child.status !== 0) process.exitCode = 1
}

// ----------------------------------------------------------------------------------------------- memory
// Measured in a fresh child process, so that nothing the timing runs left behind counts.
async function measureMemory() {
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  const manager = new BudgetManager({ store: memoryStore({ maxRecords: 0 }) })
  const scopes = 100_000
  for (let i = 0; i < scopes; i++)
    await manager.setBudget({ type: 'user', id: `user-${i}` }, { maxBudget: 10, duration: 'monthly' })
  for (let i = 0; i < scopes; i++) await (await manager.reserve({ user: `user-${i}` }, 0.01)).commit(0.005)
  gc()
  gc()
  const after = process.memoryUsage().heapUsed
  const mb = (after - before) / 1024 / 1024
  console.log('\n| memory | heapUsed delta | target |')
  console.log('|---|---:|---:|')
  console.log(
    `| 100,000 active user scopes (stored budget, cached definition, one monthly ledger key, one committed call each) | ${mb.toFixed(1)} MB | < 100 MB ${mb < 100 ? '(met)' : '(NOT met)'} |`,
  )
  if (manager.store === undefined) console.log('')
}
