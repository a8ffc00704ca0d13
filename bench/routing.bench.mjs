// Routing and the response cache, measured in the same run as their baselines:
// - `selectDeployment` with 5 deployments (lowest-cost: priced per deployment, then one atomic reservation) vs a
//   plain `reserve` of the same estimate (memoryStore), each followed by a release;
// - a withBudget cache hit (lookup, $0 record, answer) vs a direct call of the function and vs the same withBudget
//   without a cache (reserve + call + commit).
// Run: npm run build && node --expose-gc bench/routing.bench.mjs   (or npm run bench -- routing)
import { performance } from 'node:perf_hooks'

const dist = process.env.LLM_BUDGET_DIST ?? new URL('../dist', import.meta.url).pathname
const { BudgetManager, memoryStore, responseCache, withBudget } = await import(`${dist}/index.js`)

const BATCH = 1000
const BATCHES = 21

function median(values) {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** Median microseconds per call over BATCHES batches of BATCH sequential awaited calls (after one warm-up batch). */
async function measure(call) {
  for (let i = 0; i < BATCH; i++) await call(i)
  const perCall = []
  for (let b = 0; b < BATCHES; b++) {
    const start = performance.now()
    for (let i = 0; i < BATCH; i++) await call(i)
    perCall.push(((performance.now() - start) * 1000) / BATCH)
  }
  return median(perCall)
}

const fmt = (us) => (us < 10 ? us.toFixed(2) : us.toFixed(1))

// ------------------------------------------------------------------------------------------------ routing
const DEPLOYMENTS = [
  { id: 'oai-4o', model: 'gpt-4o', provider: 'openai' },
  { id: 'oai-mini', model: 'gpt-4o-mini', provider: 'openai' },
  { id: 'azure-4o', model: 'gpt-4o', provider: 'azure' },
  { id: 'sonnet', model: 'claude-3-5-sonnet-20241022', provider: 'anthropic' },
  { id: 'haiku', model: 'claude-3-5-haiku-20241022', provider: 'anthropic' },
]
const TOKENS = { inputTokens: 1_000, maxOutputTokens: 500 }
const manager = new BudgetManager({ store: memoryStore() })
await manager.setProviderBudgets({
  openai: { budget_limit: 1_000_000, time_period: '30d' },
  anthropic: { budget_limit: 1_000_000, time_period: '30d' },
  azure: { budget_limit: 1_000_000, time_period: '30d' },
})
await manager.setBudget('user:alice', { maxBudget: 1_000_000, duration: 'monthly' })
const context = { user: 'alice' }

const reserveUs = await measure(async () => {
  const r = await manager.reserve(
    { ...context, provider: 'openai' },
    { model: 'gpt-4o-mini', provider: 'openai', ...TOKENS },
  )
  await r.release()
})
const selectUs = await measure(async () => {
  const { reservation } = await manager.selectDeployment(DEPLOYMENTS, { context, estimate: TOKENS })
  await reservation.release()
})
const priorityUs = await measure(async () => {
  const { reservation } = await manager.selectDeployment(DEPLOYMENTS, {
    context,
    estimate: TOKENS,
    strategy: 'priority',
  })
  await reservation.release()
})

console.log('| routing (memoryStore, then release) | us/call | vs reserve |')
console.log('|---|---:|---:|')
console.log(`| reserve (baseline, 1 model) | ${fmt(reserveUs)} | 1.00x |`)
console.log(
  `| selectDeployment, 5 deployments, lowest-cost | ${fmt(selectUs)} | ${(selectUs / reserveUs).toFixed(2)}x |`,
)
console.log(
  `| selectDeployment, 5 deployments, priority | ${fmt(priorityUs)} | ${(priorityUs / reserveUs).toFixed(2)}x |`,
)

// ------------------------------------------------------------------------------------------------ cache
const cacheManager = new BudgetManager({ store: memoryStore() })
await cacheManager.setBudget('user:alice', { maxBudget: 1_000_000, duration: 'monthly' })
const answer = { model: 'gpt-4o-mini', text: 'Paris', usage: { prompt_tokens: 1_000, completion_tokens: 200 } }
const fn = async (_request) => answer
const request = {
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'What is the capital of France?' }],
  max_tokens: 300,
}
const options = { manager: cacheManager, context: { user: 'alice' } }
const cached = withBudget(fn, { ...options, cache: responseCache({ max: 10_000 }) })
const uncached = withBudget(fn, options)
await cached(request) // fills the entry

const directUs = await measure(() => fn(request))
const uncachedUs = await measure(() => uncached(request))
const hitUs = await measure(() => cached(request))

console.log('\n| cache (memoryStore) | us/call | vs direct |')
console.log('|---|---:|---:|')
console.log(`| direct call of fn (baseline) | ${fmt(directUs)} | 1.00x |`)
console.log(
  `| withBudget without cache (reserve + fn + commit) | ${fmt(uncachedUs)} | ${(uncachedUs / directUs).toFixed(1)}x |`,
)
console.log(`| withBudget cache hit (key + lookup + $0 record) | ${fmt(hitUs)} | ${(hitUs / directUs).toFixed(1)}x |`)
