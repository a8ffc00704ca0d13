// Memory of spend tracked for scopes without budgets: 1,000,000 distinct end users, each with one call, on a
// memoryStore (records off, so only balances count), against the same run with 100,000 users as the baseline; then
// the same ledger after `spendTrackingTtlMs` has passed with no further calls (the keys are forgotten).
// Run: npm run build && node --expose-gc bench/untracked-scopes.bench.mjs   (or npm run bench -- untracked)
// LLM_BUDGET_DIST=/path/to/dist overrides where llm-budget is imported from.
const dist = process.env.LLM_BUDGET_DIST ?? new URL('../dist', import.meta.url).pathname
const { BudgetManager, memoryStore } = await import(`${dist}/index.js`)

const gc = globalThis.gc ?? (() => {})
const DAY = 86_400_000

function heap() {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

/** Heap growth for `users` distinct end users with one $0.001 call each, and after the tracking TTL passes. */
async function measure(users) {
  let now = Date.UTC(2026, 10, 1)
  const clock = { now: () => now }
  const before = heap()
  const manager = new BudgetManager({ store: memoryStore({ maxRecords: 0 }), clock, spendTrackingTtlMs: 30 * DAY })
  const start = performance.now()
  for (let i = 0; i < users; i++) await manager.record({ endUser: `end-user-${i}` }, 0.001)
  const perCallUs = ((performance.now() - start) * 1000) / users
  const right = heap() - before
  // Three minutes later the store has forgotten the call ids it kept for retried commits (dedupeTtlMs, 2 minutes):
  // what stays is one all-time key per end user (and the manager's bounded budget cache).
  now += 3 * 60_000
  await manager.record({ endUser: 'later' }, 0.001)
  const tracked = heap() - before
  // One call after the TTL: the ledger's sweep forgets every key past its expiry.
  now += 31 * DAY
  await manager.record({ endUser: 'late' }, 0.001)
  const afterTtl = heap() - before
  return { right, tracked, afterTtl, perCallUs, manager }
}

const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1)
const baseline = await measure(100_000)
const full = await measure(1_000_000)
console.log(
  '| end users without a budget | heapUsed, just after (with 2-min call-id dedupe) | after the dedupe window | bytes per user | after spendTrackingTtlMs idle | us per record() |',
)
console.log('|---|---:|---:|---:|---:|---:|')
for (const [label, m, n] of [
  ['100,000 (baseline)', baseline, 100_000],
  ['1,000,000', full, 1_000_000],
]) {
  console.log(
    `| ${label} | ${mb(m.right)} MB | ${mb(m.tracked)} MB | ${Math.round(m.tracked / n)} | ${mb(m.afterTtl)} MB | ${m.perCallUs.toFixed(2)} |`,
  )
}
