/**
 * The AI SDK middleware: generateText and streamText admitted and charged per model call, output capped at what
 * the budget can still pay for.
 *
 * Run: `npx tsx examples/ai-sdk.ts`. Offline by default: `@ai-sdk/openai` talks to a fake OpenAI endpoint in
 * this process (`fakeLLMFetch` from `llm-budget/testing`). Set `OPENAI_BASE_URL` (and `OPENAI_API_KEY`) to call a
 * real server instead, e.g. `OPENAI_BASE_URL=https://api.openai.com/v1`.
 */
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import { BudgetManager } from 'llm-budget'
import { budgetMiddleware } from 'llm-budget/ai-sdk'
import { fakeLLMFetch } from 'llm-budget/testing'

const baseURL = process.env['OPENAI_BASE_URL']
console.log(
  baseURL !== undefined
    ? `calling ${baseURL}`
    : 'offline: a fake OpenAI endpoint answers (set OPENAI_BASE_URL to call a real one)',
)

const manager = new BudgetManager()
await manager.setBudget('user:alice', { maxBudget: 0.5, duration: 'daily' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const openai =
  baseURL !== undefined
    ? createOpenAI({ baseURL, apiKey: process.env['OPENAI_API_KEY'] ?? '' })
    : createOpenAI({ apiKey: 'sk-offline', fetch: fakeLLMFetch({ reply: 'Hello! 1, 2, 3.' }) })
const model = wrapLanguageModel({
  model: openai.chat('gpt-4o-mini'),
  middleware: budgetMiddleware({ manager, context: { user: 'alice' }, capOutputTokens: true }),
})

const { text } = await generateText({ model, prompt: 'Say hello.', maxOutputTokens: 100, maxRetries: 1 })
console.log(text)

const result = streamText({ model, prompt: 'Count to 3.', maxOutputTokens: 100, maxRetries: 1 })
for await (const delta of result.textStream) process.stdout.write(delta)
console.log()

const status = await manager.getStatus('user:alice')
console.log(`alice spent $${status.spend} of $${status.limit}`)
