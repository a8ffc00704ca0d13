/**
 * BudgetCallbackHandler with the real @langchain/core + @langchain/openai against the local OpenAI wire server.
 */
import { ChatPromptTemplate } from '@langchain/core/prompts'
import { ChatOpenAI } from '@langchain/openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { BudgetConfigError, BudgetExceededError } from '../../src/errors.js'
import { BudgetCallbackHandler } from '../../src/integrations/langchain.js'
import { expectedNano, reserved, setup, spend } from './helpers.js'
import { chatUsage, startOpenAIServer, type WireServer, type WireUsage } from './servers/openai.js'

let server: WireServer
beforeAll(async () => {
  server = await startOpenAIServer()
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => server.reset())

const USAGE: WireUsage = { input: 3187, output: 412, cacheRead: 2944, reasoning: 0 }
const SERVED = 'gpt-4o-2024-08-06'

function chat(handler: BudgetCallbackHandler, maxRetries = 0, streaming = false): ChatOpenAI {
  return new ChatOpenAI({
    model: 'gpt-4o',
    apiKey: 'sk-test',
    configuration: { baseURL: `${server.url}/v1` },
    maxRetries,
    maxTokens: 500,
    // `streaming: false` would disable streaming altogether in @langchain/openai: only pass `true`.
    ...(streaming ? { streaming: true } : {}),
    callbacks: [handler],
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Exactly one estimated, aborted charge; nothing held; no run left open; no second event later. */
async function expectChargedOnceAborted(
  manager: Awaited<ReturnType<typeof setup>>['manager'],
  events: Awaited<ReturnType<typeof setup>>['events'],
  handler: BudgetCallbackHandler,
) {
  await vi.waitFor(() => expect(events).toHaveLength(1))
  expect(events[0]!.estimated).toBe(true)
  expect(events[0]!.record['status']).toBe('aborted')
  expect(events[0]!.cost).toBeGreaterThan(0)
  expect(handler.inFlight).toBe(0)
  expect(await reserved(manager)).toBe(0)
  await sleep(100)
  expect(events).toHaveLength(1)
}

describe('LangChain callback handler', () => {
  it('invoke and stream are charged exactly the same, at the dated model the response names', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: (run) => ({ user: String(run.metadata['user']) }) })
    server.defaultBehavior = { usage: USAGE }
    const model = chat(handler)
    const message = await model.invoke('Summarise the termination clause.', { metadata: { user: 'alice' } })
    expect(message.response_metadata['model_name']).toBe(SERVED)
    let text = ''
    for await (const chunk of await model.stream('Summarise the termination clause.', { metadata: { user: 'alice' } }))
      text += String(chunk.content)
    expect(text).toBe('Hello part 1 part 2')
    expect(events).toHaveLength(2)
    const nano = expectedNano(SERVED, { model: SERVED, usage: chatUsage(USAGE) })
    expect(events.map((e) => e.record['costNanoUsd'])).toEqual([nano, nano])
    expect(events.every((e) => e.record['modelServed'] === SERVED && !e.estimated)).toBe(true)
    expect(handler.inFlight).toBe(0)
    expect(await reserved(manager)).toBe(0)
  })

  it('a refused call throws BudgetExceededError and sends nothing', async () => {
    const { manager, events } = await setup(0.000001)
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    await expect(chat(handler).invoke('Hi')).rejects.toBeInstanceOf(BudgetExceededError)
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
    expect(handler.inFlight).toBe(0)
  })

  it('a server error before any token releases the hold', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.enqueue({ status: 400 })
    await expect(chat(handler).invoke('Hi')).rejects.toThrow()
    expect(events).toHaveLength(0)
    expect(handler.inFlight).toBe(0)
    expect(await reserved(manager)).toBe(0)
    expect(await spend(manager)).toBe(0)
  })

  it('a stream the server cuts after some tokens is charged once at an estimate', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 10, cutAfterChunks: 3 }
    await expect(
      (async () => {
        for await (const _ of await chat(handler).stream('Hi')) {
          // consume
        }
      })(),
    ).rejects.toThrow()
    expect(events).toHaveLength(1)
    expect(events[0]!.estimated).toBe(true)
    expect(events[0]!.cost).toBeGreaterThan(0)
    expect(await reserved(manager)).toBe(0)
  })
})

describe('LangChain callback handler: every exit path', () => {
  it('aborting model.stream() with an AbortSignal mid-stream: charged once at an estimate, hold released', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    const controller = new AbortController()
    let seen = 0
    await expect(
      (async () => {
        for await (const _ of await chat(handler).stream('Hi', { signal: controller.signal }))
          if (++seen === 3) controller.abort()
      })(),
    ).rejects.toThrow(/abort/i)
    await expectChargedOnceAborted(manager, events, handler)
    expect(server.count()).toBe(1)
  })

  it('aborting invoke() on a streaming model mid-stream: charged once at an estimate, hold released', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    const controller = new AbortController()
    let tokens = 0
    const abortAfterThree = { handleLLMNewToken: () => void (++tokens === 3 && controller.abort()) }
    await expect(
      chat(handler, 0, true).invoke('Hi', { signal: controller.signal, callbacks: [abortAfterThree] }),
    ).rejects.toThrow(/abort/i)
    await expectChargedOnceAborted(manager, events, handler)
  })

  it('breaking out of model.stream(): LangChain fires no callback, so the hold stays until the signal passed is aborted', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    const controller = new AbortController()
    let seen = 0
    for await (const _ of await chat(handler).stream('Hi', { signal: controller.signal })) if (++seen === 3) break
    await sleep(100)
    // The limitation: neither handleLLMEnd nor handleLLMError fired.
    expect(handler.inFlight).toBe(1)
    expect(await reserved(manager)).toBeGreaterThan(0)
    expect(events).toHaveLength(0)
    // The documented way out without the helper: abort the signal after the break.
    controller.abort()
    await expectChargedOnceAborted(manager, events, handler)
  })

  it('handler.stream(model): breaking out early charges once at an estimate and releases the hold', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    let text = ''
    for await (const chunk of await handler.stream(chat(handler), 'Hi')) {
      text += String(chunk.content)
      if (text.includes('part 2')) break
    }
    await expectChargedOnceAborted(manager, events, handler)
    expect(server.count()).toBe(1)
  })

  it('handler.stream(chain): a break settles the model run inside a prompt | model chain; cancel() does the same', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE, chunks: 200, chunkDelayMs: 10 }
    const chain = ChatPromptTemplate.fromMessages([['user', 'Tell me about {topic}']]).pipe(chat(handler))
    let seen = 0
    for await (const _ of await handler.stream(chain, { topic: 'budgets' })) if (++seen === 3) break
    await expectChargedOnceAborted(manager, events, handler)
    events.length = 0
    const stream = await handler.stream(chain, { topic: 'budgets' })
    await stream.next()
    await stream.next()
    await stream.cancel()
    await expectChargedOnceAborted(manager, events, handler)
  })

  it('handler.stream read to the end is charged exactly as model.stream(); a refusal sends nothing', async () => {
    const { manager, events } = await setup()
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    let text = ''
    for await (const chunk of await handler.stream(chat(handler), 'Hi')) text += String(chunk.content)
    expect(text).toBe('Hello part 1 part 2')
    expect(events).toHaveLength(1)
    expect(events[0]!.estimated).toBe(false)
    expect(events[0]!.record['costNanoUsd']).toBe(expectedNano(SERVED, { model: SERVED, usage: chatUsage(USAGE) }))
    expect(await reserved(manager)).toBe(0)
    const poor = await setup(0.000001)
    const refusing = new BudgetCallbackHandler({ manager: poor.manager, context: { user: 'alice' } })
    const silence = vi.spyOn(console, 'error').mockImplementation(() => {})
    await expect(refusing.stream(chat(refusing), 'Hi')).rejects.toBeInstanceOf(BudgetExceededError)
    silence.mockRestore()
    expect(server.count()).toBe(1)
    expect(refusing.inFlight).toBe(0)
  })

  it('a budget fallback model cannot be run by a callback: refused with BudgetConfigError, nothing sent, hold released', async () => {
    // gpt-4o with 500 output tokens ($0.005) cannot fit $0.002; gpt-4o-mini could, but LangChain would still call gpt-4o.
    const { manager, events } = await setup(0.002, { onExceeded: { fallbackModel: 'gpt-4o-mini' } })
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    const silence = vi.spyOn(console, 'error').mockImplementation(() => {})
    await expect(chat(handler).invoke('Hi')).rejects.toBeInstanceOf(BudgetConfigError)
    await expect(chat(handler).stream('Hi')).rejects.toThrow(/cannot switch the model/)
    silence.mockRestore()
    expect(server.count()).toBe(0)
    expect(events).toHaveLength(0)
    expect(handler.inFlight).toBe(0)
    expect(await reserved(manager)).toBe(0)
  })

  it("with onExceeded: 'block', model.withFallbacks() admits and prices the fallback on its own", async () => {
    const { manager, events } = await setup(0.002)
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
    server.defaultBehavior = { usage: USAGE }
    const mini = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: 'sk-test',
      configuration: { baseURL: `${server.url}/v1` },
      maxRetries: 0,
      maxTokens: 500,
      callbacks: [handler],
    })
    const silence = vi.spyOn(console, 'error').mockImplementation(() => {})
    const reply = await chat(handler).withFallbacks([mini]).invoke('Hi')
    silence.mockRestore()
    expect(reply.response_metadata['model_name']).toBe('gpt-4o-mini-2024-07-18')
    expect(server.requests.map((r) => (r.body as { model: string }).model)).toEqual(['gpt-4o-mini'])
    expect(events).toHaveLength(1)
    expect(events[0]!.record['costNanoUsd']).toBe(
      expectedNano('gpt-4o-mini-2024-07-18', { model: 'gpt-4o-mini-2024-07-18', usage: chatUsage(USAGE) }),
    )
    expect(await reserved(manager)).toBe(0)
  })

  it('200 concurrent streamed calls against a budget that fits 100: exactly 100 reach the server', async () => {
    const perCall = expectedNano(SERVED, { model: SERVED, usage: chatUsage(USAGE) })
    const { manager, events } = await setup((perCall * 100) / 1e9)
    // The estimate equals the actual cost, so the outcome does not depend on timing.
    const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' }, estimate: perCall / 1e9 })
    server.defaultBehavior = { usage: USAGE, chunkDelayMs: 2 }
    const model = chat(handler)
    // LangChain logs every error a raiseError handler throws (100 refusals) before rethrowing it.
    const silence = vi.spyOn(console, 'error').mockImplementation(() => {})
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, async () => {
        for await (const _ of await model.stream('Hi')) {
          // consume
        }
      }),
    )
    silence.mockRestore()
    const refused = results.filter((r) => r.status === 'rejected')
    expect(server.count()).toBe(100)
    expect(refused).toHaveLength(100)
    expect(refused.every((r) => (r as PromiseRejectedResult).reason instanceof BudgetExceededError)).toBe(true)
    expect(events).toHaveLength(100)
    expect(events.every((e) => !e.estimated && e.record['costNanoUsd'] === perCall)).toBe(true)
    expect(handler.inFlight).toBe(0)
    expect(await reserved(manager)).toBe(0)
  })
})
