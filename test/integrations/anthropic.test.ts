/**
 * withAnthropicBudget with the real `@anthropic-ai/sdk` against a local Anthropic wire server.
 */
import Anthropic from '@anthropic-ai/sdk'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
import { withAnthropicBudget } from '../../src/integrations/anthropic.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { anthropicUsage, startAnthropicServer, type WireServer, type WireUsage } from './servers/anthropic.js'

let server: WireServer
beforeAll(async () => {
  server = await startAnthropicServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

function sdk(maxRetries = 0): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-test', baseURL: server.url, maxRetries })
}

const messages = [{ role: 'user' as const, content: 'Why did the worker crash?' }]
const CACHED: WireUsage = {
  input: 58652,
  output: 1187,
  cacheRead: 51236,
  cacheWrite5m: 1402,
  cacheWrite1h: 6000,
  webSearches: 2,
}
const SIMPLE: WireUsage = { input: 4219, output: 187, cacheRead: 4210 }

function nano(model: string, usage: WireUsage): number {
  return expectedNano(model, { type: 'message', model, usage: anthropicUsage(usage) }, 'anthropic')
}

describe('messages', () => {
  it('charges a JSON call with 5m/1h cache writes and web searches exactly, at the dated model', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: CACHED }
    const message = await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 2000, messages })
    expect(message.model).toBe('claude-sonnet-4-5-20250929')
    expect(events).toHaveLength(1)
    expect(events[0]!.record['modelServed']).toBe('claude-sonnet-4-5-20250929')
    const expected = nano('claude-sonnet-4-5-20250929', CACHED)
    expect(events[0]!.record['costNanoUsd']).toBe(expected)
    // 1h writes cost more than 5m writes: the split must be priced, not lumped.
    const lumped = nano('claude-sonnet-4-5-20250929', { ...CACHED, cacheWrite5m: 7402, cacheWrite1h: 0 })
    expect(expected).toBeGreaterThan(lumped)
    expect(await reserved(manager)).toBe(0)
  })

  it('create({ stream: true }) and messages.stream() cost the same as JSON; several cumulative message_delta are overwritten, not summed', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: SIMPLE, messageDeltas: 3 }
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 500, messages })
    const stream = await anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 500,
      messages,
      stream: true,
    })
    for await (const _ of stream) {
      // consume
    }
    const final = await anthropic.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 500, messages })
      .finalMessage()
    expect(final.usage.output_tokens).toBe(187)
    expect(events).toHaveLength(3)
    const expected = nano('claude-haiku-4-5-20251001', SIMPLE)
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([expected, expected, expected])
    expect(events.every((e) => e.record['modelServed'] === 'claude-haiku-4-5-20251001' && e.estimated === false)).toBe(
      true,
    )
  })

  it('priority service tier is priced at the tier the response reports', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: { ...SIMPLE, serviceTier: 'priority' } }
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 500, messages })
    expect(events[0]!.record['costNanoUsd']).toBe(
      nano('claude-haiku-4-5-20251001', { ...SIMPLE, serviceTier: 'priority' }),
    )
  })
})

describe('exit paths', () => {
  it('break out of messages.create({ stream: true }): charged once from message_start plus output seen, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: SIMPLE, chunks: 30, chunkDelayMs: 5 }
    const stream = await anthropic.messages.create({
      model: 'claude-haiku-4-5',
      max_tokens: 500,
      messages,
      stream: true,
    })
    let seen = 0
    for await (const _ of stream) {
      if (++seen === 4) break
    }
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    // At least the exact input side from message_start.
    expect(events[0]!.record['costNanoUsd']).toBeGreaterThanOrEqual(
      nano('claude-haiku-4-5-20251001', { ...SIMPLE, output: 1 }),
    )
    expect(await reserved(manager)).toBe(0)
    await new Promise((r) => setTimeout(r, 50))
    expect(events).toHaveLength(1)
  })

  it('abort messages.stream() mid-way: charged once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: SIMPLE, chunks: 50, chunkDelayMs: 10 }
    const stream = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 500, messages })
    let seen = 0
    stream.on('text', () => {
      if (++seen === 2) stream.abort()
    })
    await expect(stream.done()).rejects.toThrow()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    expect(await reserved(manager)).toBe(0)
  })

  it('server cuts the stream: the caller gets an error, charged once, hold released', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: SIMPLE, chunks: 10, cutAfterChunks: 2 }
    await expect(
      anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 500, messages }).finalMessage(),
    ).rejects.toThrow()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('admission', () => {
  it('a refused call raises BudgetExceededError for create() and messages.stream(), and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const anthropic = withAnthropicBudget(sdk(2), { manager, context: { user: 'alice' } })
    await expect(
      anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 500, messages }),
    ).rejects.toBeInstanceOf(BudgetExceededError)
    // MessageStream wraps every non-SDK error in an AnthropicError whose `cause` is the original.
    const error: unknown = await anthropic.messages
      .stream({ model: 'claude-haiku-4-5', max_tokens: 500, messages })
      .finalMessage()
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Anthropic.AnthropicError)
    expect((error as Error).cause).toBeInstanceOf(BudgetExceededError)
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('a 5xx with retries off releases the hold and records nothing', async () => {
    const { manager, events } = await setup()
    const anthropic = withAnthropicBudget(sdk(0), { manager, context: { user: 'alice' } })
    server.enqueue({ status: 529 })
    await expect(
      anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 500, messages }),
    ).rejects.toBeInstanceOf(Anthropic.APIError)
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('SDK retries after 500s: each attempt is admitted, only the billed one is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const anthropic = withAnthropicBudget(sdk(2), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: SIMPLE }
    server.enqueue({ status: 500, retryAfter: '0.01' }, { status: 529, retryAfter: '0.01' })
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 500, messages })
    expect(server.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(nano('claude-haiku-4-5-20251001', SIMPLE))
    expect(await reserved(manager)).toBe(0)
  })

  it('a budget fallback model is re-checked, sent and priced at that model', async () => {
    const { manager, events } = await setup(0.01, { onExceeded: { fallbackModel: 'claude-haiku-4-5' } })
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: SIMPLE }
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 1000, messages })
    expect((server.requests[0]!.body as { model: string }).model).toBe('claude-haiku-4-5')
    expect(events[0]!.record['modelServed']).toBe('claude-haiku-4-5-20251001')
    expect(events[0]!.record['costNanoUsd']).toBe(nano('claude-haiku-4-5-20251001', SIMPLE))
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = nano('claude-haiku-4-5-20251001', SIMPLE)
    const { manager, events } = await setup((perCall * 100) / 1e9)
    const anthropic = withAnthropicBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: SIMPLE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 500, messages }).finalMessage(),
      ),
    )
    expect(server.count()).toBe(100)
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => (r.reason as Error).cause instanceof BudgetExceededError)).toBe(true)
    expect(events).toHaveLength(100)
    expect(await reserved(manager)).toBe(0)
  })
})
