/**
 * The LangChain callback handler: each chat model call is admitted and charged for the user named in the
 * run's metadata.
 *
 * Run: `npx tsx examples/langchain.ts`. Offline by default: `@langchain/openai` talks to a fake OpenAI endpoint
 * in this process (`fakeLLMFetch` from `llm-budget/testing`). Set `OPENAI_BASE_URL` (and `OPENAI_API_KEY`) to
 * call a real server instead, e.g. `OPENAI_BASE_URL=https://api.openai.com/v1`.
 */
import { ChatOpenAI } from '@langchain/openai'
import { BudgetManager } from 'llm-budget'
import { BudgetCallbackHandler } from 'llm-budget/langchain'
import { fakeLLMFetch } from 'llm-budget/testing'

const baseURL = process.env['OPENAI_BASE_URL']
console.log(
  baseURL !== undefined
    ? `calling ${baseURL}`
    : 'offline: a fake OpenAI endpoint answers (set OPENAI_BASE_URL to call a real one)',
)

const manager = new BudgetManager()
await manager.setBudget('user:alice', { maxBudget: 1, duration: 'daily' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const handler = new BudgetCallbackHandler({
  manager,
  context: (run) => ({ user: typeof run.metadata['user'] === 'string' ? run.metadata['user'] : 'anonymous' }),
})
const model = new ChatOpenAI({
  model: 'gpt-4o-mini',
  maxTokens: 100,
  maxRetries: 1,
  apiKey: baseURL !== undefined ? (process.env['OPENAI_API_KEY'] ?? '') : 'sk-offline',
  configuration: baseURL !== undefined ? { baseURL } : { fetch: fakeLLMFetch({ reply: 'Hello! 1, 2, 3.' }) },
  callbacks: [handler],
})

const reply = await model.invoke('Say hello.', { metadata: { user: 'alice' } })
console.log(reply.content)

for await (const chunk of await model.stream('Count to 3.', { metadata: { user: 'alice' } }))
  process.stdout.write(String(chunk.content))
console.log()

const status = await manager.getStatus('user:alice')
console.log(`alice spent $${status.spend} of $${status.limit}`)
