/**
 * withGroqBudget with the real `groq-sdk` against a local Groq wire server (usage in `x_groq.usage` on streams).
 */
import Groq from 'groq-sdk'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
import { withGroqBudget } from '../../src/integrations/groq.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { groqUsage, startGroqServer, type WireServer, type WireUsage } from './servers/groq.js'

let server: WireServer
beforeAll(async () => {
  server = await startGroqServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

function sdk(maxRetries = 0): Groq {
  return new Groq({ apiKey: 'gsk-test', baseURL: server.url, maxRetries })
}

const messages = [{ role: 'user' as const, content: 'Why did the worker crash?' }]
const USAGE: WireUsage = { input: 4219, output: 187 }
const MODEL = 'llama-3.3-70b-versatile'

function nano(model: string, usage: WireUsage): number {
  return expectedNano(model, { model, usage: groqUsage(usage) }, 'groq')
}

describe('chat completions', () => {
  it('JSON and stream are charged the same for the same usage: by hand, 4219 x $0.59/M + 187 x $0.79/M', async () => {
    const { manager, events } = await setup()
    const groq = withGroqBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, text: 'It ran out of memory.' }
    const completion = await groq.chat.completions.create({ model: MODEL, messages, max_tokens: 300 })
    expect(completion.choices[0]?.message.content).toBe('It ran out of memory.')
    const texts: string[] = []
    const stream = await groq.chat.completions.create({ model: MODEL, messages, max_tokens: 300, stream: true })
    for await (const chunk of stream) texts.push(chunk.choices[0]?.delta.content ?? '')
    expect(texts.join('')).toBe('It ran out of memory.')
    await vi.waitFor(() => expect(events).toHaveLength(2))
    expect(nano(MODEL, USAGE)).toBe(4219 * 590 + 187 * 790)
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([4219 * 590 + 187 * 790, 4219 * 590 + 187 * 790])
    expect(events.map((e) => [e.record['status'], e.estimated, e.record['provider']])).toEqual([
      ['success', false, 'groq'],
      ['success', false, 'groq'],
    ])
    // Sent as written: Groq reports stream usage without OpenAI's opt-in.
    expect(server.requests[1]!.body).not.toHaveProperty('stream_options')
    expect(await reserved(manager)).toBe(0)
  })

  it('a stream cut by the server: the caller gets an error, charged once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const groq = withGroqBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, cutAfterChunks: 2 }
    await expect(
      (async () => {
        const stream = await groq.chat.completions.create({ model: MODEL, messages, max_tokens: 300, stream: true })
        for await (const _ of stream) void _
      })(),
    ).rejects.toThrow()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['failure', true])
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('break out of a stream: settled once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const groq = withGroqBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, chunkDelayMs: 10 }
    const stream = await groq.chat.completions.create({ model: MODEL, messages, max_tokens: 300, stream: true })
    for await (const _ of stream) break
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['aborted', true])
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(events).toHaveLength(1)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('admission', () => {
  it('a refused call raises BudgetExceededError, JSON and streamed, and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const groq = withGroqBudget(sdk(2), { manager, context: { user: 'alice' } })
    await expect(groq.chat.completions.create({ model: MODEL, messages, max_tokens: 500 })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    await expect(
      groq.chat.completions.create({ model: MODEL, messages, max_tokens: 500, stream: true }),
    ).rejects.toBeInstanceOf(BudgetExceededError)
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('SDK retries after 5xx: each attempt is admitted, only the billed one is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const groq = withGroqBudget(sdk(2), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    server.enqueue({ status: 500, retryAfter: '0.01' }, { status: 503, retryAfter: '0.01' })
    await groq.chat.completions.create({ model: MODEL, messages, max_tokens: 300 })
    expect(server.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(nano(MODEL, USAGE))
    expect(await reserved(manager)).toBe(0)
  })

  it('a 5xx without retries releases the hold and records nothing', async () => {
    const { manager, events } = await setup()
    const groq = withGroqBudget(sdk(), { manager, context: { user: 'alice' } })
    server.enqueue({ status: 500 })
    await expect(groq.chat.completions.create({ model: MODEL, messages })).rejects.toBeInstanceOf(Groq.APIError)
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = nano(MODEL, USAGE)
    const { manager, events } = await setup((perCall * 100) / 1e9)
    const groq = withGroqBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        const stream = await groq.chat.completions.create({ model: MODEL, messages, max_tokens: 300, stream: true })
        for await (const _ of stream) void _
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
