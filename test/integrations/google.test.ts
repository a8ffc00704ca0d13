/**
 * withGoogleBudget with the real `@google/genai` SDK against a local server speaking the Gemini API's wire format
 * (JSON and SSE), in Gemini API and Vertex AI modes.
 */
import { GoogleGenAI } from '@google/genai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BudgetConfigError, BudgetExceededError } from '../../src/errors.js'
import { CONTEXT_HEADER, withGoogleBudget } from '../../src/integrations/google.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { geminiUsage, startGoogleServer, type WireServer, type WireUsage } from './servers/google.js'

let server: WireServer
beforeAll(async () => {
  server = await startGoogleServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

function sdk(options: { vertexai?: boolean; attempts?: number } = {}): GoogleGenAI {
  return new GoogleGenAI({
    apiKey: 'test-key',
    ...(options.vertexai === true ? { vertexai: true } : {}),
    httpOptions: {
      baseUrl: server.url,
      ...(options.attempts !== undefined ? { retryOptions: { attempts: options.attempts, initialDelay: 0.01 } } : {}),
    },
  })
}

/** Thinking tokens (outside `candidatesTokenCount` on the wire) and cached input (inside the prompt count). */
const USAGE: WireUsage = { input: 1421, output: 158, cacheRead: 1280, reasoning: 40 }
const MODEL = 'gemini-2.5-flash'

function nano(usage: WireUsage = USAGE, model = MODEL, provider = 'gemini'): number {
  return expectedNano(model, { usageMetadata: geminiUsage(usage), modelVersion: model }, provider)
}

describe('withGoogleBudget', () => {
  it('charges generateContent exactly: thinking tokens as output, cached tokens at the cache rate', async () => {
    const { manager, events } = await setup()
    const ai = withGoogleBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const response = await ai.models.generateContent({ model: MODEL, contents: 'hi', config: { maxOutputTokens: 200 } })
    expect(response.usageMetadata?.thoughtsTokenCount).toBe(40)
    expect(events).toHaveLength(1)
    const record = events[0]!.record
    expect(record['costNanoUsd']).toBe(nano())
    expect(record).toMatchObject({ provider: 'gemini', modelServed: MODEL, status: 'success' })
    expect(record['usage']).toMatchObject({ inputTokens: 1421, outputTokens: 158, cacheReadTokens: 1280 })
    expect(events[0]!.estimated).toBe(false)
    // Without thinking or cache the same counts cost more (no cache discount) and differ: the fields are priced.
    expect(nano({ input: 1421, output: 158 })).not.toBe(nano())
    expect(await reserved(manager)).toBe(0)
  })

  it('charges the same usage the same streamed (last running total) as not streamed', async () => {
    const { manager, events } = await setup()
    const ai = withGoogleBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 4 }
    await ai.models.generateContent({ model: MODEL, contents: 'hi' })
    const chunks = []
    for await (const chunk of await ai.models.generateContentStream({ model: MODEL, contents: 'hi' }))
      chunks.push(chunk)
    expect(chunks).toHaveLength(4)
    expect(events.map((e) => [e.record['costNanoUsd'], e.estimated])).toEqual([
      [nano(), false],
      [nano(), false],
    ])
    expect(await reserved(manager)).toBe(0)
  })

  it('chat sessions: every sendMessage and sendMessageStream turn is admitted and charged', async () => {
    const { manager, events } = await setup()
    const ai = withGoogleBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const chat = ai.chats.create({ model: MODEL })
    await chat.sendMessage({ message: 'first' })
    for await (const _ of await chat.sendMessageStream({ message: 'second' })) {
      // consume
    }
    expect(server.count()).toBe(2)
    // The second turn sends the history: the first exchange and the new message.
    expect((server.requests[1]!.body as { contents: unknown[] }).contents).toHaveLength(3)
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([nano(), nano()])
  })

  it('Vertex AI mode: the publisher model path is budgeted and priced as vertex_ai', async () => {
    const { manager, events } = await setup()
    const ai = withGoogleBudget(sdk({ vertexai: true }), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await ai.models.generateContent({ model: MODEL, contents: 'hi' })
    expect(server.requests[0]!.path).toMatch(/publishers\/google\/models\/gemini-2\.5-flash:generateContent$/)
    expect(events[0]!.record['provider']).toBe('vertex_ai')
    expect(events[0]!.record['costNanoUsd']).toBe(nano(USAGE, MODEL, 'vertex_ai'))
  })

  it('a call the budget cannot admit throws BudgetExceededError and sends nothing; the original is untouched', async () => {
    const { manager, events } = await setup(0.000001)
    const original = sdk()
    const ai = withGoogleBudget(original, { manager, context: { user: 'alice' } })
    await expect(ai.models.generateContent({ model: MODEL, contents: 'hi' })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    await expect(ai.models.generateContentStream({ model: MODEL, contents: 'hi' })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    expect(server.count()).toBe(0)
    await original.models.generateContent({ model: MODEL, contents: 'hi' })
    expect(server.count()).toBe(1)
    expect(events).toHaveLength(0)
  })

  it('retryOptions: each attempt is admitted, only the billed attempt is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const ai = withGoogleBudget(sdk({ attempts: 3 }), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    server.enqueue({ status: 500 }, { status: 503 })
    for await (const _ of await ai.models.generateContentStream({ model: MODEL, contents: 'hi' })) {
      // consume
    }
    expect(server.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(nano())
    expect(await reserved(manager)).toBe(0)
  })

  it('a budget fallback model is sent in the URL and priced at that model', async () => {
    const { manager, events } = await setup(0.005, { onExceeded: { fallbackModel: 'gemini-2.5-flash' } })
    const ai = withGoogleBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'hi', config: { maxOutputTokens: 1000 } })
    expect(server.requests[0]!.path).toBe('/v1beta/models/gemini-2.5-flash:generateContent')
    expect(events[0]!.record).toMatchObject({ modelServed: MODEL, metadata: { requestedModel: 'gemini-2.5-pro' } })
    expect(events[0]!.record['costNanoUsd']).toBe(nano())
  })

  it('a stream the server cuts: the caller gets an error, charged once at an estimate', async () => {
    const { manager, events } = await setup()
    const ai = withGoogleBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, cutAfterChunks: 2 }
    const read = async () => {
      for await (const _ of await ai.models.generateContentStream({ model: MODEL, contents: 'hi' })) {
        // consume
      }
    }
    await expect(read()).rejects.toThrow()
    expect(events).toHaveLength(1)
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['failure', true])
    // Cut before the final chunk: the running total (input exact, output at least what was seen) is charged.
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = nano()
    const { manager, events } = await setup((perCall * 100) / 1e9)
    // The estimate equals the actual cost, so the outcome does not depend on timing.
    const ai = withGoogleBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        for await (const _ of await ai.models.generateContentStream({ model: MODEL, contents: 'hi' })) {
          // consume
        }
      }),
    )
    const refused = results.filter((r) => r.status === 'rejected')
    expect(server.count()).toBe(100)
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof BudgetExceededError)).toBe(true)
    expect(events).toHaveLength(100)
    expect(await spend(manager)).toBe((perCall * 100) / 1e9)
    expect(await reserved(manager)).toBe(0)
  })

  it('a context function sees the request; the per-call context header adds to it and is not forwarded', async () => {
    const { manager, events } = await setup()
    await manager.setBudget('team:search', { maxBudget: 10, duration: 'monthly' })
    const seen: string[] = []
    const ai = withGoogleBudget(sdk(), {
      manager,
      context: (request) => {
        seen.push(`${request.endpoint}:${request.model}`)
        return { team: 'search' }
      },
    })
    server.defaultBehavior = { usage: USAGE }
    await ai.models.generateContent({
      model: MODEL,
      contents: 'hi',
      config: { httpOptions: { headers: { [CONTEXT_HEADER]: JSON.stringify({ user: 'alice' }) } } },
    })
    expect(seen).toEqual(['generateContent:gemini-2.5-flash'])
    expect(server.requests[0]!.headers[CONTEXT_HEADER]).toBeUndefined()
    expect(events[0]!.record['context']).toMatchObject({ user: 'alice', team: 'search' })
    expect(await spend(manager, 'team:search')).toBe(nano() / 1e9)
  })

  it('bad options get a typed error naming the option', () => {
    expect(() => withGoogleBudget(sdk(), { manager: {} as never, context: { user: 'alice' } })).toThrow(
      BudgetConfigError,
    )
    expect(() =>
      withGoogleBudget(sdk(), { manager: { reserve: async () => ({}) } as never, contex: {} } as never),
    ).toThrow(/context/)
  })
})
