/**
 * A budgeted Anthropic client: messages and streams are admitted against a team budget and charged from
 * message_start + the last message_delta.
 *
 * Run: `npx tsx examples/anthropic.ts`. Offline by default: the real `@anthropic-ai/sdk` talks to a fake
 * Anthropic endpoint in this process (`fakeLLMFetch` from `llm-budget/testing`). Set `ANTHROPIC_BASE_URL` (and
 * `ANTHROPIC_API_KEY`) to call a real server instead, e.g. `ANTHROPIC_BASE_URL=https://api.anthropic.com`.
 */
import Anthropic from '@anthropic-ai/sdk'
import { BudgetManager } from 'llm-budget'
import { withAnthropicBudget } from 'llm-budget/anthropic'
import { fakeLLMFetch } from 'llm-budget/testing'

const live = process.env['ANTHROPIC_BASE_URL'] !== undefined
console.log(
  live
    ? `calling ${process.env['ANTHROPIC_BASE_URL']}`
    : 'offline: a fake Anthropic endpoint answers (set ANTHROPIC_BASE_URL to call a real one)',
)

const manager = new BudgetManager()
await manager.setBudget('team:support', { maxBudget: 5, duration: 'monthly' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const client = live
  ? new Anthropic({ maxRetries: 1, timeout: 30_000 })
  : new Anthropic({ apiKey: 'sk-ant-offline', fetch: fakeLLMFetch({ reply: 'Hello! 1, 2, 3.' }) })
const anthropic = withAnthropicBudget(client, { manager, context: { team: 'support', user: 'alice' } })

const message = await anthropic.messages.create({
  model: 'claude-haiku-4-5',
  max_tokens: 256,
  messages: [{ role: 'user', content: 'Say hello.' }],
})
console.log(message.content[0]?.type === 'text' ? message.content[0].text : '')

const stream = anthropic.messages.stream({
  model: 'claude-haiku-4-5',
  max_tokens: 256,
  messages: [{ role: 'user', content: 'Count to 3.' }],
})
stream.on('text', (text) => process.stdout.write(text))
await stream.finalMessage()
console.log()

const status = await manager.getStatus('team:support')
console.log(`team:support spent $${status.spend} of $${status.limit}`)
