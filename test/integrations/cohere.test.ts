/**
 * withCohereBudget with the real `cohere-ai` v2 client against a local Cohere wire server: billed units are charged.
 */
import { CohereClientV2, CohereError } from 'cohere-ai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetConfigError, BudgetExceededError } from '../../src/errors.js'
import { withCohereBudget } from '../../src/integrations/cohere.js'
import { calculateCost } from '../../src/cost/index.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { cohereUsage, startCohereServer, type WireServer, type WireUsage } from './servers/cohere.js'

let server: WireServer
beforeAll(async () => {
  server = await startCohereServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

function sdk(maxRetries = 0): CohereClientV2 {
  return new CohereClientV2({ token: 'test-key', environment: server.url, maxRetries })
}

const messages = [{ role: 'user' as const, content: 'Why did the worker crash?' }]
const USAGE: WireUsage = { input: 4219, output: 187 }
const MODEL = 'command-a-03-2025'

function nano(model: string, usage: WireUsage): number {
  return expectedNano(model, { model, usage: cohereUsage(usage) }, 'cohere')
}

describe('chat', () => {
  it('billed units are charged, not the processed tokens: by hand, 4219 x $2.50/M + 187 x $10/M', async () => {
    const { manager, events } = await setup()
    const cohere = withCohereBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await cohere.chat({ model: MODEL, messages, maxTokens: 300 })
    // command-a-03-2025: $2.50 per million input tokens, $10 per million output tokens (the catalog's rates).
    const rates = calculateCost({ model: MODEL, provider: 'cohere', usage: { inputTokens: 1e6, outputTokens: 0 } })
    expect(rates.totalCost).toBe(2.5)
    expect(events[0]!.record['costNanoUsd']).toBe(4219 * 2500 + 187 * 10000)
    expect(events[0]!.record['costNanoUsd']).toBe(nano(MODEL, USAGE))
    // The server reports 496 more processed input tokens than billed ones: kept, not priced.
    expect(events[0]!.record['usage']).toMatchObject({ inputTokens: 4219, outputTokens: 187 })
    expect(await reserved(manager)).toBe(0)
  })

  it('chat() and chatStream() are charged the same for the same usage, at the request model', async () => {
    const { manager, events } = await setup()
    const cohere = withCohereBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, text: 'It ran out of memory.' }
    const reply = await cohere.chat({ model: MODEL, messages, maxTokens: 300 })
    expect(reply.message.content?.[0]).toMatchObject({ type: 'text', text: 'It ran out of memory.' })
    const texts: string[] = []
    for await (const event of await cohere.chatStream({ model: MODEL, messages, maxTokens: 300 }))
      if (event.type === 'content-delta') texts.push(event.delta?.message?.content?.text ?? '')
    expect(texts.join('')).toBe('It ran out of memory.')
    await vi.waitFor(() => expect(events).toHaveLength(2))
    const expected = nano(MODEL, USAGE)
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([expected, expected])
    expect(events.map((e) => [e.record['status'], e.estimated, e.record['modelServed']])).toEqual([
      ['success', false, MODEL],
      ['success', false, MODEL],
    ])
    expect(await reserved(manager)).toBe(0)
  })

  it('a stream cut by the server: the caller gets an error, charged once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const cohere = withCohereBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, cutAfterChunks: 2 }
    await expect(
      (async () => {
        for await (const _ of await cohere.chatStream({ model: MODEL, messages, maxTokens: 300 })) void _
      })(),
    ).rejects.toThrow()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['failure', true])
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('break out of a stream: settled once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const cohere = withCohereBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, chunkDelayMs: 10 }
    for await (const _ of await cohere.chatStream({ model: MODEL, messages, maxTokens: 300 })) break
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['aborted', true])
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(events).toHaveLength(1)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('admission', () => {
  it('a refused call rejects with BudgetExceededError for chat() and chatStream(), and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const cohere = withCohereBudget(sdk(2), { manager, context: { user: 'alice' } })
    await expect(cohere.chat({ model: MODEL, messages, maxTokens: 500 })).rejects.toBeInstanceOf(BudgetExceededError)
    await expect(cohere.chatStream({ model: MODEL, messages, maxTokens: 500 })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    // withRawResponse() is a member of the SDK's promise: kept, and mapped too.
    await expect(cohere.chat({ model: MODEL, messages, maxTokens: 500 }).withRawResponse()).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('SDK retries after a 5xx: each attempt is admitted, only the billed one is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const cohere = withCohereBudget(sdk(1), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    server.enqueue({ status: 503 })
    await cohere.chat({ model: MODEL, messages, maxTokens: 300 })
    expect(server.count()).toBe(2)
    expect(counting.reserves()).toBe(2)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(nano(MODEL, USAGE))
    expect(await reserved(manager)).toBe(0)
  })

  it('a 4xx/5xx releases the hold and records nothing; the SDK error is untouched', async () => {
    const { manager, events } = await setup()
    const cohere = withCohereBudget(sdk(), { manager, context: { user: 'alice' } })
    server.enqueue({ status: 500 })
    await expect(cohere.chat({ model: MODEL, messages })).rejects.toBeInstanceOf(CohereError)
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = nano(MODEL, USAGE)
    const { manager, events } = await setup((perCall * 100) / 1e9)
    const cohere = withCohereBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        for await (const _ of await cohere.chatStream({ model: MODEL, messages, maxTokens: 300 })) void _
      }),
    )
    expect(server.count()).toBe(100)
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => r.reason instanceof BudgetExceededError)).toBe(true)
    await vi.waitFor(() => expect(events).toHaveLength(100))
    expect(await reserved(manager)).toBe(0)
  })
})

describe('options', () => {
  it('a client with a custom fetcher (which would bypass the budget) is refused', () => {
    const client = new CohereClientV2({ token: 't', environment: server.url, fetcher: async () => ({}) as never })
    expect(() => withCohereBudget(client, { manager: { reserve: async () => ({}) as never }, context: {} })).toThrow(
      BudgetConfigError,
    )
  })
})
