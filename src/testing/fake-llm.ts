/**
 * Fake LLM clients for tests and examples: they answer like the real SDKs (OpenAI chat completions and
 * Anthropic messages, plain and streamed, with usage) without any network.
 *
 * @packageDocumentation
 */

/** Options of the fake clients. */
export interface FakeClientOptions {
  /** Input tokens reported per call. Default: characters of the messages / 4, rounded up, at least 1. */
  inputTokens?: number | ((request: FakeRequest) => number)
  /** Output tokens reported per call. Default: `min(max_tokens, 20)`. */
  outputTokens?: number | ((request: FakeRequest) => number)
  /** Text of the reply. Default `"ok"`. */
  reply?: string
  /** Model reported in responses. Default: the request's model. */
  responseModel?: string
  /** Makes each call throw this (after counting it). */
  fail?: () => unknown
  /** Number of chunks a streamed reply is split into. Default 3. */
  chunks?: number
}

/** A request as the fakes read it (OpenAI or Anthropic shape). */
export interface FakeRequest {
  model: string
  messages?: readonly { role?: string; content?: unknown }[]
  max_tokens?: number
  max_completion_tokens?: number
  stream?: boolean
  stream_options?: { include_usage?: boolean }
}

function textLength(request: FakeRequest): number {
  let n = 0
  for (const message of request.messages ?? []) {
    if (typeof message.content === 'string') n += message.content.length
    else if (Array.isArray(message.content))
      for (const part of message.content)
        if (typeof (part as { text?: unknown })?.text === 'string') n += (part as { text: string }).text.length
  }
  return n
}

function tokens(request: FakeRequest, options: FakeClientOptions): { input: number; output: number } {
  const input =
    typeof options.inputTokens === 'function'
      ? options.inputTokens(request)
      : (options.inputTokens ?? Math.max(1, Math.ceil(textLength(request) / 4)))
  const cap = request.max_tokens ?? request.max_completion_tokens ?? 20
  const output =
    typeof options.outputTokens === 'function'
      ? options.outputTokens(request)
      : (options.outputTokens ?? Math.min(cap, 20))
  return { input, output }
}

function split(text: string, parts: number): string[] {
  const size = Math.max(1, Math.ceil(text.length / parts))
  const out: string[] = []
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
  return out.length > 0 ? out : ['']
}

/** A fake OpenAI client: `client.chat.completions.create(request)`; `client.calls` counts calls. */
export interface FakeOpenAIClient {
  chat: { completions: { create(request: FakeRequest): Promise<unknown> } }
  /** Calls made so far. */
  readonly calls: number
  /** The requests received (for assertions). */
  readonly requests: FakeRequest[]
}

/**
 * A fake OpenAI client. Non-streamed calls return a `chat.completion` with `usage`; `stream: true` returns an
 * async iterable of `chat.completion.chunk`s, with a final usage chunk when `stream_options.include_usage`.
 *
 * @example
 * ```ts
 * const client = fakeOpenAI({ inputTokens: 1000, outputTokens: 200 })
 * const reply = await client.chat.completions.create({ model: 'gpt-4o-mini', messages })
 * ```
 */
export function fakeOpenAI(options: FakeClientOptions = {}): FakeOpenAIClient {
  const requests: FakeRequest[] = []
  let calls = 0
  let serial = 0
  const client: FakeOpenAIClient = {
    chat: {
      completions: {
        async create(request: FakeRequest): Promise<unknown> {
          calls++
          requests.push(request)
          if (options.fail) throw options.fail()
          const { input, output } = tokens(request, options)
          const model = options.responseModel ?? request.model
          const id = `chatcmpl-fake-${++serial}`
          const created = 1_700_000_000
          const usage = {
            prompt_tokens: input,
            completion_tokens: output,
            total_tokens: input + output,
            prompt_tokens_details: { cached_tokens: 0 },
            completion_tokens_details: { reasoning_tokens: 0 },
          }
          const text = options.reply ?? 'ok'
          if (request.stream !== true) {
            return {
              id,
              object: 'chat.completion',
              created,
              model,
              choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
              usage,
            }
          }
          const pieces = split(text, options.chunks ?? 3)
          const includeUsage = request.stream_options?.include_usage === true
          return (async function* () {
            for (let i = 0; i < pieces.length; i++) {
              yield {
                id,
                object: 'chat.completion.chunk',
                created,
                model,
                choices: [
                  {
                    index: 0,
                    delta: i === 0 ? { role: 'assistant', content: pieces[i] } : { content: pieces[i] },
                    finish_reason: i === pieces.length - 1 ? 'stop' : null,
                  },
                ],
              }
            }
            if (includeUsage) yield { id, object: 'chat.completion.chunk', created, model, choices: [], usage }
          })()
        },
      },
    },
    get calls() {
      return calls
    },
    requests,
  }
  return client
}

/** A fake Anthropic client: `client.messages.create(request)`; `client.calls` counts calls. */
export interface FakeAnthropicClient {
  messages: { create(request: FakeRequest): Promise<unknown> }
  readonly calls: number
  readonly requests: FakeRequest[]
}

/**
 * A fake Anthropic client. Non-streamed calls return a `message` with `usage`; `stream: true` returns an
 * async iterable of events (`message_start` with input usage, deltas, `message_delta` with output usage).
 */
export function fakeAnthropic(options: FakeClientOptions = {}): FakeAnthropicClient {
  const requests: FakeRequest[] = []
  let calls = 0
  let serial = 0
  return {
    messages: {
      async create(request: FakeRequest): Promise<unknown> {
        calls++
        requests.push(request)
        if (options.fail) throw options.fail()
        const { input, output } = tokens(request, options)
        const model = options.responseModel ?? request.model
        const id = `msg_fake_${++serial}`
        const text = options.reply ?? 'ok'
        const usage = {
          input_tokens: input,
          output_tokens: output,
          cache_creation_input_tokens: 0,
          cache_read_input_tokens: 0,
        }
        if (request.stream !== true) {
          return {
            id,
            type: 'message',
            role: 'assistant',
            model,
            content: [{ type: 'text', text }],
            stop_reason: 'end_turn',
            usage,
          }
        }
        const pieces = split(text, options.chunks ?? 3)
        return (async function* () {
          yield {
            type: 'message_start',
            message: {
              id,
              type: 'message',
              role: 'assistant',
              model,
              content: [],
              usage: { ...usage, output_tokens: 1 },
            },
          }
          yield { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }
          for (const piece of pieces)
            yield { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: piece } }
          yield { type: 'content_block_stop', index: 0 }
          yield { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: output } }
          yield { type: 'message_stop' }
        })()
      },
    },
    get calls() {
      return calls
    },
    requests,
  }
}
