/**
 * budgetMiddleware with the real `ai` SDK (@ai-sdk/openai, @ai-sdk/anthropic) against local wire servers.
 */
import { createAnthropic } from '@ai-sdk/anthropic'
import { createOpenAI } from '@ai-sdk/openai'
import { generateObject, generateText, streamObject, streamText, wrapLanguageModel } from 'ai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { BudgetConfigError, BudgetExceededError } from '../../src/errors.js'
import { budgetMiddleware, type BudgetMiddlewareOptions } from '../../src/integrations/ai-sdk.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { anthropicUsage, startAnthropicServer } from './servers/anthropic.js'
import { chatUsage, startOpenAIServer, type WireServer, type WireUsage } from './servers/openai.js'

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

const USAGE: WireUsage = { input: 1421, output: 58, cacheRead: 1280, reasoning: 0 }
const MINI = 'gpt-4o-mini-2024-07-18'

function openaiModel(options: BudgetMiddlewareOptions, id = 'gpt-4o-mini') {
  const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${openaiServer.url}/v1` })
  return wrapLanguageModel({ model: provider.chat(id), middleware: budgetMiddleware(options) })
}

describe('AI SDK middleware', () => {
  it('generateText, streamText, generateObject and streamObject are each charged exactly, the same streamed or not', async () => {
    const { manager, events } = await setup()
    const model = openaiModel({ manager, context: { user: 'alice' } })
    openaiServer.defaultBehavior = { usage: USAGE }
    const text = await generateText({ model, prompt: 'Capital of France?', maxOutputTokens: 100 })
    expect(text.response.modelId).toBe(MINI)
    const streamed = streamText({ model, prompt: 'Capital of France?', maxOutputTokens: 100 })
    expect(await streamed.text).toBe('Hello part 1 part 2')
    openaiServer.defaultBehavior = { usage: USAGE, text: '{"city":"Paris"}' }
    const schema = z.object({ city: z.string() })
    const object = await generateObject({ model, schema, prompt: 'Capital of France?', maxOutputTokens: 100 })
    expect(object.object).toEqual({ city: 'Paris' })
    const streamedObject = streamObject({ model, schema, prompt: 'Capital of France?', maxOutputTokens: 100 })
    for await (const _ of streamedObject.partialObjectStream) {
      // consume
    }
    expect(await streamedObject.object).toEqual({ city: 'Paris' })
    await vi.waitFor(() => expect(events).toHaveLength(4))
    const nano = expectedNano(MINI, { model: MINI, usage: chatUsage(USAGE) })
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([nano, nano, nano, nano])
    expect(events.every((e) => e.record['modelServed'] === MINI && !e.estimated)).toBe(true)
    expect(await reserved(manager)).toBe(0)
  })

  it('Anthropic through the AI SDK: 1h cache writes and web searches priced from the raw usage', async () => {
    const { manager, events } = await setup()
    const provider = createAnthropic({ apiKey: 'sk-ant-test', baseURL: `${anthropicServer.url}/v1` })
    const model = wrapLanguageModel({
      model: provider('claude-haiku-4-5'),
      middleware: budgetMiddleware({ manager, context: { user: 'alice' } }),
    })
    const usage: WireUsage = {
      input: 20000,
      output: 300,
      cacheRead: 10000,
      cacheWrite5m: 1000,
      cacheWrite1h: 5000,
      webSearches: 1,
    }
    anthropicServer.defaultBehavior = { usage }
    await generateText({ model, prompt: 'Hi', maxOutputTokens: 500 })
    const streamed = streamText({ model, prompt: 'Hi', maxOutputTokens: 500 })
    await streamed.text
    await vi.waitFor(() => expect(events).toHaveLength(2))
    const served = 'claude-haiku-4-5-20251001'
    const nano = expectedNano(served, { type: 'message', model: served, usage: anthropicUsage(usage) }, 'anthropic')
    expect(events[0]!.record['costNanoUsd']).toBe(nano)
    expect(events[1]!.record['costNanoUsd']).toBe(nano)
    expect(events[0]!.record['modelServed']).toBe(served)
  })

  it('a refused call throws BudgetExceededError and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const model = openaiModel({ manager, context: { user: 'alice' } })
    await expect(generateText({ model, prompt: 'Hi', maxOutputTokens: 1000 })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    const errors: unknown[] = []
    const streamed = streamText({
      model,
      prompt: 'Hi',
      maxOutputTokens: 1000,
      onError: ({ error }) => void errors.push(error),
    })
    await expect(streamed.text).rejects.toThrow()
    expect(errors[0]).toBeInstanceOf(BudgetExceededError)
    expect(openaiServer.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('the AI SDK retries after 500s: every attempt is admitted, only the billed one charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const model = openaiModel({ manager: counting.manager, context: { user: 'alice' } })
    openaiServer.defaultBehavior = { usage: USAGE }
    openaiServer.enqueue({ status: 500, retryAfter: '0.01' }, { status: 500, retryAfter: '0.01' })
    await generateText({ model, prompt: 'Hi', maxOutputTokens: 100, maxRetries: 2 })
    expect(openaiServer.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(await reserved(manager)).toBe(0)
  })

  it('aborting streamText mid-way charges once at an estimate and releases the hold', async () => {
    const { manager, events } = await setup()
    const model = openaiModel({ manager, context: { user: 'alice' } })
    openaiServer.defaultBehavior = { usage: USAGE, chunks: 50, chunkDelayMs: 10 }
    const controller = new AbortController()
    const streamed = streamText({
      model,
      prompt: 'Hi',
      maxOutputTokens: 100,
      abortSignal: controller.signal,
      onError: () => {},
    })
    let seen = 0
    try {
      for await (const _ of streamed.textStream) {
        if (++seen === 2) controller.abort()
      }
    } catch {
      // aborted
    }
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    expect(await reserved(manager)).toBe(0)
    await new Promise((r) => setTimeout(r, 50))
    expect(events).toHaveLength(1)
  })

  it('capOutputTokens lowers maxOutputTokens to what the remaining budget can pay for', async () => {
    // gpt-4o: $10 per 1M output tokens. $0.005 left pays for at most ~500 output tokens after the input.
    const { manager } = await setup(0.005)
    const model = openaiModel({ manager, context: { user: 'alice' }, capOutputTokens: true }, 'gpt-4o')
    openaiServer.defaultBehavior = { usage: { input: 20, output: 10 } }
    await generateText({ model, prompt: 'Hi', maxOutputTokens: 4000 })
    const sent = openaiServer.requests[0]!.body as { max_tokens?: number; max_completion_tokens?: number }
    const cap = sent.max_tokens ?? sent.max_completion_tokens
    expect(cap).toBeLessThan(500)
    expect(cap).toBeGreaterThan(400)
  })
})

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const MINI_NANO = () => expectedNano(MINI, { model: MINI, usage: chatUsage(USAGE) })

describe('AI SDK middleware: every exit path', () => {
  it.each(['textStream', 'fullStream'] as const)(
    'breaking out of %s early: the AI SDK keeps reading the provider stream, which is charged once at its reported usage',
    async (which) => {
      const { manager, events } = await setup()
      const model = openaiModel({ manager, context: { user: 'alice' } })
      openaiServer.defaultBehavior = { usage: USAGE, chunks: 20, chunkDelayMs: 5 }
      const streamed = streamText({ model, prompt: 'Hi', maxOutputTokens: 100 })
      let seen = 0
      for await (const _ of streamed[which]) {
        if (++seen === 2) break
      }
      await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 5000 })
      expect(events[0]!.estimated).toBe(false)
      expect(events[0]!.record['costNanoUsd']).toBe(MINI_NANO())
      expect(await reserved(manager)).toBe(0)
      await sleep(50)
      expect(events).toHaveLength(1)
      expect(openaiServer.count()).toBe(1)
    },
  )

  it('breaking out and aborting stops the request: charged once at an estimate, hold released', async () => {
    const { manager, events } = await setup()
    const model = openaiModel({ manager, context: { user: 'alice' } })
    openaiServer.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    const controller = new AbortController()
    const streamed = streamText({
      model,
      prompt: 'Hi',
      maxOutputTokens: 100,
      abortSignal: controller.signal,
      onError: () => {},
    })
    let seen = 0
    for await (const _ of streamed.fullStream) {
      if (++seen === 4) break
    }
    controller.abort()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
    await sleep(50)
    expect(events).toHaveLength(1)
  })

  it('cancelling the model stream directly (doStream reader.cancel) commits once at an estimate', async () => {
    const { manager, events } = await setup()
    const model = openaiModel({ manager, context: { user: 'alice' } })
    openaiServer.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    const { stream } = await model.doStream({
      prompt: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }] }],
      maxOutputTokens: 100,
    })
    const reader = stream.getReader()
    let deltas = 0
    while (deltas < 3) {
      const next = await reader.read()
      if ((next.value as { type: string }).type === 'text-delta') deltas++
    }
    await reader.cancel()
    expect(events).toHaveLength(1)
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    expect(await reserved(manager)).toBe(0)
  })

  it('the server cutting the stream mid-way: charged once at an estimate, hold released', async () => {
    const { manager, events } = await setup()
    const model = openaiModel({ manager, context: { user: 'alice' } })
    openaiServer.defaultBehavior = { usage: USAGE, chunks: 10, cutAfterChunks: 3 }
    const errors: unknown[] = []
    const streamed = streamText({
      model,
      prompt: 'Hi',
      maxOutputTokens: 100,
      maxRetries: 0,
      onError: ({ error }) => void errors.push(error),
    })
    let text = ''
    // The cut surfaces as an error part (onError) or as a thrown APICallError, depending on where the AI SDK sees it.
    await (async () => {
      for await (const part of streamed.fullStream) if (part.type === 'text-delta') text += part.text
    })().catch((error: unknown) => void errors.push(error))
    expect(text).toBe('Hello part 1 part 2')
    expect(errors.length).toBeGreaterThanOrEqual(1)
    expect(String((errors[0] as { cause?: unknown }).cause ?? errors[0])).toMatch(/terminated/)
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('failure')
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
    await sleep(50)
    expect(events).toHaveLength(1)
  })

  it('a 4xx before any token releases the hold (generateText and streamText)', async () => {
    const { manager, events } = await setup()
    const model = openaiModel({ manager, context: { user: 'alice' } })
    openaiServer.enqueue({ status: 400 }, { status: 400 })
    await expect(generateText({ model, prompt: 'Hi', maxOutputTokens: 100 })).rejects.toThrow(/scripted 400/)
    const errors: unknown[] = []
    const streamed = streamText({
      model,
      prompt: 'Hi',
      maxOutputTokens: 100,
      onError: ({ error }) => void errors.push(error),
    })
    await expect(streamed.text).rejects.toThrow()
    expect(String(errors[0])).toMatch(/scripted 400/)
    expect(openaiServer.count()).toBe(2)
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('a budget fallback model is re-checked, sent and priced at that model (with resolveModel)', async () => {
    const { manager, events } = await setup(0.002, { onExceeded: { fallbackModel: 'gpt-4o-mini' } })
    const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${openaiServer.url}/v1` })
    const model = wrapLanguageModel({
      model: provider.chat('gpt-4o'),
      middleware: budgetMiddleware({ manager, context: { user: 'alice' }, resolveModel: (id) => provider.chat(id) }),
    })
    openaiServer.defaultBehavior = { usage: USAGE }
    // gpt-4o with 1000 output tokens cannot fit $0.002 ($0.01 of output alone); gpt-4o-mini can.
    const generated = await generateText({ model, prompt: 'Hi', maxOutputTokens: 1000 })
    expect(generated.response.modelId).toBe(MINI)
    const streamed = streamText({ model, prompt: 'Hi', maxOutputTokens: 1000 })
    expect(await streamed.text).toBe('Hello part 1 part 2')
    expect(openaiServer.requests.map((r) => (r.body as { model: string }).model)).toEqual([
      'gpt-4o-mini',
      'gpt-4o-mini',
    ])
    await vi.waitFor(() => expect(events).toHaveLength(2))
    for (const event of events) {
      expect(event.record['modelServed']).toBe(MINI)
      expect(event.record['costNanoUsd']).toBe(MINI_NANO())
      expect(event.record['metadata']).toMatchObject({ requestedModel: 'gpt-4o' })
    }
    expect(await reserved(manager)).toBe(0)
  })

  it('a budget fallback without resolveModel: nothing is sent, the hold is released, BudgetConfigError names the option', async () => {
    const { manager, events } = await setup(0.002, { onExceeded: { fallbackModel: 'gpt-4o-mini' } })
    const model = openaiModel({ manager, context: { user: 'alice' } }, 'gpt-4o')
    await expect(generateText({ model, prompt: 'Hi', maxOutputTokens: 1000 })).rejects.toThrow(BudgetConfigError)
    await expect(generateText({ model, prompt: 'Hi', maxOutputTokens: 1000 })).rejects.toThrow(/resolveModel/)
    expect(openaiServer.count()).toBe(0)
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('200 concurrent streamText calls through one model against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = MINI_NANO()
    const { manager, events } = await setup((perCall * 100) / 1e9)
    // The estimate equals the actual cost, so the outcome does not depend on timing.
    const model = openaiModel({ manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    openaiServer.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, async () => {
        let error: unknown
        const streamed = streamText({ model, prompt: 'Hi', maxOutputTokens: 50, onError: () => {} })
        for await (const part of streamed.fullStream) if (part.type === 'error') error = part.error
        return error
      }),
    )
    const refused = outcomes.filter((e) => e !== undefined)
    expect(openaiServer.count()).toBe(100)
    expect(refused).toHaveLength(100)
    expect(refused.every((e) => e instanceof BudgetExceededError)).toBe(true)
    await vi.waitFor(() => expect(events).toHaveLength(100))
    expect(events.every((e) => !e.estimated && e.record['costNanoUsd'] === perCall)).toBe(true)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBeCloseTo((perCall * 100) / 1e9, 12)
  })
})
