/**
 * Quick start: budgets for a team and its users, calls through `withBudget` with a fake LLM client (no
 * network, no API key), one call refused before it runs, and a spend report.
 *
 * Spend is kept in a file store in `.llm-budget/` (or `$LLM_BUDGET_DIR`): run it again and it remembers what
 * earlier runs spent. Delete the folder to start over.
 *
 * Run: `npm run example` (or `npx tsx examples/quickstart.ts`)
 */
import { BudgetManager, isBudgetExceededError, withBudget } from 'llm-budget'
import { fileStore } from 'llm-budget/file'
import { fakeOpenAI } from 'llm-budget/testing'

// 1. A manager on a store. fileStore() keeps spend on disk, durable and shared by every process on this machine
//    (memoryStore() keeps it in this process only; redisStore/httpStore share it between machines).
const dir = process.env.LLM_BUDGET_DIR ?? '.llm-budget'
console.log(`spend is kept in ${dir}/`)
const store = fileStore({ path: dir })
const budgets = new BudgetManager({
  store,
  projectName: 'quickstart',
  defaults: { endUser: { maxBudget: 0.002, duration: 'daily' } },
})

// 2. Budgets: a monthly team budget and daily user budgets (bob with a per-model limit). The `defaults`
//    above give every end user we never saw $0.002 a day.
await budgets.setBudget('team:search', { maxBudget: 50, duration: 'monthly', alertThresholds: [0.5, 0.8] })
await budgets.setBudget('user:alice', { maxBudget: 0.01, duration: 'daily' })
await budgets.setBudget('user:bob', {
  maxBudget: 5,
  duration: 'daily',
  modelMaxBudget: { 'gpt-4o': { maxBudget: 0.001 } },
})

budgets.on('threshold.crossed', (event) => console.log(`alert: ${event.scope} crossed ${event.threshold} USD`))
budgets.on('budget.exceeded', (event) =>
  console.log(`refused by ${event.scope}${event.model ? ` (${event.model})` : ''}`),
)

// 3. Wrap the function that calls the LLM. The context says whom the call counts against; the estimate
//    (worst case) defaults to the catalog price of the request's model, messages and max_tokens.
const client = fakeOpenAI({ inputTokens: 1200, outputTokens: 300 })
interface ChatRequest {
  user: string
  endUser?: string
  model: string
  messages: { role: 'user' | 'system'; content: string }[]
  max_tokens: number
}
const chat = withBudget((request: ChatRequest) => client.chat.completions.create(request), {
  manager: budgets,
  context: (request) => ({ user: request.user, team: 'search', model: request.model, endUser: request.endUser }),
})

const ask = async (user: string, model: string, question: string, endUser?: string) => {
  try {
    await chat({
      user,
      model,
      messages: [{ role: 'user', content: question }],
      max_tokens: 400,
      ...(endUser ? { endUser } : {}),
    })
    console.log(`${user} asked ${model}: ok`)
  } catch (error) {
    if (!isBudgetExceededError(error)) throw error
    console.log(`${user} asked ${model}: ${error.message}`)
  }
}

await ask('alice', 'gpt-4o-mini', 'What is a token?')
await ask('alice', 'gpt-4o-mini', 'And a context window?')
await ask('bob', 'gpt-4o-mini', 'Summarise this page.', 'customer-42')
await ask('bob', 'gpt-4o', 'Write a long essay.') // bob's gpt-4o limit ($0.001) cannot hold the worst case: refused
console.log(`the LLM was called ${client.calls} times`)

// 4. Where the money went: status per scope and a report grouped by user and model, exact to the nano-dollar.
for (const scope of ['team:search', 'user:alice', 'user:bob', 'endUser:customer-42'] as const) {
  const status = await budgets.getStatus(scope)
  console.log(
    `${scope}: spent $${status.exact.spend} of $${status.exact.limit}, resets ${status.resetsAt?.toISOString() ?? 'never'}`,
  )
}
const report = await budgets.querySpend({ groupBy: ['user', 'model'] })
console.log('\n| user | model | calls | cost (USD) |\n|---|---|---:|---:|')
for (const group of report.groups)
  console.log(`| ${group.key.user} | ${group.key.model} | ${group.calls} | ${group.exact.cost} |`)
console.log(`| total | | ${report.calls} | ${report.exact.cost} |`)
await store.close()
