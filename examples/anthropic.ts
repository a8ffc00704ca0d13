/**
 * A budgeted Anthropic client: messages and streams are admitted against a team budget and charged from
 * message_start + the last message_delta. Run: `npx tsx examples/anthropic.ts` (ANTHROPIC_BASE_URL for a local server).
 */
import Anthropic from '@anthropic-ai/sdk'
import { BudgetManager } from '../src/budget/manager.js'
import { withAnthropicBudget } from '../src/integrations/anthropic.js'

const manager = new BudgetManager()
await manager.setBudget('team:support', { maxBudget: 5, duration: 'monthly' })
manager.on('spend.recorded', ({ record, cost }) => console.log(`recorded ${String(record['modelServed'])}: $${cost}`))

const anthropic = withAnthropicBudget(new Anthropic({ apiKey: process.env.ANTHROPIC_API_KEY ?? 'sk-ant-local', baseURL: process.env.ANTHROPIC_BASE_URL }), {
  manager,
  context: { team: 'support', user: 'alice' },
})

const message = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Say hello.' }] })
console.log(message.content[0]?.type === 'text' ? message.content[0].text : '')

const stream = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'Count to 3.' }] })
stream.on('text', (text) => process.stdout.write(text))
await stream.finalMessage()
console.log()

const status = await manager.getStatus('team:support')
console.log(`team:support spent $${status.spend} of $${status.limit}`)
