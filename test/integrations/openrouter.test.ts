/**
 * OpenRouter through the `openai` client (withOpenAIBudget, base URL on openrouter.ai) and through
 * `@openrouter/ai-sdk-provider` (budgetMiddleware), against a local OpenRouter wire server: the cost OpenRouter reports
 * (`usage.cost`) is the cost recorded, `priceSource: 'provider'`; without it, `vendor/model` ids are priced from the
 * catalog's `openrouter/...` entries.
 */
import { createOpenRouter } from '@openrouter/ai-sdk-provider'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
import { budgetMiddleware } from '../../src/integrations/ai-sdk.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import { expectedNano, reserved, setup, spend } from './helpers.js'
import {
  DEFAULT_OPENROUTER_COST,
  openRouterUsage,
  startOpenRouterServer,
  type WireServer,
  type WireUsage,
} from './servers/openrouter.js'

let server: WireServer
beforeAll(async () => {
  server = await startOpenRouterServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

const MODEL = 'anthropic/claude-3.5-sonnet'
const USAGE: WireUsage = { input: 4219, output: 187 }
const messages = [{ role: 'user' as const, content: 'Why did the worker crash?' }]
const REPORTED_NANO = Math.round(DEFAULT_OPENROUTER_COST * 1e9)

/**
 * An `openai` client configured for OpenRouter exactly as a user would (`baseURL` on openrouter.ai), whose fetch
 * delivers to the local server: the wrapper must recognise OpenRouter from the base URL.
 */
function openRouterClient(maxRetries = 0): OpenAI {
  const local: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    return fetch(`${server.url}${url.pathname}${url.search}`, init)
  }
  return new OpenAI({ apiKey: 'sk-or-test', baseURL: 'https://openrouter.ai/api/v1', fetch: local, maxRetries })
}

function catalogNano(usage: WireUsage): number {
  return expectedNano(MODEL, { model: MODEL, usage: openRouterUsage(usage, undefined) }, 'openrouter')
}

describe('OpenRouter through the openai client', () => {
  it('JSON and stream record the cost OpenRouter reported, priceSource provider; usage accounting is asked for', async () => {
    const { manager, events } = await setup()
    const client = withOpenAIBudget(openRouterClient(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, text: 'It ran out of memory.' }
    const completion = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 300 })
    expect(completion.choices[0]?.message.content).toBe('It ran out of memory.')
    const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 300, stream: true })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    // The usage-only chunk the wrapper asked for is not shown to a caller who did not ask for usage.
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true)
    await vi.waitFor(() => expect(events).toHaveLength(2))
    expect(server.requests.map((r) => (r.body as { usage?: unknown }).usage)).toEqual([
      { include: true },
      { include: true },
    ])
    expect(events.map((e) => [e.record['costNanoUsd'], e.record['priceSource'], e.record['provider']])).toEqual([
      [REPORTED_NANO, 'provider', 'openrouter'],
      [REPORTED_NANO, 'provider', 'openrouter'],
    ])
    expect(events.map((e) => e.record['modelServed'])).toEqual([MODEL, MODEL])
    // The catalog would have said otherwise: the reported cost is what was charged.
    expect(catalogNano(USAGE)).not.toBe(REPORTED_NANO)
    expect(await reserved(manager)).toBe(0)
  })

  it('no cost reported: vendor/model is priced from the catalog entry openrouter/vendor/model', async () => {
    const { manager, events } = await setup()
    const client = withOpenAIBudget(openRouterClient(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, providerCost: null }
    await client.chat.completions.create({ model: MODEL, messages, max_tokens: 300 })
    // openrouter/anthropic/claude-3.5-sonnet: $3 per million input tokens, $15 per million output tokens.
    expect(catalogNano(USAGE)).toBe(4219 * 3000 + 187 * 15000)
    expect(events[0]!.record).toMatchObject({
      costNanoUsd: 4219 * 3000 + 187 * 15000,
      priceSource: 'catalog',
      pricedModel: 'openrouter/anthropic/claude-3.5-sonnet',
    })
  })

  it("a caller's own usage setting is kept (usage.include false: no cost reported, catalog price)", async () => {
    const { manager, events } = await setup()
    const client = withOpenAIBudget(openRouterClient(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await client.chat.completions.create({
      model: MODEL,
      messages,
      max_tokens: 300,
      // @ts-expect-error OpenRouter's extension of the chat body
      usage: { include: false },
    })
    expect((server.requests[0]!.body as { usage: unknown }).usage).toEqual({ include: false })
    expect(events[0]!.record['costNanoUsd']).toBe(catalogNano(USAGE))
  })

  it('a plain OpenAI base URL is not treated as OpenRouter', async () => {
    const { manager } = await setup()
    const plain = new OpenAI({
      apiKey: 'sk-test',
      baseURL: `${server.url}/api/v1`,
      maxRetries: 0,
    })
    const client = withOpenAIBudget(plain, { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, model: 'gpt-4o-mini' }
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 300 })
    expect(server.requests[0]!.body).not.toHaveProperty('usage')
  })

  it('a refused call raises BudgetExceededError and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const client = withOpenAIBudget(openRouterClient(2), { manager, context: { user: 'alice' } })
    await expect(client.chat.completions.create({ model: MODEL, messages, max_tokens: 500 })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const { manager, events } = await setup(DEFAULT_OPENROUTER_COST * 100)
    const client = withOpenAIBudget(openRouterClient(), {
      manager,
      context: { user: 'alice' },
      estimate: DEFAULT_OPENROUTER_COST,
    })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 300, stream: true })
        for await (const _ of stream) void _
      }),
    )
    expect(server.count()).toBe(100)
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => r.reason instanceof BudgetExceededError)).toBe(true)
    await vi.waitFor(() => expect(events).toHaveLength(100))
    expect(await spend(manager)).toBeCloseTo(DEFAULT_OPENROUTER_COST * 100, 9)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('OpenRouter through @openrouter/ai-sdk-provider and budgetMiddleware', () => {
  function model(manager: Parameters<typeof budgetMiddleware>[0]['manager'], include: boolean) {
    const openrouter = createOpenRouter({ apiKey: 'sk-or-test', baseURL: `${server.url}/api/v1` })
    return wrapLanguageModel({
      model: openrouter.chat(MODEL, include ? { usage: { include: true } } : {}),
      middleware: budgetMiddleware({ manager, context: { user: 'alice' } }),
    })
  }

  it('generateText and streamText record the reported cost, priceSource provider, provider openrouter', async () => {
    const { manager, events } = await setup()
    server.defaultBehavior = { usage: USAGE, text: 'It ran out of memory.' }
    const generated = await generateText({ model: model(manager, true), prompt: 'Why?', maxOutputTokens: 300 })
    expect(generated.text).toBe('It ran out of memory.')
    const streamed = streamText({ model: model(manager, true), prompt: 'Why?', maxOutputTokens: 300 })
    expect(await streamed.text).toBe('It ran out of memory.')
    await vi.waitFor(() => expect(events).toHaveLength(2))
    expect(events.map((e) => [e.record['costNanoUsd'], e.record['priceSource'], e.record['provider']])).toEqual([
      [REPORTED_NANO, 'provider', 'openrouter'],
      [REPORTED_NANO, 'provider', 'openrouter'],
    ])
    expect(await reserved(manager)).toBe(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const { manager, events } = await setup(DEFAULT_OPENROUTER_COST * 100)
    const openrouter = createOpenRouter({ apiKey: 'sk-or-test', baseURL: `${server.url}/api/v1` })
    const limited = wrapLanguageModel({
      model: openrouter.chat(MODEL, { usage: { include: true } }),
      middleware: budgetMiddleware({ manager, context: { user: 'alice' }, estimate: DEFAULT_OPENROUTER_COST }),
    })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async () => {
        let failure: unknown
        const result = streamText({
          model: limited,
          prompt: 'Why?',
          maxOutputTokens: 300,
          maxRetries: 0,
          onError: ({ error }) => {
            failure = error
          },
        })
        for await (const _ of result.textStream) void _
        return failure
      }),
    )
    expect(server.count()).toBe(100)
    const refused = outcomes.filter((failure) => failure !== undefined)
    expect(refused).toHaveLength(100)
    expect(refused.every((failure) => failure instanceof BudgetExceededError)).toBe(true)
    await vi.waitFor(() => expect(events).toHaveLength(100))
    expect(await spend(manager)).toBeCloseTo(DEFAULT_OPENROUTER_COST * 100, 9)
    expect(await reserved(manager)).toBe(0)
  })

  it('without usage accounting: priced from the catalog entry openrouter/vendor/model, streamed = generated', async () => {
    const { manager, events } = await setup()
    server.defaultBehavior = { usage: USAGE }
    await generateText({ model: model(manager, false), prompt: 'Why?', maxOutputTokens: 300 })
    await streamText({ model: model(manager, false), prompt: 'Why?', maxOutputTokens: 300 }).text
    await vi.waitFor(() => expect(events).toHaveLength(2))
    expect(events.map((e) => [e.record['costNanoUsd'], e.record['priceSource']])).toEqual([
      [catalogNano(USAGE), 'catalog'],
      [catalogNano(USAGE), 'catalog'],
    ])
  })
})
