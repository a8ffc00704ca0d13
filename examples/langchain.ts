/**
 * The LangChain callback handler: each chat model call is admitted and charged for the user named in the
 * run's metadata. Run: `npx tsx examples/langchain.ts` (OPENAI_BASE_URL for a local server).
 */
import { ChatOpenAI } from '@langchain/openai'
import { BudgetManager } from '../src/budget/manager.js'
import { BudgetCallbackHandler } from '../src/integrations/langchain.js'

const manager = new BudgetManager()
await manager.setBudget('user:alice', { maxBudget: 1, duration: 'daily' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const handler = new BudgetCallbackHandler({ manager, context: (run) => ({ user: typeof run.metadata['user'] === 'string' ? run.metadata['user'] : 'anonymous' }) })
const model = new ChatOpenAI({
  model: 'gpt-4o-mini',
  maxTokens: 100,
  apiKey: process.env.OPENAI_API_KEY ?? 'sk-local',
  ...(process.env.OPENAI_BASE_URL ? { configuration: { baseURL: process.env.OPENAI_BASE_URL } } : {}),
  callbacks: [handler],
})

const reply = await model.invoke('Say hello.', { metadata: { user: 'alice' } })
console.log(reply.content)

for await (const chunk of await model.stream('Count to 3.', { metadata: { user: 'alice' } })) process.stdout.write(String(chunk.content))
console.log()

const status = await manager.getStatus('user:alice')
console.log(`alice spent $${status.spend} of $${status.limit}`)
