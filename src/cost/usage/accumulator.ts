/**
 * The incremental usage accumulator: stream chunks or events go in one at a time, the usage of the call comes
 * out. Every provider's stream reader looks at each event; when the usage is asked for, the first reader (in a
 * fixed order) that saw its kind of event answers. Only what the usage needs is kept, never the events.
 *
 * @packageDocumentation
 */
import { normalizeProvider } from '../provider.js'
import type { NormalizedUsage } from '../types.js'
import { aiSdkStream } from './ai-sdk.js'
import { anthropicStream } from './anthropic.js'
import { bedrockStream } from './bedrock.js'
import { cohereStream } from './cohere.js'
import { finish, type NormalizeUsageOptions } from './finish.js'
import { geminiStream } from './gemini.js'
import { langChainStream } from './langchain.js'
import { responsesStream } from './openai.js'
import { fromResponse } from './response.js'
import { isObj, obj, str, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/**
 * Usage of a streamed call, built one chunk or event at a time (see {@link createUsageAccumulator}).
 * Holds only running totals and the last usage-bearing event, so memory does not grow with the stream.
 */
export interface UsageAccumulator {
  /**
   * Takes one stream chunk or event: an SDK object (OpenAI, Anthropic, Gemini, Bedrock, Mistral, Cohere,
   * AI SDK parts, LangChain chunks) or the JSON text of one server-sent event's `data` (`[DONE]` and
   * anything that is not a JSON object are ignored).
   */
  add(chunkOrEvent: unknown): void
  /**
   * The usage so far, or undefined when no event carried usage yet.
   *
   * @throws InvalidInputError when the provider reported a count that is not a whole number >= 0.
   */
  usage(): NormalizedUsage | undefined
  /** The model the stream says served the call, when one said so. */
  readonly model: string | undefined
  /** True once the event that carries the final usage arrived (e.g. Anthropic `message_delta`, the OpenAI usage chunk). */
  readonly complete: boolean
}

/** OpenAI chat chunks, Mistral chunks and anything else that carries `usage` on its last chunk. */
function lastUsageStream(): StreamFormat {
  let last: Obj | undefined
  let model: string | undefined
  return {
    add(e) {
      model = str(e.model) ?? model
      if (isObj(e.usage)) last = e
    },
    get seen() {
      return true
    },
    get complete() {
      return last !== undefined
    },
    draft(provider) {
      if (!last) return undefined
      const d = fromResponse(last, provider)
      if (d) d.model = str(last.model) ?? model
      return d
    },
  }
}

/** One event as an object: SSE data text parsed, Mistral's `{ data: chunk }` unwrapped; else undefined. */
function eventOf(item: unknown): Obj | undefined {
  let value = item
  if (typeof value === 'string') {
    const text = value.trim()
    if (!text.startsWith('{')) return undefined
    try {
      value = JSON.parse(text) as unknown
    } catch {
      return undefined
    }
  }
  const o = obj(value)
  if (o && isObj(o.data) && Object.keys(o).length === 1) return o.data
  return o
}

/**
 * An incremental usage accumulator for one streamed call: `add()` each chunk or event as it arrives, read
 * `usage()` at the end (or at any point, for a partial count). Gives the same result as
 * {@link normalizeUsage} on the array of all the events.
 *
 * @param options Provider of the call (LiteLLM names, for provider quirks such as xAI's reasoning count) and the
 *   requested model (used when the stream names none); a string is taken as the provider.
 * @example
 * const acc = createUsageAccumulator('openai')
 * for await (const chunk of stream) acc.add(chunk)
 * calculateCost({ model: 'gpt-4o', usage: acc.usage() })
 */
export function createUsageAccumulator(options: NormalizeUsageOptions | string = {}): UsageAccumulator {
  const opts: NormalizeUsageOptions = typeof options === 'string' ? { provider: options } : (options ?? {})
  const provider = normalizeProvider(opts.provider)
  // In the order the stream kinds are told apart: the first one that saw its kind of event answers.
  const formats: StreamFormat[] = [
    anthropicStream(),
    responsesStream(),
    aiSdkStream(),
    bedrockStream(),
    langChainStream(),
    geminiStream(),
    cohereStream(),
    lastUsageStream(),
  ]
  let events = 0
  const chosen = (): StreamFormat | undefined => {
    if (events === 0) return undefined
    for (const format of formats) if (format.seen) return format
    return undefined
  }
  return {
    add(chunkOrEvent) {
      const event = eventOf(chunkOrEvent)
      if (event === undefined) return
      events++
      for (const format of formats) format.add(event)
    },
    usage() {
      const d = chosen()?.draft(provider)
      return d === undefined ? undefined : finish(d, opts)
    },
    get model() {
      return chosen()?.draft(provider)?.model
    },
    get complete() {
      return chosen()?.complete ?? false
    },
  }
}
