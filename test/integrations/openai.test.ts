/**
 * withOpenAIBudget with the real `openai` SDK against a local OpenAI wire server.
 */
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
import { CONTEXT_HEADER, withOpenAIBudget } from '../../src/integrations/openai.js'
import { countingReserves, expectedNano, reserved, setup, spend } from './helpers.js'
import { chatUsage, responsesUsage, startOpenAIServer, type WireServer, type WireUsage } from './servers/openai.js'

let server: WireServer
beforeAll(async () => {
  server = await startOpenAIServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

function sdk(maxRetries = 0): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: `${server.url}/v1`, maxRetries })
}

const USAGE: WireUsage = { input: 1421, output: 58, cacheRead: 1280, reasoning: 0 }
const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }]

describe('chat completions', () => {
  it('charges a non-streamed call exactly, at the dated model the server reports', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
    expect(completion.model).toBe('gpt-4o-mini-2024-07-18')
    expect(events).toHaveLength(1)
    const record = events[0]!.record
    expect(record['modelServed']).toBe('gpt-4o-mini-2024-07-18')
    expect(record['costNanoUsd']).toBe(
      expectedNano('gpt-4o-mini-2024-07-18', { model: 'gpt-4o-mini-2024-07-18', usage: chatUsage(USAGE) }),
    )
    expect(events[0]!.estimated).toBe(false)
    expect(await reserved(manager)).toBe(0)
  })

  it('charges the same usage the same streamed (include_usage asked) as not streamed', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 100 })
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      max_tokens: 100,
      stream: true,
      stream_options: { include_usage: true },
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    // The caller asked for usage: the usage-only chunk is delivered.
    expect(chunks.at(-1)?.choices).toEqual([])
    expect(chunks.at(-1)?.usage?.prompt_tokens).toBe(1421)
    expect(events).toHaveLength(2)
    expect(events[1]!.record['costNanoUsd']).toBe(events[0]!.record['costNanoUsd'])
    expect(events[1]!.record['status']).toBe('success')
    expect(events[1]!.record['modelServed']).toBe('gpt-4o-mini-2024-07-18')
  })

  it('charges a stream requested without include_usage, and hides the usage chunk from the caller', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      max_tokens: 100,
    })
    const chunks = []
    for await (const chunk of stream) chunks.push(chunk)
    expect((server.requests[0]!.body as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true })
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true)
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello part 1 part 2')
    expect(events).toHaveLength(1)
    expect(events[0]!.estimated).toBe(false)
    expect(events[0]!.record['costNanoUsd']).toBe(
      expectedNano('gpt-4o-mini-2024-07-18', { model: 'gpt-4o-mini-2024-07-18', usage: chatUsage(USAGE) }),
    )
  })

  it('break out of a stream: charged once, flagged estimated, hold released', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 20, chunkDelayMs: 5 }
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      max_tokens: 100,
    })
    let seen = 0
    for await (const _ of stream) {
      if (++seen === 3) break
    }
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
    await new Promise((r) => setTimeout(r, 50))
    expect(events).toHaveLength(1)
  })

  it('abort with an AbortSignal mid-stream: charged once, estimated, hold released', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 50, chunkDelayMs: 10 }
    const controller = new AbortController()
    const stream = await openai.chat.completions.create(
      { model: 'gpt-4o-mini', messages, stream: true, max_tokens: 100 },
      { signal: controller.signal },
    )
    let seen = 0
    try {
      for await (const _ of stream) {
        if (++seen === 2) controller.abort()
      }
    } catch {
      // the SDK may surface the abort
    }
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.record['status']).toBe('aborted')
    expect(await reserved(manager)).toBe(0)
    await new Promise((r) => setTimeout(r, 50))
    expect(events).toHaveLength(1)
  })

  it('server cuts the connection mid-stream: the caller gets an error, charged once at an estimate', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 10, cutAfterChunks: 3 }
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      stream: true,
      max_tokens: 100,
    })
    await expect(
      (async () => {
        for await (const _ of stream) {
          // consume
        }
      })(),
    ).rejects.toThrow()
    await vi.waitFor(() => expect(events).toHaveLength(1))
    expect(events[0]!.estimated).toBe(true)
    expect(['failure', 'aborted']).toContain(events[0]!.record['status'])
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('responses', () => {
  it('charges streamed (from response.completed) and non-streamed calls the same', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    const usage: WireUsage = { input: 5321, output: 117, cacheRead: 4096 }
    server.defaultBehavior = { usage }
    const response = await openai.responses.create({
      model: 'gpt-4.1',
      input: 'Three options?',
      max_output_tokens: 300,
    })
    expect(response.model).toBe('gpt-4.1-2025-04-14')
    const stream = await openai.responses.create({
      model: 'gpt-4.1',
      input: 'Three options?',
      max_output_tokens: 300,
      stream: true,
    })
    const types: string[] = []
    for await (const event of stream) types.push(event.type)
    expect(types.at(-1)).toBe('response.completed')
    expect(events).toHaveLength(2)
    const nano = expectedNano('gpt-4.1-2025-04-14', { model: 'gpt-4.1-2025-04-14', usage: responsesUsage(usage) })
    expect(events[0]!.record['costNanoUsd']).toBe(nano)
    expect(events[1]!.record['costNanoUsd']).toBe(nano)
    expect(events[1]!.record['modelServed']).toBe('gpt-4.1-2025-04-14')
  })
})

describe('other endpoints', () => {
  it('embeddings, images, transcriptions and speech are each charged from what the server reports', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'b'] })
    expect(events[0]!.record['costNanoUsd']).toBe(
      expectedNano('text-embedding-3-small', {
        model: 'text-embedding-3-small',
        usage: { prompt_tokens: 23, total_tokens: 23 },
      }),
    )

    await openai.images.generate({ model: 'gpt-image-1', prompt: 'a lighthouse', size: '1024x1024', quality: 'medium' })
    expect(events[1]!.record['costNanoUsd']).toBe(
      expectedNano('gpt-image-1', {
        usage: {
          input_tokens: 48,
          input_tokens_details: { image_tokens: 0, text_tokens: 48 },
          output_tokens: 1056,
          total_tokens: 1104,
        },
      }),
    )
    expect(events[1]!.estimated).toBe(false)

    await openai.audio.transcriptions.create({
      model: 'whisper-1',
      file: new File([new Uint8Array(64)], 'a.mp3', { type: 'audio/mpeg' }),
    })
    expect(events[2]!.record['costNanoUsd']).toBe(
      expectedNano('whisper-1', { text: '', usage: { type: 'duration', seconds: 94 } }),
    )
    expect(events[2]!.record['costNanoUsd']).toBeGreaterThan(0)

    const audio = await openai.audio.speech.create({ model: 'tts-1', voice: 'alloy', input: 'Hello there, caller.' })
    expect((await audio.arrayBuffer()).byteLength).toBe(256)
    expect(events[3]!.record['costNanoUsd']).toBe(20 * 15_000) // tts-1: $0.000015 per character
    expect(await reserved(manager)).toBe(0)
  })
})

describe('admission', () => {
  it('a call the budget cannot admit raises BudgetExceededError and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const openai = withOpenAIBudget(sdk(2), { manager, context: { user: 'alice' } })
    await expect(
      openai.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1000 }),
    ).rejects.toBeInstanceOf(BudgetExceededError)
    await expect(
      openai.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1000, stream: true }),
    ).rejects.toBeInstanceOf(BudgetExceededError)
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
  })

  it('a 4xx before any token releases the hold and records nothing', async () => {
    const { manager, events } = await setup()
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.enqueue({ status: 400 })
    await expect(
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 10 }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError)
    expect(server.count()).toBe(1)
    expect(events).toHaveLength(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('SDK retries after 500s: each attempt is admitted, only the billed attempt is charged', async () => {
    const { manager, events } = await setup()
    const counting = countingReserves(manager)
    const openai = withOpenAIBudget(sdk(2), { manager: counting.manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    server.enqueue({ status: 500, retryAfter: '0.01' }, { status: 503, retryAfter: '0.01' })
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages,
      max_tokens: 50,
      stream: true,
    })
    for await (const _ of stream) {
      // consume
    }
    expect(server.count()).toBe(3)
    expect(counting.reserves()).toBe(3)
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(
      expectedNano('gpt-4o-mini-2024-07-18', { model: 'gpt-4o-mini-2024-07-18', usage: chatUsage(USAGE) }),
    )
    expect(await reserved(manager)).toBe(0)
  })

  it('a retry the budget can no longer admit stops with BudgetExceededError', async () => {
    const { manager } = await setup(0.01)
    let calls = 0
    const openai = withOpenAIBudget(sdk(2), {
      manager,
      context: { user: 'alice' },
      estimate: () => (++calls === 1 ? 0.001 : 5),
    })
    server.enqueue({ status: 500, retryAfter: '0.01' })
    await expect(
      openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 50 }),
    ).rejects.toBeInstanceOf(BudgetExceededError)
    expect(server.count()).toBe(1)
    expect(await reserved(manager)).toBe(0)
  })

  it('a budget fallback model is re-checked, sent and priced at that model', async () => {
    const { manager, events } = await setup(0.002, { onExceeded: { fallbackModel: 'gpt-4o-mini' } })
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    // gpt-4o with 1000 output tokens cannot fit $0.002; gpt-4o-mini can.
    await openai.chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 1000 })
    expect((server.requests[0]!.body as { model: string }).model).toBe('gpt-4o-mini')
    expect(events[0]!.record['modelServed']).toBe('gpt-4o-mini-2024-07-18')
    expect(events[0]!.record['costNanoUsd']).toBe(
      expectedNano('gpt-4o-mini-2024-07-18', { model: 'gpt-4o-mini-2024-07-18', usage: chatUsage(USAGE) }),
    )
  })

  it('200 concurrent streamed calls against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = expectedNano('gpt-4o-mini-2024-07-18', { model: 'gpt-4o-mini-2024-07-18', usage: chatUsage(USAGE) })
    const { manager, events } = await setup((perCall * 100) / 1e9)
    // The estimate equals the actual cost, so the outcome does not depend on timing.
    const openai = withOpenAIBudget(sdk(), { manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        const stream = await openai.chat.completions.create({
          model: 'gpt-4o-mini',
          messages,
          max_tokens: 50,
          stream: true,
        })
        for await (const _ of stream) {
          // consume
        }
      }),
    )
    const refused = results.filter((r) => r.status === 'rejected')
    expect(server.count()).toBe(100)
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof BudgetExceededError)).toBe(true)
    expect(events).toHaveLength(100)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('context', () => {
  it('a context function sees the request; a per-call header adds to it and is not forwarded', async () => {
    const { manager, events } = await setup()
    await manager.setBudget('team:search', { maxBudget: 10, duration: 'monthly' })
    const seen: string[] = []
    const openai = withOpenAIBudget(sdk(), {
      manager,
      context: (request) => {
        seen.push(`${request.endpoint}:${request.model}`)
        return { team: 'search' }
      },
    })
    await openai.chat.completions.create(
      { model: 'gpt-4o-mini', messages, max_tokens: 10 },
      { headers: { [CONTEXT_HEADER]: JSON.stringify({ user: 'alice' }) } },
    )
    expect(seen).toEqual(['chat.completions:gpt-4o-mini'])
    expect(server.requests[0]!.headers[CONTEXT_HEADER]).toBeUndefined()
    expect(events[0]!.record['context']).toMatchObject({ user: 'alice', team: 'search' })
    expect(await spend(manager, 'team:search')).toBeGreaterThan(0)
  })
})
