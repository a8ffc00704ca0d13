/**
 * A budgeted OpenAI client: every call is admitted against alice's daily budget and charged from the usage
 * OpenAI reports.
 *
 * Run: `npx tsx examples/openai.ts`. Offline by default: the real `openai` SDK talks to a fake OpenAI endpoint
 * in this process (`fakeLLMFetch` from `llm-budget/testing`). Set `OPENAI_BASE_URL` (and `OPENAI_API_KEY`) to
 * call a real server instead, e.g. `OPENAI_BASE_URL=https://api.openai.com/v1`.
 */
import OpenAI from 'openai'
import { BudgetManager, isBudgetExceededError } from 'llm-budget'
import { withOpenAIBudget } from 'llm-budget/openai'
import { fakeLLMFetch } from 'llm-budget/testing'

const live = process.env['OPENAI_BASE_URL'] !== undefined
console.log(
  live
    ? `calling ${process.env['OPENAI_BASE_URL']}`
    : 'offline: a fake OpenAI endpoint answers (set OPENAI_BASE_URL to call a real one)',
)

const manager = new BudgetManager()
await manager.setBudget('user:alice', { maxBudget: 1, duration: 'daily' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const client = live
  ? new OpenAI({ maxRetries: 1, timeout: 30_000 })
  : new OpenAI({ apiKey: 'sk-offline', fetch: fakeLLMFetch({ reply: 'Hello! 1, 2, 3.' }) })
const openai = withOpenAIBudget(client, { manager, context: { user: 'alice' } })

const completion = await openai.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Say hello.' }],
  max_tokens: 50,
})
console.log(completion.choices[0]?.message.content)

// Streams are charged too, even without stream_options.include_usage.
const stream = await openai.chat.completions.create({
  model: 'gpt-4o-mini',
  messages: [{ role: 'user', content: 'Count to 3.' }],
  max_tokens: 50,
  stream: true,
})
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '')
console.log()

try {
  await openai.chat.completions.create({
    model: 'gpt-4o',
    messages: [{ role: 'user', content: 'Write a novel.' }],
    max_tokens: 200_000,
  })
} catch (error) {
  if (isBudgetExceededError(error)) console.log(`refused: ${error.message}`)
  else throw error
}
const status = await manager.getStatus('user:alice')
console.log(`alice spent $${status.spend} of $${status.limit}`)
