/**
 * A budgeted OpenAI client: every call is admitted against alice's daily budget and charged from the usage
 * OpenAI reports. Run: `npx tsx examples/openai.ts` (set OPENAI_BASE_URL to use a local server).
 */
import OpenAI from 'openai'
import { BudgetManager } from '../src/budget/manager.js'
import { isBudgetExceededError } from '../src/errors.js'
import { withOpenAIBudget } from '../src/integrations/openai.js'

const manager = new BudgetManager()
await manager.setBudget('user:alice', { maxBudget: 1, duration: 'daily' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const openai = withOpenAIBudget(new OpenAI({ apiKey: process.env.OPENAI_API_KEY ?? 'sk-local', baseURL: process.env.OPENAI_BASE_URL }), {
  manager,
  context: { user: 'alice' },
})

const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 50 })
console.log(completion.choices[0]?.message.content)

// Streams are charged too, even without stream_options.include_usage.
const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Count to 3.' }], max_tokens: 50, stream: true })
for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '')
console.log()

try {
  await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Write a novel.' }], max_tokens: 200_000 })
} catch (error) {
  if (isBudgetExceededError(error)) console.log(`refused: ${error.message}`)
  else throw error
}
const status = await manager.getStatus('user:alice')
console.log(`alice spent $${status.spend} of $${status.limit}`)
