/**
 * `normalizeUsage`: token usage from any provider response, stream or usage object, in one shape.
 *
 * Inclusion rules (see test/fixtures/usage/README.md): OpenAI, Mistral, Gemini, AI SDK 6 and LangChain
 * report input that already includes cached tokens; Anthropic and Bedrock report input without cache
 * reads and writes (added here); Gemini's thinking tokens are outside `candidatesTokenCount` (added
 * here); xAI's `completion_tokens` exclude reasoning (added when `provider: 'xai'`). One parser per provider
 * lives in `usage/`; streams go through the incremental accumulator (`usage/accumulator.ts`).
 *
 * @packageDocumentation
 */
import { InvalidInputError, MissingUsageError } from '../errors.js'
import { normalizeProvider } from './provider.js'
import type { NormalizedUsage } from './types.js'
import { createUsageAccumulator } from './usage/accumulator.js'
import { copyNormalized, finish, type NormalizeUsageOptions } from './usage/finish.js'
import { fromBareUsage, fromResponse } from './usage/response.js'
import { isObj, type Draft } from './usage/shared.js'

export type { NormalizeUsageOptions } from './usage/finish.js'
export { createUsageAccumulator, type UsageAccumulator } from './usage/accumulator.js'

const NO_USAGE_HINT =
  'For OpenAI streams set `stream_options: { include_usage: true }`; pass the final response, the full array (or async iterable) of stream chunks, or a usage object.'

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}

function fromItems(items: Iterable<unknown>, options: NormalizeUsageOptions): NormalizedUsage | undefined {
  const acc = createUsageAccumulator(options)
  for (const item of items) acc.add(item)
  return acc.usage()
}

async function fromAsync(stream: AsyncIterable<unknown>, options: NormalizeUsageOptions): Promise<NormalizedUsage> {
  const acc = createUsageAccumulator(options)
  let count = 0
  for await (const item of stream) {
    acc.add(item)
    count++
  }
  const usage = acc.usage()
  if (usage === undefined)
    throw new MissingUsageError(`No token usage found in an async stream of ${count} items. ${NO_USAGE_HINT}`)
  return usage
}

/**
 * Token usage of a call in one shape ({@link NormalizedUsage}), from any provider response, an array of
 * stream chunks/events, or a usage object. Synchronous and pure for these.
 *
 * An async iterable of chunks (an SDK stream) is read to its end and gives a Promise of the usage; use
 * {@link createUsageAccumulator} to count while you pass the chunks on. Keys starting with `_` are ignored.
 *
 * @throws MissingUsageError when no usage can be found (never zeros by accident); for an async iterable, the
 *   Promise rejects with it.
 * @throws InvalidInputError when a count is negative, fractional or not a number.
 */
export function normalizeUsage(
  stream: AsyncIterable<unknown>,
  options?: NormalizeUsageOptions,
): Promise<NormalizedUsage>
export function normalizeUsage(responseOrStream: unknown, options?: NormalizeUsageOptions): NormalizedUsage
export function normalizeUsage(
  responseOrStream: unknown,
  options: NormalizeUsageOptions = {},
): NormalizedUsage | Promise<NormalizedUsage> {
  if (options === null || typeof options !== 'object')
    throw new InvalidInputError('options', '`normalizeUsage` options must be an object { provider, model }')
  if (Array.isArray(responseOrStream)) {
    const usage = fromItems(responseOrStream, options)
    if (usage !== undefined) return usage
  } else if (isObj(responseOrStream)) {
    const value = responseOrStream
    if (
      typeof value.cacheReadTokens === 'number' &&
      typeof value.cacheWriteTokens === 'number' &&
      'inputTokens' in value &&
      'reasoningTokens' in value
    ) {
      return copyNormalized(value, options)
    }
    if (isAsyncIterable(value) && !('usage' in value)) return fromAsync(value, options)
    if (Array.isArray(value.stream)) {
      const usage = fromItems(value.stream, options)
      if (usage !== undefined) return usage
    } else if (Array.isArray(value.chunks) && !isObj(value.aggregated)) {
      const usage = fromItems(value.chunks, options)
      if (usage !== undefined) return usage
    } else {
      const provider = normalizeProvider(options.provider)
      const d: Draft | undefined = isObj(value.aggregated)
        ? fromResponse(value.aggregated, provider)
        : (fromResponse(value, provider) ?? fromBareUsage(value, provider))
      if (d !== undefined) return finish(d, options)
    }
  }
  const what =
    responseOrStream === null
      ? 'null'
      : Array.isArray(responseOrStream)
        ? `a stream of ${responseOrStream.length} items`
        : typeof responseOrStream
  throw new MissingUsageError(`No token usage found in ${what}. ${NO_USAGE_HINT}`)
}
