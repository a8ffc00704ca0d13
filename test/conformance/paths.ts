/**
 * The paths of the conformance suite: every way a call reaches a provider through llm-budget, each driven with the
 * real SDK package against the local wire servers. A driver makes one call and ends it the way it is told: read to
 * the end, `break` out of the stream after the first piece, or abort it after the first piece.
 */
import { createOpenAI } from '@ai-sdk/openai'
import Anthropic from '@anthropic-ai/sdk'
import { ChatAnthropic } from '@langchain/anthropic'
import { ChatOpenAI } from '@langchain/openai'
import { createOpenRouter } from '@openrouter/ai-sdk-provider'
import { generateText, streamText, wrapLanguageModel } from 'ai'
import { Mistral } from '@mistralai/mistralai'
import { CohereClientV2 } from 'cohere-ai'
import Groq from 'groq-sdk'
import OpenAI from 'openai'
import type { BudgetManager } from '../../src/budget/manager.js'
import { withBudget } from '../../src/budget/with-budget.js'
import { budgetMiddleware } from '../../src/integrations/ai-sdk.js'
import { withAnthropicBudget } from '../../src/integrations/anthropic.js'
import { withMistralBudget } from '../../src/integrations/mistral.js'
import { withCohereBudget } from '../../src/integrations/cohere.js'
import { withGroqBudget } from '../../src/integrations/groq.js'
import { BudgetCallbackHandler } from '../../src/integrations/langchain.js'
import { withOpenAIBudget } from '../../src/integrations/openai.js'
import type { WireServer } from '../integrations/servers/base.js'

/** How the caller ends the call. */
export type Ending = 'read' | 'break' | 'abort'

/** The local servers a driver talks to. */
export interface Servers {
  openai: WireServer
  anthropic: WireServer
  mistral: WireServer
  cohere: WireServer
  groq: WireServer
  openrouter: WireServer
}

/** One path: how to make a call through it. */
export interface Path {
  name: string
  /** True for streamed paths (the only ones a caller can `break` out of or abort mid-way). */
  streamed: boolean
  provider: keyof Servers
  /** The model requested, and the cheaper fallback a budget may admit instead. */
  model: string
  fallback: string
  /** A limit between the fallback's worst case and the requested model's (max 1000 output tokens). */
  fallbackLimit: number
  /**
   * True when the SDK validates responses and throws on a body without usage (Mistral's): the call is still recorded,
   * estimated, and the caller gets the SDK's error.
   */
  requiresUsage?: boolean
  /** Makes one call for `user: alice` and ends it as told. Throws what the call throws. */
  run(manager: BudgetManager, servers: Servers, ending: Ending): Promise<void>
}

const PROMPT = 'What is the capital of France?'
const OPENAI = { model: 'gpt-4o', fallback: 'gpt-4o-mini', fallbackLimit: 0.005 }
const ANTHROPIC = { model: 'claude-sonnet-4-5', fallback: 'claude-haiku-4-5', fallbackLimit: 0.01 }

function openaiSdk(servers: Servers): OpenAI {
  return new OpenAI({ apiKey: 'sk-test', baseURL: `${servers.openai.url}/v1`, maxRetries: 0 })
}

function anthropicSdk(servers: Servers): Anthropic {
  return new Anthropic({ apiKey: 'sk-ant-test', baseURL: servers.anthropic.url, maxRetries: 0 })
}

/** Reads a stream to its end, or stops after its first piece by `break` or by aborting `controller`. */
async function consume(stream: AsyncIterable<unknown>, ending: Ending, controller: AbortController): Promise<void> {
  for await (const _ of stream) {
    if (ending === 'break') break
    if (ending === 'abort') controller.abort()
  }
}

const withBudgetPlain: Path = {
  name: 'withBudget',
  streamed: false,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers) {
    const client = openaiSdk(servers)
    const call = withBudget(
      (request: OpenAI.ChatCompletionCreateParamsNonStreaming) => client.chat.completions.create(request),
      {
        manager,
        context: { user: 'alice' },
        applyModel: (args, model) => [{ ...args[0], model }],
      },
    )
    await call({ model: OPENAI.model, messages: [{ role: 'user', content: PROMPT }], max_tokens: 1000 })
  },
}

const withBudgetStreamed: Path = {
  name: 'withBudget streamed',
  streamed: true,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers, ending) {
    const client = openaiSdk(servers)
    const controller = new AbortController()
    const call = withBudget(
      (request: OpenAI.ChatCompletionCreateParamsStreaming, options: { signal: AbortSignal }) =>
        client.chat.completions.create(request, options),
      {
        manager,
        context: { user: 'alice' },
        applyModel: (args, model) => [{ ...args[0], model }, ...args.slice(1)],
      },
    )
    const request = {
      model: OPENAI.model,
      messages: [{ role: 'user' as const, content: PROMPT }],
      max_tokens: 1000,
      stream: true as const,
      stream_options: { include_usage: true },
    }
    const stream = await call(request, { signal: controller.signal })
    await consume(stream, ending, controller)
  },
}

const openaiChat: Path = {
  name: 'OpenAI chat',
  streamed: false,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers) {
    const openai = withOpenAIBudget(openaiSdk(servers), { manager, context: { user: 'alice' } })
    await openai.chat.completions.create({
      model: OPENAI.model,
      messages: [{ role: 'user', content: PROMPT }],
      max_tokens: 1000,
    })
  },
}

const openaiChatStream: Path = {
  name: 'OpenAI chat stream',
  streamed: true,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers, ending) {
    const openai = withOpenAIBudget(openaiSdk(servers), { manager, context: { user: 'alice' } })
    const controller = new AbortController()
    const stream = await openai.chat.completions.create(
      { model: OPENAI.model, messages: [{ role: 'user', content: PROMPT }], max_tokens: 1000, stream: true },
      { signal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

const openaiResponses: Path = {
  name: 'OpenAI responses',
  streamed: false,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers) {
    const openai = withOpenAIBudget(openaiSdk(servers), { manager, context: { user: 'alice' } })
    await openai.responses.create({ model: OPENAI.model, input: PROMPT, max_output_tokens: 1000 })
  },
}

const openaiResponsesStream: Path = {
  name: 'OpenAI responses stream',
  streamed: true,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers, ending) {
    const openai = withOpenAIBudget(openaiSdk(servers), { manager, context: { user: 'alice' } })
    const controller = new AbortController()
    const stream = await openai.responses.create(
      { model: OPENAI.model, input: PROMPT, max_output_tokens: 1000, stream: true },
      { signal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

const anthropicMessages: Path = {
  name: 'Anthropic messages',
  streamed: false,
  provider: 'anthropic',
  ...ANTHROPIC,
  async run(manager, servers) {
    const anthropic = withAnthropicBudget(anthropicSdk(servers), { manager, context: { user: 'alice' } })
    await anthropic.messages.create({
      model: ANTHROPIC.model,
      max_tokens: 1000,
      messages: [{ role: 'user', content: PROMPT }],
    })
  },
}

const anthropicStream: Path = {
  name: 'Anthropic stream',
  streamed: true,
  provider: 'anthropic',
  ...ANTHROPIC,
  async run(manager, servers, ending) {
    const anthropic = withAnthropicBudget(anthropicSdk(servers), { manager, context: { user: 'alice' } })
    const controller = new AbortController()
    const stream = await anthropic.messages.create(
      { model: ANTHROPIC.model, max_tokens: 1000, messages: [{ role: 'user', content: PROMPT }], stream: true },
      { signal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

function aiSdkModel(manager: BudgetManager, servers: Servers) {
  const provider = createOpenAI({ apiKey: 'sk-test', baseURL: `${servers.openai.url}/v1` })
  return wrapLanguageModel({
    model: provider.chat(OPENAI.model),
    middleware: budgetMiddleware({ manager, context: { user: 'alice' }, resolveModel: (id) => provider.chat(id) }),
  })
}

const aiSdkGenerate: Path = {
  name: 'AI SDK generate',
  streamed: false,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers) {
    await generateText({ model: aiSdkModel(manager, servers), prompt: PROMPT, maxOutputTokens: 1000, maxRetries: 0 })
  },
}

const aiSdkStream: Path = {
  name: 'AI SDK stream',
  streamed: true,
  provider: 'openai',
  ...OPENAI,
  async run(manager, servers, ending) {
    const controller = new AbortController()
    let failure: unknown
    const result = streamText({
      model: aiSdkModel(manager, servers),
      prompt: PROMPT,
      maxOutputTokens: 1000,
      maxRetries: 0,
      abortSignal: controller.signal,
      onError: ({ error }) => {
        failure = error
      },
    })
    await consume(result.textStream, ending, controller)
    if (failure !== undefined) throw failure
  },
}

function langchainModel(
  manager: BudgetManager,
  servers: Servers,
  provider: 'openai' | 'anthropic',
): { model: ChatOpenAI | ChatAnthropic; handler: BudgetCallbackHandler } {
  const handler = new BudgetCallbackHandler({ manager, context: { user: 'alice' } })
  const model =
    provider === 'openai'
      ? new ChatOpenAI({
          model: OPENAI.model,
          apiKey: 'sk-test',
          configuration: { baseURL: `${servers.openai.url}/v1` },
          maxRetries: 0,
          maxTokens: 1000,
          callbacks: [handler],
        })
      : new ChatAnthropic({
          model: ANTHROPIC.model,
          apiKey: 'sk-ant-test',
          anthropicApiUrl: servers.anthropic.url,
          maxRetries: 0,
          maxTokens: 1000,
          callbacks: [handler],
        })
  return { model, handler }
}

function langchainInvoke(provider: 'openai' | 'anthropic'): Path {
  return {
    name: `LangChain invoke (${provider})`,
    streamed: false,
    provider,
    ...(provider === 'openai' ? OPENAI : ANTHROPIC),
    async run(manager, servers) {
      const { model } = langchainModel(manager, servers, provider)
      await model.invoke(PROMPT)
    },
  }
}

function langchainStream(provider: 'openai' | 'anthropic'): Path {
  return {
    name: `LangChain stream (${provider})`,
    streamed: true,
    provider,
    ...(provider === 'openai' ? OPENAI : ANTHROPIC),
    async run(manager, servers, ending) {
      const { model, handler } = langchainModel(manager, servers, provider)
      const controller = new AbortController()
      await consume(await handler.stream(model, PROMPT, { signal: controller.signal }), ending, controller)
    },
  }
}

const MISTRAL = { model: 'mistral-large-latest', fallback: 'mistral-small-latest', fallbackLimit: 0.001 }

function mistralSdk(manager: BudgetManager, servers: Servers): Mistral {
  const client = new Mistral({ apiKey: 'test-key', serverURL: servers.mistral.url })
  return withMistralBudget(client, { manager, context: { user: 'alice' } })
}

const mistralChat: Path = {
  name: 'Mistral chat',
  streamed: false,
  provider: 'mistral',
  ...MISTRAL,
  requiresUsage: true,
  async run(manager, servers) {
    const messages = [{ role: 'user' as const, content: PROMPT }]
    await mistralSdk(manager, servers).chat.complete({ model: MISTRAL.model, messages, maxTokens: 1000 })
  },
}

const mistralStream: Path = {
  name: 'Mistral chat stream',
  streamed: true,
  provider: 'mistral',
  ...MISTRAL,
  async run(manager, servers, ending) {
    const controller = new AbortController()
    const messages = [{ role: 'user' as const, content: PROMPT }]
    const stream = await mistralSdk(manager, servers).chat.stream(
      { model: MISTRAL.model, messages, maxTokens: 1000 },
      { signal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

const COHERE = { model: 'command-a-03-2025', fallback: 'command-r7b-12-2024', fallbackLimit: 0.001 }

function cohereSdk(manager: BudgetManager, servers: Servers): CohereClientV2 {
  const client = new CohereClientV2({ token: 'test-key', environment: servers.cohere.url, maxRetries: 0 })
  return withCohereBudget(client, { manager, context: { user: 'alice' } })
}

const cohereChat: Path = {
  name: 'Cohere chat',
  streamed: false,
  provider: 'cohere',
  ...COHERE,
  async run(manager, servers) {
    const messages = [{ role: 'user' as const, content: PROMPT }]
    await cohereSdk(manager, servers).chat({ model: COHERE.model, messages, maxTokens: 1000 })
  },
}

const cohereStream: Path = {
  name: 'Cohere chat stream',
  streamed: true,
  provider: 'cohere',
  ...COHERE,
  async run(manager, servers, ending) {
    const controller = new AbortController()
    const messages = [{ role: 'user' as const, content: PROMPT }]
    const stream = await cohereSdk(manager, servers).chatStream(
      { model: COHERE.model, messages, maxTokens: 1000 },
      { abortSignal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

const GROQ = { model: 'llama-3.3-70b-versatile', fallback: 'llama-3.1-8b-instant', fallbackLimit: 0.0003 }

function groqSdk(manager: BudgetManager, servers: Servers): Groq {
  const client = new Groq({ apiKey: 'gsk-test', baseURL: servers.groq.url, maxRetries: 0 })
  return withGroqBudget(client, { manager, context: { user: 'alice' } })
}

const groqChat: Path = {
  name: 'Groq chat',
  streamed: false,
  provider: 'groq',
  ...GROQ,
  async run(manager, servers) {
    const messages = [{ role: 'user' as const, content: PROMPT }]
    await groqSdk(manager, servers).chat.completions.create({ model: GROQ.model, messages, max_tokens: 1000 })
  },
}

const groqStream: Path = {
  name: 'Groq chat stream',
  streamed: true,
  provider: 'groq',
  ...GROQ,
  async run(manager, servers, ending) {
    const controller = new AbortController()
    const messages = [{ role: 'user' as const, content: PROMPT }]
    const stream = await groqSdk(manager, servers).chat.completions.create(
      { model: GROQ.model, messages, max_tokens: 1000, stream: true },
      { signal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

const OPENROUTER = { model: 'openai/gpt-4o', fallback: 'openai/gpt-4o-mini', fallbackLimit: 0.005 }

/** An `openai` client set up for OpenRouter (base URL on openrouter.ai), delivering to the local server. */
function openRouterSdk(manager: BudgetManager, servers: Servers): OpenAI {
  const local: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input))
    return fetch(`${servers.openrouter.url}${url.pathname}`, init)
  }
  const client = new OpenAI({ apiKey: 'sk-or', baseURL: 'https://openrouter.ai/api/v1', fetch: local, maxRetries: 0 })
  return withOpenAIBudget(client, { manager, context: { user: 'alice' } })
}

const openRouterChat: Path = {
  name: 'OpenRouter (openai client)',
  streamed: false,
  provider: 'openrouter',
  ...OPENROUTER,
  async run(manager, servers) {
    const messages = [{ role: 'user' as const, content: PROMPT }]
    await openRouterSdk(manager, servers).chat.completions.create({
      model: OPENROUTER.model,
      messages,
      max_tokens: 1000,
    })
  },
}

const openRouterChatStream: Path = {
  name: 'OpenRouter stream (openai client)',
  streamed: true,
  provider: 'openrouter',
  ...OPENROUTER,
  async run(manager, servers, ending) {
    const controller = new AbortController()
    const messages = [{ role: 'user' as const, content: PROMPT }]
    const stream = await openRouterSdk(manager, servers).chat.completions.create(
      { model: OPENROUTER.model, messages, max_tokens: 1000, stream: true },
      { signal: controller.signal },
    )
    await consume(stream, ending, controller)
  },
}

function openRouterAiSdkModel(manager: BudgetManager, servers: Servers) {
  const openrouter = createOpenRouter({ apiKey: 'sk-or', baseURL: `${servers.openrouter.url}/api/v1` })
  const settings = { usage: { include: true } }
  return wrapLanguageModel({
    model: openrouter.chat(OPENROUTER.model, settings),
    middleware: budgetMiddleware({
      manager,
      context: { user: 'alice' },
      resolveModel: (id) => openrouter.chat(id, settings),
    }),
  })
}

const openRouterAiSdkGenerate: Path = {
  name: 'OpenRouter AI SDK generate',
  streamed: false,
  provider: 'openrouter',
  ...OPENROUTER,
  async run(manager, servers) {
    const model = openRouterAiSdkModel(manager, servers)
    await generateText({ model, prompt: PROMPT, maxOutputTokens: 1000, maxRetries: 0 })
  },
}

const openRouterAiSdkStream: Path = {
  name: 'OpenRouter AI SDK stream',
  streamed: true,
  provider: 'openrouter',
  ...OPENROUTER,
  async run(manager, servers, ending) {
    const controller = new AbortController()
    let failure: unknown
    const result = streamText({
      model: openRouterAiSdkModel(manager, servers),
      prompt: PROMPT,
      maxOutputTokens: 1000,
      maxRetries: 0,
      abortSignal: controller.signal,
      onError: ({ error }) => {
        failure = error
      },
    })
    await consume(result.textStream, ending, controller)
    if (failure !== undefined) throw failure
  },
}

/** Every path. */
export const PATHS: readonly Path[] = [
  withBudgetPlain,
  withBudgetStreamed,
  openaiChat,
  openaiChatStream,
  openaiResponses,
  openaiResponsesStream,
  anthropicMessages,
  anthropicStream,
  aiSdkGenerate,
  aiSdkStream,
  langchainInvoke('openai'),
  langchainStream('openai'),
  langchainInvoke('anthropic'),
  langchainStream('anthropic'),
  mistralChat,
  mistralStream,
  cohereChat,
  cohereStream,
  groqChat,
  groqStream,
  openRouterChat,
  openRouterChatStream,
  openRouterAiSdkGenerate,
  openRouterAiSdkStream,
]
