/**
 * The AI SDK middleware: generateText and streamText admitted and charged per model call, output capped at what
 * the budget can still pay for. Run: `npx tsx examples/ai-sdk.ts` (OPENAI_BASE_URL for a local server).
 */
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import { BudgetManager } from '../src/budget/manager.js'
import { budgetMiddleware } from '../src/integrations/ai-sdk.js'

const manager = new BudgetManager()
await manager.setBudget('user:alice', { maxBudget: 0.5, duration: 'daily' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const openai = createOpenAI({ apiKey: process.env.OPENAI_API_KEY ?? 'sk-local', ...(process.env.OPENAI_BASE_URL ? { baseURL: process.env.OPENAI_BASE_URL } : {}) })
const model = wrapLanguageModel({
  model: openai.chat('gpt-4o-mini'),
  middleware: budgetMiddleware({ manager, context: { user: 'alice' }, capOutputTokens: true }),
})

const { text } = await generateText({ model, prompt: 'Say hello.', maxOutputTokens: 100 })
console.log(text)

const result = streamText({ model, prompt: 'Count to 3.', maxOutputTokens: 100 })
for await (const delta of result.textStream) process.stdout.write(delta)
console.log()

const status = await manager.getStatus('user:alice')
console.log(`alice spent $${status.spend} of $${status.limit}`)
