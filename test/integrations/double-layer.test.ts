/**
 * Two budget layers over one LLM call (the AI SDK middleware twice, or over a budgeted fetch; two LangChain handlers
 * on one run; withBedrockBudget twice) would reserve and charge it twice: each is refused (ADR 0078), and the
 * legitimate nestings (a tool that calls another budgeted model, a chain of two models) are charged once per call.
 * The real `ai`, `@langchain/openai` and `@aws-sdk/client-bedrock-runtime` packages against local wire servers.
 */
import { createOpenAI } from '@ai-sdk/openai'
import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime'
import { RunnableLambda } from '@langchain/core/runnables'
import { ChatOpenAI } from '@langchain/openai'
import { generateText, type LanguageModelMiddleware, stepCountIs, streamText, tool, wrapLanguageModel } from 'ai'
import OpenAI from 'openai'
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { BudgetConfigError } from '../../src/errors.js'
import { budgetMiddleware } from '../../src/integrations/ai-sdk.js'
import { withBedrockBudget } from '../../src/integrations/bedrock.js'
import { BudgetCallbackHandler } from '../../src/integrations/langchain.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import { expectedNano, reserved, setup, spend } from './helpers.js'
import { converseUsage, startBedrockServer } from './servers/bedrock.js'
import { chatUsage, startOpenAIServer, type WireServer, type WireUsage } from './servers/openai.js'

let openai: WireServer
let bedrock: WireServer
beforeAll(async () => {
  openai = await startOpenAIServer()
  bedrock = await startBedrockServer()
})
afterAll(async () => {
  await openai.close()
  await bedrock.close()
})
beforeEach(() => {
  openai.reset()
  bedrock.reset()
})

const USAGE: WireUsage = { input: 1421, output: 58, cacheRead: 1280, reasoning: 0 }
const MINI = 'gpt-4o-mini-2024-07-18'
const NANO = expectedNano(MINI, { model: MINI, usage: chatUsage(USAGE) })
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function provider() {
  return createOpenAI({ apiKey: 'sk-test', baseURL: `${openai.url}/v1` })
}

/** Runs `call`, returns what it threw (or `undefined`). */
async function caught(call: () => unknown): Promise<unknown> {
  try {
    await call()
  } catch (error) {
    return error
  }
  return undefined
}

/** Nothing charged, nothing held, nothing sent, and the error a typed BudgetConfigError naming the double charge. */
async function expectRefused(
  error: unknown,
  ctx: Awaited<ReturnType<typeof setup>>,
  server: WireServer,
  scope: 'user:alice' = 'user:alice',
): Promise<void> {
  await sleep(50)
  // On the old code: two records, and the spend twice the call's price.
  expect(ctx.events.map((e) => e.record['costNanoUsd'])).toEqual([])
  expect(await spend(ctx.manager, scope)).toBe(0)
  expect(error).toBeInstanceOf(BudgetConfigError)
  expect((error as Error).message).toMatch(/twice/)
  expect(await reserved(ctx.manager, scope)).toBe(0)
  expect(server.requests).toHaveLength(0)
}

describe('AI SDK: budgetMiddleware over a model that is already budgeted', () => {
  it('wrapLanguageModel of a wrapLanguageModel with budgetMiddleware: refused, nothing charged', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const options = { manager: ctx.manager, context: { user: 'alice' } }
    const error = await caught(() => {
      const inner = wrapLanguageModel({ model: provider().chat('gpt-4o-mini'), middleware: budgetMiddleware(options) })
      const model = wrapLanguageModel({ model: inner, middleware: budgetMiddleware(options) })
      return generateText({ model, prompt: 'Capital of France?', maxOutputTokens: 100, maxRetries: 0 })
    })
    await expectRefused(error, ctx, openai)
  })

  it('middleware: [budgetMiddleware(a), budgetMiddleware(b)]: refused, nothing charged', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const error = await caught(() => {
      const model = wrapLanguageModel({
        model: provider().chat('gpt-4o-mini'),
        middleware: [
          budgetMiddleware({ manager: ctx.manager, context: { user: 'alice' } }),
          budgetMiddleware({ manager: ctx.manager, context: { user: 'alice', team: 'search' } }),
        ],
      })
      const result = streamText({ model, prompt: 'Capital of France?', maxOutputTokens: 100, maxRetries: 0 })
      return result.text
    })
    await expectRefused(error, ctx, openai)
  })

  it('a middleware between them that hides the first from wrapLanguageModel: refused at call time, hold released', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const options = { manager: ctx.manager, context: { user: 'alice' } }
    const hiding: LanguageModelMiddleware = { specificationVersion: 'v3', overrideSupportedUrls: () => ({}) }
    const model = wrapLanguageModel({
      model: provider().chat('gpt-4o-mini'),
      middleware: [budgetMiddleware(options), hiding, budgetMiddleware(options)],
    })
    for (const run of ['generate', 'stream'] as const) {
      let streamError: unknown
      const error = await caught(() =>
        run === 'generate'
          ? generateText({ model, prompt: 'Capital of France?', maxOutputTokens: 100, maxRetries: 0 })
          : streamText({
              model,
              prompt: 'Capital of France?',
              maxOutputTokens: 100,
              maxRetries: 0,
              onError: ({ error }) => {
                streamError = error
              },
            }).text,
      )
      await expectRefused(run === 'generate' ? error : streamError, ctx, openai)
    }
  })

  it('a middleware over a provider whose fetch is a budgeted fetch: refused, nothing charged', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const options = { manager: ctx.manager, context: { user: 'alice' } }
    const client = withOpenAIBudget(new OpenAI({ apiKey: 'sk-test', baseURL: `${openai.url}/v1` }), options)
    const budgetedFetch = (client as unknown as { fetch: typeof fetch }).fetch
    const error = await caught(() => {
      const base = createOpenAI({ apiKey: 'sk-test', baseURL: `${openai.url}/v1`, fetch: budgetedFetch })
      const model = wrapLanguageModel({ model: base.chat('gpt-4o-mini'), middleware: budgetMiddleware(options) })
      return generateText({ model, prompt: 'Capital of France?', maxOutputTokens: 100, maxRetries: 0 })
    })
    await expectRefused(error, ctx, openai)
  })

  it('still fine: one model wrapped twice side by side (two contexts), each call charged once', async () => {
    const ctx = await setup()
    await ctx.manager.setBudget('team:search', { maxBudget: 100, duration: 'daily' })
    openai.defaultBehavior = { usage: USAGE }
    const base = provider().chat('gpt-4o-mini')
    const alice = wrapLanguageModel({
      model: base,
      middleware: budgetMiddleware({ manager: ctx.manager, context: { user: 'alice' } }),
    })
    const search = wrapLanguageModel({
      model: base,
      middleware: budgetMiddleware({ manager: ctx.manager, context: { team: 'search' } }),
    })
    await generateText({ model: alice, prompt: 'Hi', maxOutputTokens: 100 })
    await generateText({ model: search, prompt: 'Hi', maxOutputTokens: 100 })
    expect(ctx.events.map((e) => e.record['costNanoUsd'])).toEqual([NANO, NANO])
    expect(await spend(ctx.manager)).toBe(NANO / 1e9)
    expect(await spend(ctx.manager, 'team:search')).toBe(NANO / 1e9)
    expect(openai.requests).toHaveLength(2)
  })

  it('still fine: a tool of a budgeted agent that calls another budgeted model is charged once per model call', async () => {
    const ctx = await setup()
    const options = { manager: ctx.manager, context: { user: 'alice' } }
    const inner = wrapLanguageModel({ model: provider().chat('gpt-4o-mini'), middleware: budgetMiddleware(options) })
    const outer = wrapLanguageModel({ model: provider().chat('gpt-4o-mini'), middleware: budgetMiddleware(options) })
    const ask = tool({
      description: 'Ask another model',
      inputSchema: z.object({ question: z.string() }),
      execute: async ({ question }) => (await generateText({ model: inner, prompt: question })).text,
    })
    openai.defaultBehavior = { usage: USAGE }
    // Step 1 calls the tool (whose model call is the 2nd request), step 2 answers: three real calls.
    openai.enqueue({ usage: USAGE, toolCall: { name: 'ask', arguments: '{"question":"Capital of France?"}' } })
    for (const run of ['generate', 'stream'] as const) {
      ctx.events.length = 0
      openai.requests.length = 0
      if (run === 'stream')
        openai.enqueue({ usage: USAGE, toolCall: { name: 'ask', arguments: '{"question":"Capital of France?"}' } })
      const prompt = 'Use the tool.'
      const result =
        run === 'generate'
          ? await generateText({ model: outer, tools: { ask }, stopWhen: stepCountIs(3), prompt })
          : await streamText({ model: outer, tools: { ask }, stopWhen: stepCountIs(3), prompt }).steps
      expect(result).toBeDefined()
      await vi.waitFor(() => expect(ctx.events).toHaveLength(3))
      expect(openai.requests).toHaveLength(3)
      expect(ctx.events.map((e) => e.record['costNanoUsd'])).toEqual([NANO, NANO, NANO])
    }
    expect(await spend(ctx.manager)).toBe((6 * NANO) / 1e9)
    expect(await reserved(ctx.manager)).toBe(0)
  })
})

describe('LangChain: two budget handlers on one run', () => {
  function chat(callbacks: BudgetCallbackHandler[]): ChatOpenAI {
    return new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: 'sk-test',
      configuration: { baseURL: `${openai.url}/v1` },
      maxRetries: 0,
      maxTokens: 100,
      callbacks,
    })
  }

  it('the same handler on the model and again in invoke callbacks: LangChain calls it once, charged once', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const handler = new BudgetCallbackHandler({ manager: ctx.manager })
    await chat([handler]).invoke('Hi', { callbacks: [handler], metadata: { user: 'alice' } })
    await vi.waitFor(() => expect(ctx.events).toHaveLength(1))
    expect(ctx.events.map((e) => e.record['costNanoUsd'])).toEqual([NANO])
    expect(await spend(ctx.manager)).toBe(NANO / 1e9)
    expect(await reserved(ctx.manager)).toBe(0)
    expect(handler.inFlight).toBe(0)
  })

  it('two handlers on one model: refused, nothing charged, no hold left', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const first = new BudgetCallbackHandler({ manager: ctx.manager })
    const second = new BudgetCallbackHandler({ manager: ctx.manager })
    const calls = [
      () => chat([first, second]).invoke('Hi', { metadata: { user: 'alice' } }),
      () => chat([first]).invoke('Hi', { callbacks: [second], metadata: { user: 'alice' } }),
    ]
    for (const call of calls) {
      const error = await caught(call)
      await expectRefused(error, ctx, openai)
      expect(first.inFlight + second.inFlight).toBe(0)
    }
  })

  it('a handler on a ChatOpenAI whose configuration.fetch is a budgeted fetch: refused, nothing charged', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const client = withOpenAIBudget(new OpenAI({ apiKey: 'sk-test', baseURL: `${openai.url}/v1` }), {
      manager: ctx.manager,
      context: { user: 'alice' },
    })
    const model = new ChatOpenAI({
      model: 'gpt-4o-mini',
      apiKey: 'sk-test',
      configuration: { baseURL: `${openai.url}/v1`, fetch: (client as unknown as { fetch: typeof fetch }).fetch },
      maxRetries: 0,
      maxTokens: 100,
      callbacks: [new BudgetCallbackHandler({ manager: ctx.manager })],
    })
    const error = await caught(() => model.invoke('Hi', { metadata: { user: 'alice' } }))
    await expectRefused(error, ctx, openai)
  })

  it('still fine: a chain of two models, each with its own handler, is charged once per model call', async () => {
    const ctx = await setup()
    openai.defaultBehavior = { usage: USAGE }
    const a = new BudgetCallbackHandler({ manager: ctx.manager })
    const b = new BudgetCallbackHandler({ manager: ctx.manager })
    const chain = chat([a])
      .pipe(RunnableLambda.from((message: { content: unknown }) => `Summarise: ${String(message.content)}`))
      .pipe(chat([b]))
    await chain.invoke('Hi', { metadata: { user: 'alice' } })
    await vi.waitFor(() => expect(ctx.events).toHaveLength(2))
    expect(openai.requests).toHaveLength(2)
    expect(await reserved(ctx.manager)).toBe(0)
    expect(a.inFlight + b.inFlight).toBe(0)
    expect(ctx.events.map((e) => e.record['costNanoUsd'])).toEqual([NANO, NANO])
    expect(await spend(ctx.manager)).toBe((2 * NANO) / 1e9)
  })
})

describe('Bedrock: withBedrockBudget over a budgeted client', () => {
  const CLIENT = {
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    maxAttempts: 1,
  }
  const PROFILE = 'us.anthropic.claude-sonnet-4-20250514-v1:0'
  const messages = [{ role: 'user' as const, content: [{ text: 'What is the capital of France?' }] }]

  it('wrapping a budgeted client again: BudgetConfigError at wrap time, the original still wraps', async () => {
    const ctx = await setup()
    bedrock.defaultBehavior = { usage: USAGE }
    const original = new BedrockRuntimeClient({ ...CLIENT, endpoint: bedrock.url })
    const options = { manager: ctx.manager, context: { user: 'alice' } }
    const once = withBedrockBudget(original, options)
    const error = await caught(() => {
      // On the old code the second wrapper's middleware replaced the first's: charged once, against the team only,
      // and alice's budget (the first wrapper's) silently skipped.
      const twice = withBedrockBudget(once, { manager: ctx.manager, context: { team: 'search' } })
      return twice.send(new ConverseCommand({ modelId: PROFILE, messages, inferenceConfig: { maxTokens: 300 } }))
    })
    await expectRefused(error, ctx, bedrock)
    // The original and the first wrapper are untouched: each call through a budgeted view is charged once.
    await once.send(new ConverseCommand({ modelId: PROFILE, messages, inferenceConfig: { maxTokens: 300 } }))
    const again = withBedrockBudget(original, options)
    await again.send(new ConverseCommand({ modelId: PROFILE, messages, inferenceConfig: { maxTokens: 300 } }))
    const nano = expectedNano(PROFILE, { usage: converseUsage(USAGE), stopReason: 'end_turn' }, 'bedrock')
    expect(ctx.events.map((e) => e.record['costNanoUsd'])).toEqual([nano, nano])
    expect(bedrock.requests).toHaveLength(2)
  })
})
