/**
 * BudgetCallbackHandler with the real @langchain/core + @langchain/openai against the local OpenAI wire server.
 */
import { ChatOpenAI } from '@langchain/openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { BudgetExceededError } from '../../src/errors.js'
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

function chat(handler: BudgetCallbackHandler, maxRetries = 0): ChatOpenAI {
  return new ChatOpenAI({ model: 'gpt-4o', apiKey: 'sk-test', configuration: { baseURL: `${server.url}/v1` }, maxRetries, maxTokens: 500, callbacks: [handler] })
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
    for await (const chunk of await model.stream('Summarise the termination clause.', { metadata: { user: 'alice' } })) text += String(chunk.content)
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
