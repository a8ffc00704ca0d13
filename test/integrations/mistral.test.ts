/**
 * withMistralBudget with the real `@mistralai/mistralai` against a local Mistral wire server.
 */
import { HTTPClient, Mistral } from '@mistralai/mistralai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
import { withMistralBudget } from '../../src/integrations/mistral.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { mistralUsage, startMistralServer, type WireServer, type WireUsage } from './servers/mistral.js'

let server: WireServer
beforeAll(async () => {
  server = await startMistralServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

const RETRIES = {
  strategy: 'backoff' as const,
  backoff: { initialInterval: 1, maxInterval: 5, exponent: 1.1, maxElapsedTime: 2000 },
  retryConnectionErrors: false,
}

function sdk(retries = false, httpClient?: HTTPClient): Mistral {
  return new Mistral({
    apiKey: 'test-key',
    serverURL: server.url,
    ...(retries ? { retryConfig: RETRIES } : {}),
    ...(httpClient !== undefined ? { httpClient } : {}),
  })
}

const messages = [{ role: 'user' as const, content: 'Why did the worker crash?' }]
const USAGE: WireUsage = { input: 4219, output: 187 }
const MODEL = 'mistral-small-latest'

function nano(model: string, usage: WireUsage): number {
  return expectedNano(model, { model, usage: mistralUsage(usage) }, 'mistral')
}

describe('chat', () => {
  it('complete() and stream() are charged the same for the same usage, exactly, at the served model', async () => {
    const { manager, events } = await setup()
    const mistral = withMistralBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, text: 'It ran out of memory.' }
    const reply = await mistral.chat.complete({ model: MODEL, messages, maxTokens: 300 })
    expect(reply.choices?.[0]?.message?.content).toBe('It ran out of memory.')
    const chunks: string[] = []
    for await (const event of await mistral.chat.stream({ model: MODEL, messages, maxTokens: 300 }))
      chunks.push(String(event.data.choices[0]?.delta.content ?? ''))
    expect(chunks.join('')).toBe('It ran out of memory.')
    await vi.waitFor(() => expect(events).toHaveLength(2))
    const expected = nano(MODEL, USAGE)
    expect(expected).toBeGreaterThan(0)
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([expected, expected])
    expect(events.map((e) => [e.record['status'], e.estimated, e.record['provider']])).toEqual([
      ['success', false, 'mistral'],
      ['success', false, 'mistral'],
    ])
    // The request went out as the SDK wrote it (no OpenAI-only stream options added).
    expect(server.requests[1]!.body).not.toHaveProperty('stream_options')
    expect(await reserved(manager)).toBe(0)
  })

  it('a stream cut by the server: the caller gets an error, charged once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const mistral = withMistralBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, cutAfterChunks: 2 }
    await expect(
      (async () => {
        for await (const _ of await mistral.chat.stream({ model: MODEL, messages, maxTokens: 300 })) void _
      })(),
    ).rejects.toThrow()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['failure', true])
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('break out of a stream: settled once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const mistral = withMistralBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 6, chunkDelayMs: 10 }
    for await (const _ of await mistral.chat.stream({ model: MODEL, messages, maxTokens: 300 })) break
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect([events[0]!.record['status'], events[0]!.estimated]).toEqual(['aborted', true])
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(events).toHaveLength(1)
    expect(await reserved(manager)).toBe(0)
  })

  it('embeddings.create() is charged from the usage; its estimate counts the input (not $0)', async () => {
    const { manager, events } = await setup()
    const reserves: number[] = []
    const spy = {
      reserve: (context: never, estimate: never, options?: never) =>
        manager.reserve(context, estimate, options).then((reservation) => {
          reserves.push(reservation.estimateUsd)
          return reservation
        }),
    }
    const mistral = withMistralBudget(sdk(), { manager: spy, context: { user: 'alice' } })
    server.defaultBehavior = { usage: { input: 1500, output: 0 } }
    await mistral.embeddings.create({ model: 'mistral-embed', inputs: ['x'.repeat(4000), 'y'.repeat(4000)] })
    expect(reserves[0]).toBeGreaterThan(0)
    expect(events[0]!.record['costNanoUsd']).toBe(
      expectedNano('mistral-embed', { prompt_tokens: 1500, completion_tokens: 0, total_tokens: 1500 }, 'mistral'),
    )
    expect(events[0]!.cost).toBeGreaterThan(0)
  })

  it("a caller's own httpClient keeps running underneath, hooks included", async () => {
    const { manager, events } = await setup()
    const seen: string[] = []
    const own = new HTTPClient().addHook('beforeRequest', (req) => {
      seen.push(new URL(req.url).pathname)
    })
    const mistral = withMistralBudget(sdk(false, own), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await mistral.chat.complete({ model: MODEL, messages })
    expect(seen).toEqual(['/v1/chat/completions'])
    expect(events).toHaveLength(1)
  })
})

describe('admission', () => {
  it('a refused call raises BudgetExceededError for complete() and stream(), and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const mistral = withMistralBudget(sdk(true), { manager, context: { user: 'alice' } })
    await expect(mistral.chat.complete({ model: MODEL, messages, maxTokens: 500 })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    await expect(mistral.chat.stream({ model: MODEL, messages, maxTokens: 500 })).rejects.toBeInstanceOf(
      BudgetExceededError,
    )
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('SDK retries after 5xx: each attempt is admitted, only the billed one is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const mistral = withMistralBudget(sdk(true), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    server.enqueue({ status: 500 }, { status: 503 })
    await mistral.chat.complete({ model: MODEL, messages, maxTokens: 300 })
    expect(server.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(nano(MODEL, USAGE))
    expect(await reserved(manager)).toBe(0)
  })

  it('a 5xx without retries releases the hold and records nothing', async () => {
    const { manager, events } = await setup()
    const mistral = withMistralBudget(sdk(), { manager, context: { user: 'alice' } })
    server.enqueue({ status: 500 })
    await expect(mistral.chat.complete({ model: MODEL, messages })).rejects.toThrow()
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('200 concurrent streams against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = nano(MODEL, USAGE)
    const { manager, events } = await setup((perCall * 100) / 1e9)
    const mistral = withMistralBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        for await (const _ of await mistral.chat.stream({ model: MODEL, messages, maxTokens: 300 })) void _
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
  it('refuses unknown option keys with the closest known one', () => {
    expect(() =>
      withMistralBudget(sdk(), { manager: { reserve: async () => ({}) as never }, context: {}, provder: 'x' } as never),
    ).toThrow(/provider/)
  })
})
