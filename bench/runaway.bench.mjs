// Runaway protection overhead: withBudget (reserve + commit on 4 scopes, memoryStore) with no burst and no run (the
// baseline, in the same process), with a burst window on one scope, in a run, in a run 3 levels deep, and the
// baseline again once a run has turned AsyncLocalStorage on (on Node before 24 that turns promise hooks on for the
// whole process). Batches are interleaved so machine load and JIT drift hit every row alike.
// Run: npm run build && node --expose-gc bench/runaway.bench.mjs   (or npm run bench -- runaway)
import { performance } from 'node:perf_hooks'

const dist = process.env.LLM_BUDGET_DIST ?? new URL('../dist', import.meta.url).pathname
const { BudgetManager, withBudget, memoryStore } = await import(`${dist}/index.js`)

const BATCH = 1000
const BATCHES = 21

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

async function subject(burst, runs = 0) {
  const manager = new BudgetManager({ store: memoryStore({ maxRecords: 10_000 }) })
  await manager.setBudget('org:acme', { maxBudget: 1_000_000, duration: 'monthly' })
  await manager.setBudget('team:search', { maxBudget: 100_000, duration: 'monthly' })
  await manager.setBudget('user:alice', {
    maxBudget: 50_000,
    duration: 'daily',
    ...(burst ? { burst: { maxBudget: 1_000, duration: '1m' } } : {}),
  })
  await manager.setBudget('key:sk-1', { maxBudget: 10_000 })
  // A run (and its parents) named in the context: the same keys as a call inside the run finds by itself.
  let run
  for (let i = 0; i < runs; i++)
    run = await manager.run({ maxBudget: 1_000_000, ...(run ? { parent: run } : {}) }, (r) => r)
  const context = { org: 'acme', team: 'search', user: 'alice', key: 'sk-1' }
  const fn = withBudget(async () => 1, {
    manager,
    context: run ? run.context(context) : context,
    estimate: 0.002,
    cost: () => 0.0015,
  })
  return { manager, fn }
}

/** Interleaves the subjects batch by batch (so load and JIT drift hit them alike); median µs per call of each. */
async function interleaved(calls) {
  for (const call of calls) for (let i = 0; i < BATCH; i++) await call()
  const perCall = calls.map(() => [])
  for (let b = 0; b < BATCHES; b++) {
    for (let c = 0; c < calls.length; c++) {
      const start = performance.now()
      for (let i = 0; i < BATCH; i++) await calls[c]()
      perCall[c].push(((performance.now() - start) * 1000) / BATCH)
    }
  }
  return perCall.map(median)
}

const rows = []
// Phase 1, AsyncLocalStorage never used: the baseline and a burst.
const base = await subject(false)
const bursty = await subject(true)
const [baseline, burst] = await interleaved([base.fn, bursty.fn])
rows.push(['no burst, no run (baseline)', baseline])
rows.push(['a 1m burst on user:alice (5 keys)', burst])
// Phase 2, after runs turned AsyncLocalStorage on: outside any run, in a run, in a run 3 levels deep.
const inRun = await subject(false, 1)
const nested = await subject(false, 3)
const [outside, one, three] = await interleaved([base.fn, inRun.fn, nested.fn])
rows.push(['no burst, no run, after a run turned AsyncLocalStorage on', outside])
rows.push(['in a run (5 keys)', one])
rows.push(['in a run 3 levels deep (7 keys)', three])

console.log(`Node ${process.version}; median of ${BATCHES} interleaved batches of ${BATCH} sequential calls\n`)
console.log('| withBudget on 4 scopes, memoryStore | µs per call | vs baseline |')
console.log('|---|---:|---:|')
for (const [name, us] of rows) console.log(`| ${name} | ${us.toFixed(1)} | ${(us / baseline).toFixed(2)}x |`)
