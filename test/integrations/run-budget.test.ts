/**
 * A run budget (`manager.run()`) seen through an integration: the real `openai` SDK wrapped by withOpenAIBudget,
 * against the local OpenAI wire server, draws on the run it is called in without being told about it.
 */
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { formatNano } from '../../src/budget/money.js'
import { BudgetExceededError } from '../../src/errors.js'
import { budgetMiddleware } from '../../src/integrations/ai-sdk.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import { setup } from './helpers.js'
import { startOpenAIServer, type WireServer, type WireUsage } from './servers/openai.js'

let server: WireServer
beforeAll(async () => {
  server = await startOpenAIServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

const USAGE: WireUsage = { input: 1421, output: 58, cacheRead: 1280, reasoning: 0 }
const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }]

describe('withOpenAIBudget inside manager.run()', () => {
  it('draws on the run: spend reported exactly, the next call refused by the run before it is sent, calls outside unaffected', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 }), {
      manager,
      context: { user: 'alice' },
    })
    server.defaultBehavior = { usage: USAGE }
    // The worst case of one call (about $0.00006) fits in $0.0001; its actual cost (about $0.00015) does not leave room
    // for a second.
    const { run, refused } = await manager.run({ maxBudget: 0.0001, name: 'openai-agent' }, async (run) => {
      await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
      const refused = await openai.chat.completions
        .create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
        .catch((e: unknown) => e)
      return { run, refused }
    })
    expect(refused).toBeInstanceOf(BudgetExceededError)
    expect((refused as BudgetExceededError).scope).toEqual({ type: 'run', id: 'openai-agent' })
    expect(server.count('/chat/completions')).toBe(1)
    expect(events).toHaveLength(1)
    const cost = events[0]!.record['costNanoUsd'] as number
    expect((await run.status()).exact.spent).toBe(formatNano(cost))
    expect((await manager.getStatus('user:alice')).exact.spend).toBe(formatNano(cost))

    // Outside the run the same client is limited by alice's $100 only.
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
    expect(server.count('/chat/completions')).toBe(2)
    expect(await run.spent()).toBe(cost / 1e9)
  })

  it('a streamed call inside a run commits on the run when the stream ends', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries: 0 }), {
      manager,
      context: { user: 'alice' },
    })
    server.defaultBehavior = { usage: USAGE }
    const run = await manager.run({ maxBudget: 1 }, async (run) => {
      const stream = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages,
        max_tokens: 100,
        stream: true,
      })
      for await (const chunk of stream) void chunk
      return run
    })
    expect(events).toHaveLength(1)
    expect((await run.status()).exact.spent).toBe(formatNano(events[0]!.record['costNanoUsd'] as number))
    expect((await run.status()).reserved).toBe(0)
  })

  it('the AI SDK middleware inside nested runs draws on the child and the parent', async () => {
    const { manager, events } = await setup()
    const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1` })
    const model = wrapLanguageModel({
      model: provider.chat('gpt-4o-mini'),
      middleware: budgetMiddleware({ manager, context: { user: 'alice' } }),
    })
    server.defaultBehavior = { usage: USAGE }
    const { parent, child } = await manager.run({ maxBudget: 1, name: 'parent' }, async (parent) => {
      await generateText({ model, prompt: 'Capital of France?', maxOutputTokens: 100 })
      const child = await manager.run({ maxBudget: 1, name: 'child' }, async (child) => {
        const streamed = streamText({ model, prompt: 'Capital of France?', maxOutputTokens: 100 })
        await streamed.text
        return child
      })
      return { parent, child }
    })
    await vi.waitFor(() => expect(events).toHaveLength(2))
    const [first, second] = events.map((e) => e.record['costNanoUsd'] as number)
    await vi.waitFor(async () => expect((await child.status()).exact.spent).toBe(formatNano(second!)))
    expect((await parent.status()).exact.spent).toBe(formatNano(first! + second!))
    expect((await parent.status()).reserved).toBe(0)
  })
})
