/**
 * `deployments` and `cache` through the shared integration options: the real `openai`, `@anthropic-ai/sdk` and `ai`
 * SDKs against local wire servers. The server counts the requests it received.
 */
import Anthropic from '@anthropic-ai/sdk'
import { createOpenAI } from '@ai-sdk/openai'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { responseCache, type Deployment } from '../../src/budget/index.js'
import { BudgetConfigError } from '../../src/errors.js'
import { budgetMiddleware } from '../../src/integrations/ai-sdk.js'
import { withAnthropicBudget } from '../../src/integrations/anthropic.js'
import { BudgetCallbackHandler } from '../../src/integrations/langchain.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import { setup } from './helpers.js'
import { startAnthropicServer } from './servers/anthropic.js'
import { startOpenAIServer, type WireServer } from './servers/openai.js'

let openaiServer: WireServer
let anthropicServer: WireServer
beforeAll(async () => {
  openaiServer = await startOpenAIServer()
  anthropicServer = await startAnthropicServer()
})
afterAll(async () => {
  await openaiServer.close()
  await anthropicServer.close()
})
beforeEach(() => {
  openaiServer.reset()
  anthropicServer.reset()
})

const sdk = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${openaiServer.url}/v1`, maxRetries: 0 })
const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }]
const OPENAI_DEPLOYMENTS: Deployment[] = [
  { id: 'big', model: 'gpt-4o', provider: 'openai' },
  { id: 'small', model: 'gpt-4o-mini', provider: 'openai' },
]
const modelsSent = (server: WireServer) => server.requests.map((r) => (r.body as { model?: string }).model)

describe('deployments through the integrations', () => {
  it('OpenAI: sends the chosen deployment’s model and charges that deployment', async () => {
    const { manager, events } = await setup()
    await manager.setBudget('deployment:big', { maxBudget: 0 })
    const openai = withOpenAIBudget(sdk(), {
      manager,
      context: { user: 'alice' },
      deployments: OPENAI_DEPLOYMENTS,
      strategy: 'priority',
    })
    await openai.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100 })
    expect(modelsSent(openaiServer)).toEqual(['gpt-4o-mini'])
    const record = events[0]!.record
    expect((record['context'] as { deployment?: string }).deployment).toBe('small')
    expect(record['modelServed']).toBe('gpt-4o-mini-2024-07-18')
  })

  it('OpenAI: none fits: the SDK call throws BudgetExceededError and nothing is sent', async () => {
    const { manager } = await setup()
    await manager.setBudget('provider:openai', { maxBudget: 0 })
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' }, deployments: OPENAI_DEPLOYMENTS })
    await expect(openai.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100 })).rejects.toMatchObject({
      code: 'BUDGET_EXCEEDED',
    })
    expect(openaiServer.count()).toBe(0)
  })

  it('Anthropic: routes among the client’s models', async () => {
    const { manager } = await setup()
    await manager.setBudget('model:claude-sonnet-4-5', { maxBudget: 0 })
    const anthropic = withAnthropicBudget(new Anthropic({ apiKey: 'k', baseURL: anthropicServer.url, maxRetries: 0 }), {
      manager,
      context: { user: 'alice' },
      deployments: [
        { id: 'sonnet', model: 'claude-sonnet-4-5', provider: 'anthropic' },
        { id: 'haiku', model: 'claude-haiku-4-5', provider: 'anthropic' },
      ],
      strategy: 'priority',
    })
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', messages, max_tokens: 100 })
    expect(modelsSent(anthropicServer)).toEqual(['claude-haiku-4-5'])
  })

  it('AI SDK: runs the chosen deployment’s model through resolveModel', async () => {
    const { manager } = await setup()
    await manager.setBudget('deployment:big', { maxBudget: 0 })
    const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${openaiServer.url}/v1` })
    const model = wrapLanguageModel({
      model: provider.chat('gpt-4o'),
      middleware: budgetMiddleware({
        manager,
        context: { user: 'alice' },
        deployments: OPENAI_DEPLOYMENTS,
        strategy: 'priority',
        resolveModel: (id) => provider.chat(id),
      }),
    })
    await generateText({ model, prompt: 'hi', maxOutputTokens: 50 })
    expect(modelsSent(openaiServer)).toEqual(['gpt-4o-mini'])
  })

  it('bad deployments or cache options are refused when the client is wrapped', async () => {
    const { manager } = await setup()
    expect(() => withOpenAIBudget(sdk(), { manager, context: {}, deployments: [] })).toThrow(BudgetConfigError)
    expect(() =>
      withOpenAIBudget(sdk(), { manager, context: {}, deployments: OPENAI_DEPLOYMENTS, strategy: 'fastest' as never }),
    ).toThrow(/`strategy` must be one of/)
    expect(() =>
      withAnthropicBudget(new Anthropic({ apiKey: 'k' }), { manager, context: {}, cache: {} as never }),
    ).toThrow(/`cache` must be a response cache/)
    expect(() => budgetMiddleware({ manager, context: {}, cache: 'yes' as never })).toThrow(BudgetConfigError)
    // The LangChain handler only observes calls: it refuses the options instead of ignoring them.
    expect(() => new BudgetCallbackHandler({ manager, deployments: OPENAI_DEPLOYMENTS } as never)).toThrow(
      /not supported by the LangChain callback handler/,
    )
    expect(() => new BudgetCallbackHandler({ manager, cache: responseCache() } as never)).toThrow(BudgetConfigError)
  })
})

describe('cache through the integrations', () => {
  it('OpenAI: an identical request is answered from the cache ($0, cacheHit, saved) without a request', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' }, cache: responseCache() })
    const a = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
    const b = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
    expect(b).toEqual(a)
    expect(openaiServer.count()).toBe(1)
    expect(events.map((e) => e.record['status'])).toEqual(['success', 'cache_hit'])
    expect(events[1]!.record['savedNanoUsd']).toBe(events[0]!.record['costNanoUsd'])
    const report = await manager.querySpend({})
    expect(report.savedNanoUsd).toBe(String(events[0]!.record['costNanoUsd']))
  })

  it('OpenAI: 10 identical concurrent requests send one; a stream is replayed with the same chunks', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' }, cache: responseCache() })
    await Promise.all(
      Array.from({ length: 10 }, () =>
        openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 7 }),
      ),
    )
    expect(openaiServer.count()).toBe(1)
    expect(events.filter((e) => e.record['status'] === 'cache_hit')).toHaveLength(9)
    const read = async () => {
      const stream = await openai.chat.completions.create({
        model: 'gpt-4o-mini',
        messages,
        max_tokens: 9,
        stream: true,
      })
      const chunks: unknown[] = []
      for await (const chunk of stream) chunks.push(chunk)
      return chunks
    }
    const first = await read()
    const second = await read()
    expect(second).toEqual(first)
    expect(first.length).toBeGreaterThan(1)
    expect(openaiServer.count()).toBe(2)
  })

  it('AI SDK: generateText and streamText hits skip the model', async () => {
    const { manager, events } = await setup()
    const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${openaiServer.url}/v1` })
    const model = wrapLanguageModel({
      model: provider.chat('gpt-4o-mini'),
      middleware: budgetMiddleware({ manager, context: { user: 'alice' }, cache: responseCache() }),
    })
    const a = await generateText({ model, prompt: 'hi', maxOutputTokens: 50 })
    const b = await generateText({ model, prompt: 'hi', maxOutputTokens: 50 })
    expect(b.text).toBe(a.text)
    const streamed = async () => {
      const result = streamText({ model, prompt: 'stream me', maxOutputTokens: 50 })
      let text = ''
      for await (const part of result.textStream) text += part
      return text
    }
    const s1 = await streamed()
    const s2 = await streamed()
    expect(s2).toBe(s1)
    expect(s1.length).toBeGreaterThan(0)
    expect(openaiServer.count()).toBe(2)
    expect(events.map((e) => e.record['status'])).toEqual(['success', 'cache_hit', 'success', 'cache_hit'])
  })
})
