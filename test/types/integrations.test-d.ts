// Type tests of the published declarations: `llm-budget` resolves to the built dist/ (`npm test` builds first).
/**
 * Type tests of the integration entry points (SPEC 7, fixed names): each returns or is exactly what its SDK
 * expects, so wrapping a client never changes the code that uses it.
 */
import { createOpenAI } from '@ai-sdk/openai'
import Anthropic from '@anthropic-ai/sdk'
import type { Callbacks } from '@langchain/core/callbacks/manager'
import { ChatOpenAI } from '@langchain/openai'
import { wrapLanguageModel, type LanguageModelMiddleware } from 'ai'
import OpenAI from 'openai'
import { describe, expectTypeOf, it } from 'vitest'
import { BudgetManager } from 'llm-budget'
import { budgetMiddleware, type AiSdkRequest } from 'llm-budget/ai-sdk'
import { withAnthropicBudget } from 'llm-budget/anthropic'
import { BudgetCallbackHandler, type LangChainRequest } from 'llm-budget/langchain'
import { withOpenAIBudget, type WireRequest } from 'llm-budget/openai'

const manager = new BudgetManager()

describe('withOpenAIBudget', () => {
  it('returns exactly the client type', () => {
    const client = withOpenAIBudget(new OpenAI({ apiKey: 'k' }), { manager, context: { user: 'alice' } })
    expectTypeOf(client).toEqualTypeOf<OpenAI>()
    expectTypeOf(client.chat.completions.create).toEqualTypeOf<OpenAI['chat']['completions']['create']>()
    // A subclass stays the subclass.
    class MyOpenAI extends OpenAI {
      readonly tenant = 'acme'
    }
    expectTypeOf(
      withOpenAIBudget(new MyOpenAI({ apiKey: 'k' }), { manager, context: { user: 'a' } }),
    ).toEqualTypeOf<MyOpenAI>()
  })

  it('context and estimate functions receive the wire request', () => {
    withOpenAIBudget(new OpenAI({ apiKey: 'k' }), {
      manager,
      context: (request) => {
        expectTypeOf(request).toEqualTypeOf<WireRequest>()
        expectTypeOf(request.params).toEqualTypeOf<Record<string, unknown>>()
        return { user: String(request.headers.get('x-user')) }
      },
      estimate: (request, defaults) => ({ ...defaults, model: request.model }),
    })
    // @ts-expect-error the context function receives a WireRequest, not a string
    withOpenAIBudget(new OpenAI({ apiKey: 'k' }), { manager, context: (request: string) => ({ user: request }) })
    // @ts-expect-error only OpenAI clients
    withOpenAIBudget(new Anthropic({ apiKey: 'k' }), { manager, context: { user: 'a' } })
    // @ts-expect-error `manager` is required
    withOpenAIBudget(new OpenAI({ apiKey: 'k' }), { context: { user: 'a' } })
  })
})

describe('withAnthropicBudget', () => {
  it('returns exactly the client type', () => {
    const client = withAnthropicBudget(new Anthropic({ apiKey: 'k' }), { manager, context: { user: 'alice' } })
    expectTypeOf(client).toEqualTypeOf<Anthropic>()
    expectTypeOf(client.messages.create).toEqualTypeOf<Anthropic['messages']['create']>()
    expectTypeOf(client.messages.stream).toEqualTypeOf<Anthropic['messages']['stream']>()
    // @ts-expect-error only Anthropic clients
    withAnthropicBudget(new OpenAI({ apiKey: 'k' }), { manager, context: { user: 'a' } })
  })
})

describe('budgetMiddleware', () => {
  it('is the AI SDK LanguageModelMiddleware and plugs into wrapLanguageModel', () => {
    const middleware = budgetMiddleware({
      manager,
      context: (request) => {
        expectTypeOf(request).toEqualTypeOf<AiSdkRequest>()
        expectTypeOf(request.type).toEqualTypeOf<'generate' | 'stream'>()
        return { user: request.modelId }
      },
    })
    expectTypeOf(middleware).toExtend<LanguageModelMiddleware>()
    const openai = createOpenAI({ apiKey: 'k' })
    const model = wrapLanguageModel({ model: openai('gpt-4o-mini'), middleware })
    expectTypeOf(model).toHaveProperty('doGenerate')
    wrapLanguageModel({ model: openai('gpt-4o-mini'), middleware: [middleware, middleware] })
  })
})

describe('BudgetCallbackHandler', () => {
  it("is accepted in LangChain's `callbacks` option, on the model and on one call", () => {
    const handler = new BudgetCallbackHandler({
      manager,
      context: (run) => {
        expectTypeOf(run).toEqualTypeOf<LangChainRequest>()
        return { user: String(run.metadata['user']) }
      },
    })
    expectTypeOf([handler]).toExtend<Callbacks>()
    const model = new ChatOpenAI({ model: 'gpt-4o-mini', apiKey: 'k', callbacks: [handler] })
    void model.invoke('Hello', { callbacks: [handler], metadata: { user: 'alice' } })
    // @ts-expect-error the context function receives a LangChainRequest
    new BudgetCallbackHandler({ manager, context: (run: number) => ({ user: String(run) }) })
  })
})
