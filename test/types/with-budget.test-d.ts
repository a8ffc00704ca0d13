// Type tests of the published declarations: `llm-budget` resolves to the built dist/ (`npm test` builds first).
/**
 * Type tests of `withBudget` (SPEC 7): the wrapped function keeps the parameters and the (awaited) result,
 * streams included, and the `context` and `estimate` functions are typed by the wrapped function's arguments.
 */
import OpenAI from 'openai'
import { describe, expectTypeOf, it } from 'vitest'
import {
  BudgetManager,
  withBudget,
  type BudgetedFunction,
  type CallContext,
  type CommitOutcome,
  type Reservation,
} from 'llm-budget'

const manager = new BudgetManager()
interface Request {
  model: string
  prompt: string
  maxTokens: number
}
interface Chunk {
  delta: string
  usage?: { input: number; output: number }
}

describe('withBudget keeps the signature', () => {
  it('parameters, optional and rest parameters', () => {
    const wrapped = withBudget(
      async (request: Request, signal?: AbortSignal, ...tags: string[]) => ({
        text: request.prompt,
        n: tags.length,
        aborted: signal?.aborted,
      }),
      {
        manager,
        context: { user: 'a' },
        estimate: 0.01,
      },
    )
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[request: Request, signal?: AbortSignal, ...tags: string[]]>()
    expectTypeOf(wrapped).returns.resolves.toEqualTypeOf<{ text: string; n: number; aborted: boolean | undefined }>()
    // @ts-expect-error wrong argument type
    void wrapped({ model: 'm', prompt: 1, maxTokens: 1 })
    // @ts-expect-error missing argument
    void wrapped()
  })

  it('an async generator stays an AsyncGenerator of the same chunks', () => {
    async function* generate(request: Request): AsyncGenerator<Chunk, void, undefined> {
      yield { delta: request.prompt }
    }
    const wrapped = withBudget(generate, { manager, context: { user: 'a' }, estimate: 0.01 })
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[request: Request]>()
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<AsyncGenerator<Chunk, void, undefined>>>()
  })

  it('a promise of an AsyncIterable stays a promise of the same AsyncIterable', () => {
    const wrapped = withBudget(
      async (request: Request): Promise<AsyncIterable<Chunk>> => ({
        async *[Symbol.asyncIterator]() {
          yield { delta: request.prompt }
        },
      }),
      {
        manager,
        context: { user: 'a' },
        estimate: 0.01,
      },
    )
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<AsyncIterable<Chunk>>>()
  })

  it('for streams, the cost / usage / model / cacheHit callbacks receive the chunks', () => {
    withBudget(async (_request: Request) => new ReadableStream<Chunk>(), {
      manager,
      context: { user: 'a' },
      estimate: 0.01,
      usage: (result) => {
        expectTypeOf(result).toEqualTypeOf<Chunk[]>()
        return result.at(-1)?.usage
      },
      cost: (result) => result.length * 0.001,
    })
    withBudget(
      async function* (_request: Request) {
        yield { delta: 'x' } as Chunk
      },
      {
        manager,
        context: { user: 'a' },
        estimate: 0.01,
        model: (_args, result) => {
          expectTypeOf(result).toEqualTypeOf<Chunk[]>()
          return 'gpt-4o'
        },
        // @ts-expect-error a stream's chunks are an array, not the stream
        cacheHit: (result) => result.getReader() !== undefined,
      },
    )
    withBudget(async (request: Request) => ({ text: request.prompt, model: request.model }), {
      manager,
      context: { user: 'a' },
      estimate: 0.01,
      cost: (result) => {
        expectTypeOf(result).toEqualTypeOf<{ text: string; model: string }>()
        return 0.001
      },
    })
  })

  it('a ReadableStream result keeps its chunk type', () => {
    const bytes = withBudget(
      (request: Request) =>
        new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(new TextEncoder().encode(request.prompt)) }),
      {
        manager,
        context: { user: 'a' },
        estimate: 0.01,
      },
    )
    expectTypeOf(bytes).returns.toEqualTypeOf<Promise<ReadableStream<Uint8Array>>>()
    const chunks = withBudget(async (_request: Request) => new ReadableStream<Chunk>(), {
      manager,
      context: { user: 'a' },
      estimate: 0.01,
    })
    expectTypeOf(chunks).returns.toEqualTypeOf<Promise<ReadableStream<Chunk>>>()
  })

  it("the real OpenAI SDK's streamed and plain results", () => {
    const client = new OpenAI({ apiKey: 'k' })
    const stream = withBudget(
      (request: OpenAI.Chat.ChatCompletionCreateParamsStreaming) => client.chat.completions.create(request),
      { manager, context: { user: 'a' } },
    )
    expectTypeOf(stream).returns.resolves.toExtend<AsyncIterable<OpenAI.Chat.ChatCompletionChunk>>()
    expectTypeOf(stream).parameters.toEqualTypeOf<[request: OpenAI.Chat.ChatCompletionCreateParamsStreaming]>()
    const create = (request: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming) =>
      client.chat.completions.create(request)
    const plain = withBudget(create, { manager, context: { user: 'a' } })
    // The SDK's APIPromise becomes a plain Promise of what it resolves to (`_request_id` included).
    expectTypeOf(plain).returns.toEqualTypeOf<Promise<Awaited<ReturnType<typeof create>>>>()
    expectTypeOf(plain).returns.resolves.toExtend<OpenAI.Chat.ChatCompletion>()
    expectTypeOf(plain).returns.resolves.toHaveProperty('_request_id')
  })

  it('the result type is BudgetedFunction<F>, `this` included', () => {
    const fn = async (request: Request) => request.maxTokens
    expectTypeOf(withBudget(fn, { manager, context: { user: 'a' }, estimate: 0.01 })).toEqualTypeOf<
      BudgetedFunction<typeof fn>
    >()
    function method(this: { base: number }, n: number): number {
      return this.base + n
    }
    const wrapped = withBudget(method, { manager, context: { user: 'a' }, estimate: 0.01 })
    expectTypeOf(wrapped).thisParameter.toEqualTypeOf<{ base: number }>()
    const holder = { base: 1, wrapped }
    expectTypeOf(holder.wrapped(2)).toEqualTypeOf<Promise<number>>()
  })
})

describe('context and estimate are typed by the arguments', () => {
  it('receive the wrapped function arguments', () => {
    withBudget(async (request: Request, user: string) => request.prompt + user, {
      manager,
      context: (request, user) => {
        expectTypeOf(request).toEqualTypeOf<Request>()
        expectTypeOf(user).toEqualTypeOf<string>()
        return { user, tags: [request.model] }
      },
      estimate: async (request) => {
        expectTypeOf(request).toEqualTypeOf<Request>()
        return { model: request.model, inputTokens: request.prompt.length, maxOutputTokens: request.maxTokens }
      },
    })
  })

  it('wrong argument types, wrong return types and unknown fields are type errors', () => {
    const fn = async (request: Request) => request.prompt
    // @ts-expect-error context receives a Request, not a number
    withBudget(fn, { manager, context: (n: number) => ({ user: String(n) }) })
    // @ts-expect-error estimate receives a Request, not a string
    withBudget(fn, { manager, context: { user: 'a' }, estimate: (prompt: string) => prompt.length })
    // @ts-expect-error estimate returns a USD number or an estimate request, not a string
    withBudget(fn, { manager, context: { user: 'a' }, estimate: () => '0.01' })
    // @ts-expect-error context returns a call context
    withBudget(fn, { manager, context: () => 'alice' })
    // @ts-expect-error `users` is not a context field
    withBudget(fn, { manager, context: () => ({ users: 'alice' }) })
    // @ts-expect-error the wrapped function takes one argument; context cannot ask for a second one of another type
    withBudget(fn, { manager, context: (_r: Request, extra: number) => ({ user: String(extra) }) })
    // @ts-expect-error `manager` is required
    withBudget(fn, { context: { user: 'a' } })
    expectTypeOf<CallContext>().toHaveProperty('user').toEqualTypeOf<string | undefined>()
  })

  it('cost, usage and model callbacks see the awaited result and the arguments', () => {
    withBudget(async (request: Request) => ({ text: request.prompt, tokens: 3 }), {
      manager,
      context: { user: 'a' },
      usage: (result, args) => {
        expectTypeOf(result).toEqualTypeOf<{ text: string; tokens: number }>()
        expectTypeOf(args).toEqualTypeOf<[request: Request]>()
        return { prompt_tokens: result.tokens, completion_tokens: 1 }
      },
      model: (args) => args[0].model,
    })
    // @ts-expect-error cost returns a USD number
    withBudget(async (r: Request) => r, { manager, context: { user: 'a' }, cost: () => '0.1' })
  })
})

describe('withBudget types: callbacks and the reservation API', () => {
  it('keeps the parameters and the resolved result of an async function', () => {
    const fn = async (prompt: string, options: { maxTokens: number }) => ({ text: prompt, tokens: options.maxTokens })
    const wrapped = withBudget(fn, { manager, context: { user: 'a' }, estimate: 0.01 })
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[string, { maxTokens: number }]>()
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<{ text: string; tokens: number }>>()
    expectTypeOf<typeof wrapped>().toEqualTypeOf<
      (this: unknown, prompt: string, options: { maxTokens: number }) => Promise<{ text: string; tokens: number }>
    >()
  })

  it('a sync function becomes async with the same parameters', () => {
    const wrapped = withBudget((n: number) => n * 2, { manager, context: { user: 'a' }, estimate: 0.01 })
    expectTypeOf(wrapped).parameters.toEqualTypeOf<[number]>()
    expectTypeOf(wrapped).returns.toEqualTypeOf<Promise<number>>()
  })

  it('context, estimate, cost, usage and model callbacks are typed from the function', () => {
    withBudget(async (user: string, amount: number) => ({ usd: amount, user }), {
      manager,
      context: (user, amount) => {
        expectTypeOf(user).toEqualTypeOf<string>()
        expectTypeOf(amount).toEqualTypeOf<number>()
        return { user }
      },
      estimate: (_user, amount) => amount,
      cost: (result, args) => {
        expectTypeOf(result).toEqualTypeOf<{ usd: number; user: string }>()
        expectTypeOf(args).toEqualTypeOf<[user: string, amount: number]>()
        return result.usd
      },
      model: () => 'gpt-4o',
    })
    // @ts-expect-error the context callback receives the wrapped function's arguments
    withBudget(async (n: number) => n, { manager, context: (n: string) => ({ user: n }) })
    // @ts-expect-error unknown context fields are refused
    withBudget(async () => 1, { manager, context: { users: 'a' } })
  })

  it('reserve returns a Reservation whose commit resolves to a CommitOutcome', () => {
    expectTypeOf(manager.reserve({ user: 'a' }, 0.1)).resolves.toEqualTypeOf<Reservation>()
    expectTypeOf<ReturnType<Reservation['commit']>>().toEqualTypeOf<Promise<CommitOutcome>>()
    expectTypeOf(manager.getStatus('team:x')).resolves.toHaveProperty('resetsAt').toEqualTypeOf<Date | null>()
  })
})
