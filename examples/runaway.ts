/**
 * Runaway protection: an agent stuck in a loop is stopped by a burst limit within a minute while its monthly
 * budget is far from spent, and an agent run gets a budget of its own that every call inside it draws on.
 *
 * A fake LLM client (no network, no API key) and a fake clock (so a minute passes without waiting).
 *
 * Run: `npx tsx examples/runaway.ts`
 */
import { BudgetManager, isBudgetExceededError, withBudget } from 'llm-budget'
import { fakeClock, fakeOpenAI } from 'llm-budget/testing'

const clock = fakeClock('2026-12-01T09:00:00Z')
const budgets = new BudgetManager({ clock })
// $100 a month, but never more than $0.05 in any minute.
await budgets.setBudget('user:agent-7', {
  maxBudget: 100,
  duration: 'monthly',
  burst: { maxBudget: 0.05, duration: '1m' },
})

// Every call costs $0.01 at gpt-4o prices (2,000 tokens in, 500 out).
const client = fakeOpenAI({ inputTokens: 2000, outputTokens: 500 })
interface ChatRequest {
  model: string
  messages: { role: 'user'; content: string }[]
  max_tokens: number
}
const complete = withBudget((request: ChatRequest) => client.chat.completions.create(request), {
  manager: budgets,
  context: { user: 'agent-7', model: 'gpt-4o' },
})
const chat = (content: string) => complete({ model: 'gpt-4o', messages: [{ role: 'user', content }], max_tokens: 500 })

// 1. The stuck agent: the same call every two seconds, forever.
let calls = 0
let retryAfterMs: number | undefined
try {
  for (;;) {
    await chat('try again')
    calls++
    clock.advance(2_000)
  }
} catch (error) {
  if (!isBudgetExceededError(error)) throw error
  retryAfterMs = error.retryAfterMs ?? 0
  console.log(`stopped after ${calls} calls: ${error.message}`)
}
const status = await budgets.getStatus('user:agent-7')
const burst = status.bursts?.[0]
console.log(`this month: spent $${status.exact.spend} of $${status.exact.limit}`)
console.log(`this minute: spent $${burst?.spend} of $${burst?.limit} (burst ${burst?.duration})`)

// When the burst window rolls over, the agent may call again.
clock.advance(retryAfterMs ?? 0)
await chat('one more')
console.log('a minute later: admitted again')

// 2. A run budget: one agent session may spend $0.03, whatever budgets its calls also count against. Calls inside
//    the function find the run by themselves (AsyncLocalStorage); pass `run.context({ ... })` where there is none.
const report = await budgets.run({ maxBudget: 0.03, name: 'research' }, async (run) => {
  let steps = 0
  try {
    for (;;) {
      await chat(`research step ${steps + 1}`)
      steps++
      clock.advance(30_000)
    }
  } catch (error) {
    if (!isBudgetExceededError(error)) throw error
    console.log(`run stopped: ${error.message}`)
  }
  return { steps, spent: await run.spent() }
})
console.log(`the run took ${report.steps} steps and spent $${report.spent}`)
console.log(`the LLM was called ${client.calls} times`)
