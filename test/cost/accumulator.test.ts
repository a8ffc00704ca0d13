// The incremental usage accumulator: chunk by chunk gives what normalizeUsage gives on the whole stream, for every
// stream fixture; Cohere v2 / v1 streams; async iterables; SSE text.
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  calculateCost,
  createUsageAccumulator,
  InvalidInputError,
  MissingUsageError,
  normalizeUsage,
} from '../../src/cost/index.js'

const dir = new URL('../fixtures/usage/', import.meta.url)
const load = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Record<string, unknown>
const streams = readdirSync(dir).filter((f) => f.endsWith('.json') && Array.isArray(load(f).stream))

async function* asAsync<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const item of items) {
    await Promise.resolve()
    yield item
  }
}

describe('createUsageAccumulator', () => {
  it('covers the stream fixtures', () => {
    expect(streams.length).toBeGreaterThanOrEqual(6)
  })
  for (const file of streams) {
    it(`${file}: one event at a time equals the fixture's expected usage`, () => {
      const fx = load(file)
      const model =
        (fx._request as { model?: string; modelId?: string }).model ?? (fx._request as { modelId?: string }).modelId
      const acc = createUsageAccumulator({ model })
      for (const event of fx.stream as unknown[]) acc.add(event)
      expect(acc.usage()).toEqual(fx._expected_usage)
      expect(acc.complete).toBe(true)
    })
  }

  it('reads server-sent event text (data lines) and ignores [DONE] and non-JSON', () => {
    const fx = load('openai-chat-stream.json')
    const acc = createUsageAccumulator('openai')
    for (const chunk of fx.stream as unknown[]) acc.add(JSON.stringify(chunk))
    acc.add('[DONE]')
    acc.add('not json {')
    expect(acc.usage()).toEqual(normalizeUsage(fx.stream))
  })

  it('has no usage before the usage event, and a partial one on the way (Anthropic message_start)', () => {
    const fx = load('anthropic-stream.json')
    const events = fx.stream as Array<{ type: string }>
    const acc = createUsageAccumulator('anthropic')
    expect(acc.usage()).toBeUndefined()
    acc.add(events[0])
    expect(acc.complete).toBe(false)
    expect(acc.usage()?.inputTokens).toBeGreaterThan(0)
    for (const e of events.slice(1)) acc.add(e)
    expect(acc.complete).toBe(true)
    expect(acc.model).toBe((fx._expected_usage as { model: string }).model)
  })

  it('refuses a bad count from the provider with InvalidInputError', () => {
    const acc = createUsageAccumulator()
    acc.add({ model: 'gpt-4o', choices: [], usage: { prompt_tokens: -1, completion_tokens: 2 } })
    expect(() => acc.usage()).toThrow(InvalidInputError)
  })
})

// cohere-ai@8 CohereClientV2.chatStream() events (camelCase), as the SDK yields them.
const cohereV2 = [
  { type: 'message-start', id: 'm1', delta: { message: { role: 'assistant', content: [] } } },
  { type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } },
  { type: 'content-delta', index: 0, delta: { message: { content: { text: 'Hello' } } } },
  { type: 'content-end', index: 0 },
  {
    type: 'message-end',
    delta: {
      finishReason: 'COMPLETE',
      usage: {
        billedUnits: { inputTokens: 38, outputTokens: 104 },
        tokens: { inputTokens: 534, outputTokens: 106 },
        cachedTokens: 0,
      },
    },
  },
]
// cohere-ai@8 CohereClient.chatStream() (v1) events: usage in the stream-end event's response.meta.
const cohereV1 = [
  { eventType: 'stream-start', generationId: 'g1' },
  { eventType: 'text-generation', text: 'Hello' },
  {
    eventType: 'stream-end',
    finishReason: 'COMPLETE',
    response: {
      text: 'Hello',
      generationId: 'g1',
      meta: { billedUnits: { inputTokens: 12, outputTokens: 7 }, tokens: { inputTokens: 80, outputTokens: 7 } },
    },
  },
]

describe('Cohere streams', () => {
  it('v2 chatStream: usage from message-end delta.usage.billedUnits (38 in, 104 out)', () => {
    const usage = normalizeUsage(cohereV2, { model: 'command-a-03-2025' })
    expect(usage).toEqual({
      inputTokens: 38,
      outputTokens: 104,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: null,
      processedInputTokens: 534,
      processedOutputTokens: 106,
      model: 'command-a-03-2025',
      modelSource: 'request',
    })
    // command-a-03-2025: $2.50 / 1M input, $10 / 1M output: 38 * 0.0000025 + 104 * 0.00001 = 0.000095 + 0.00104 = 0.001135
    expect(calculateCost({ model: 'command-a-03-2025', usage: cohereV2 }).exact.totalCost).toBe('0.001135')
  })
  it('v2 wire format (snake_case billed_units)', () => {
    const wire = [
      { type: 'message-start', id: 'm1' },
      {
        type: 'message-end',
        delta: { finish_reason: 'COMPLETE', usage: { billed_units: { input_tokens: 5, output_tokens: 3 } } },
      },
    ]
    expect(normalizeUsage(wire)).toMatchObject({ inputTokens: 5, outputTokens: 3 })
  })
  it('v1 chatStream: usage from stream-end response.meta.billedUnits (12 in, 7 out)', () => {
    expect(normalizeUsage(cohereV1)).toMatchObject({ inputTokens: 12, outputTokens: 7, processedInputTokens: 80 })
    const wire = [
      { event_type: 'stream-end', response: { meta: { billed_units: { input_tokens: 12, output_tokens: 7 } } } },
    ]
    expect(normalizeUsage(wire)).toMatchObject({ inputTokens: 12, outputTokens: 7 })
  })
  it('v1 chat response: usage from meta.billedUnits', () => {
    expect(
      normalizeUsage({ text: 'Hi', generationId: 'g', meta: { billedUnits: { inputTokens: 9, outputTokens: 4 } } }),
    ).toMatchObject({ inputTokens: 9, outputTokens: 4 })
  })
  it('a v2 stream cut before message-end has no usage (never zeros)', () => {
    expect(() => normalizeUsage(cohereV2.slice(0, 4))).toThrow(MissingUsageError)
  })
})

describe('normalizeUsage on an async iterable', () => {
  it('returns a Promise of the same usage as the array (sync inputs stay synchronous)', async () => {
    const fx = load('anthropic-stream.json')
    const sync = normalizeUsage(fx.stream)
    expect(sync).not.toBeInstanceOf(Promise)
    const pending = normalizeUsage(asAsync(fx.stream as unknown[]))
    expect(pending).toBeInstanceOf(Promise)
    expect(await pending).toEqual(sync)
  })
  it('rejects with MissingUsageError when the stream carries no usage', async () => {
    await expect(normalizeUsage(asAsync([{ choices: [] }]))).rejects.toThrow(MissingUsageError)
  })
  it('calculateCost refuses an async stream with a clear message instead of pricing a Promise', () => {
    expect(() => calculateCost({ model: 'gpt-4o', usage: asAsync([]) })).toThrow(/await normalizeUsage/)
  })
})
