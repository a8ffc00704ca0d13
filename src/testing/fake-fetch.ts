/**
 * A fake LLM endpoint as a `fetch` function: hand it to the real SDKs (`new OpenAI({ fetch })`,
 * `new Anthropic({ fetch })`, `createOpenAI({ fetch })`, `new ChatOpenAI({ configuration: { fetch } })`) and they
 * talk to it as to the provider's API, in the provider's wire format, plain and streamed (SSE), with usage, and
 * without any network. The answers come from {@link fakeOpenAI} and {@link fakeAnthropic}.
 *
 * @packageDocumentation
 */
import { fakeAnthropic, fakeOpenAI, type FakeClientOptions, type FakeRequest } from './fake-llm.js'

/** A `fetch` function that answers like OpenAI's and Anthropic's APIs; `calls` and `requests` record what it got. */
export interface FakeFetch {
  (input: string | URL | Request, init?: RequestInit): Promise<Response>
  /** Requests answered so far (chat completions and messages). */
  readonly calls: number
  /** The request bodies received, in order (for assertions). */
  readonly requests: FakeRequest[]
}

const encoder = new TextEncoder()

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } })
}

/** Server-sent events from an async iterable of events; `name` gives an event its `event:` line, `done` ends the stream. */
function sse(events: AsyncIterable<unknown>, name: (event: unknown) => string | undefined, done?: string): Response {
  const body = new ReadableStream<Uint8Array>({
    async start(controller) {
      for await (const event of events) {
        const type = name(event)
        controller.enqueue(
          encoder.encode(`${type === undefined ? '' : `event: ${type}\n`}data: ${JSON.stringify(event)}\n\n`),
        )
      }
      if (done !== undefined) controller.enqueue(encoder.encode(`data: ${done}\n\n`))
      controller.close()
    },
  })
  return new Response(body, {
    status: 200,
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' },
  })
}

async function readBody(input: string | URL | Request, init: RequestInit | undefined): Promise<unknown> {
  const raw = init?.body ?? (input instanceof Request ? await input.text() : undefined)
  if (typeof raw !== 'string') return undefined
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return undefined
  }
}

/**
 * A fake OpenAI and Anthropic endpoint as a `fetch` function. `POST …/chat/completions` answers like OpenAI's
 * chat completions API and `POST …/messages` like Anthropic's Messages API, as JSON or, with `stream: true`,
 * as server-sent events; anything else gets a 404 in the provider's error shape. Token counts and the reply
 * follow {@link FakeClientOptions} (the same as {@link fakeOpenAI}).
 *
 * @example
 * ```ts
 * import OpenAI from 'openai'
 * import { fakeLLMFetch } from 'llm-budget/testing'
 *
 * const fetch = fakeLLMFetch({ inputTokens: 1000, outputTokens: 200 })
 * const openai = new OpenAI({ apiKey: 'sk-test', fetch })
 * await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }] })
 * fetch.calls // 1
 * ```
 */
export function fakeLLMFetch(options: FakeClientOptions = {}): FakeFetch {
  const openai = fakeOpenAI(options)
  const anthropic = fakeAnthropic(options)
  const requests: FakeRequest[] = []
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url)
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
    const body = await readBody(input, init)
    const valid =
      method === 'POST' &&
      typeof body === 'object' &&
      body !== null &&
      typeof (body as { model?: unknown }).model === 'string'
    if (url.pathname.endsWith('/chat/completions')) {
      if (!valid)
        return json(400, {
          error: {
            message: 'expected a JSON body with a model',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        })
      const request = body as FakeRequest
      requests.push(request)
      const answer = await openai.chat.completions.create(request)
      return request.stream === true
        ? sse(answer as AsyncIterable<unknown>, () => undefined, '[DONE]')
        : json(200, answer)
    }
    if (url.pathname.endsWith('/messages')) {
      if (!valid)
        return json(400, {
          type: 'error',
          error: { type: 'invalid_request_error', message: 'expected a JSON body with a model' },
        })
      const request = body as FakeRequest
      requests.push(request)
      const answer = await anthropic.messages.create(request)
      return request.stream === true
        ? sse(answer as AsyncIterable<unknown>, (event) => (event as { type?: string }).type)
        : json(200, answer)
    }
    return json(404, {
      error: {
        message: `the fake LLM endpoint has no route ${url.pathname}`,
        type: 'not_found_error',
        param: null,
        code: null,
      },
    })
  }
  return Object.defineProperties(fetch, {
    calls: { get: () => openai.calls + anthropic.calls, enumerable: true },
    requests: { value: requests, enumerable: true },
  }) as FakeFetch
}
