// Every fixture in test/fixtures/usage reproduces its _expected_usage exactly.
import { readFileSync, readdirSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { MissingUsageError, InvalidInputError, normalizeUsage } from '../../src/cost/index.js'

const dir = new URL('../fixtures/usage/', import.meta.url)
const files = readdirSync(dir).filter((f) => f.endsWith('.json'))

/** Extra keys a normalization may add beyond _expected_usage, with the reason (pricing needs them). */
const SUPERSETS: Record<string, Record<string, unknown>> = {
  // LangChain drops Anthropic's 5m/1h split from usage_metadata; response_metadata.usage still has it and the
  // 1h writes cost 2x input (not 1.25x), so we keep it.
  'langchain-aimessage-anthropic.json': { cacheWrite5mTokens: 1402, cacheWrite1hTokens: 6000 },
}

function load(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as Record<string, unknown>
}

function withoutUnderscore(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([k]) => !k.startsWith('_')))
}

describe('normalizeUsage reproduces every fixture', () => {
  it('has all fixtures', () => {
    expect(files.length).toBeGreaterThanOrEqual(30)
  })
  for (const file of files) {
    it(file, () => {
      const fx = load(file)
      const request = fx._request as { model?: string; modelId?: string }
      const model = request.model ?? request.modelId
      const input = Array.isArray(fx.stream) ? fx.stream : (fx.aggregated ?? withoutUnderscore(fx))
      const got = normalizeUsage(input, { model })
      expect(got).toEqual({ ...(fx._expected_usage as object), ...SUPERSETS[file] })
    })
  }
  it('LangChain chunks summed give the aggregated usage (LangChain concat semantics)', () => {
    const fx = load('langchain-stream-anthropic.json')
    const got = normalizeUsage(fx.chunks, { model: 'claude-haiku-4-5' })
    expect([got.inputTokens, got.outputTokens, got.cacheReadTokens]).toEqual([4219, 188, 4210])
  })
  it('ignores the underscore keys even when present', () => {
    const fx = load('openai-chat.json')
    expect(normalizeUsage(fx)).toEqual(fx._expected_usage)
  })
  it('is idempotent on a normalized usage', () => {
    const fx = load('anthropic-messages-cache.json')
    const once = normalizeUsage(withoutUnderscore(fx))
    expect(normalizeUsage(once)).toEqual(once)
  })
})

describe('normalizeUsage never returns zeros by accident', () => {
  it('OpenAI stream without include_usage is a MissingUsageError', () => {
    const fx = load('openai-chat-stream.json')
    const chunks = (fx.stream as Array<Record<string, unknown>>).filter((c) => c.usage === null)
    expect(() => normalizeUsage(chunks)).toThrow(MissingUsageError)
  })
  it.each([[null], [undefined], [{}], [[]], ['text'], [42], [{ choices: [] }]])('no usage in %j', (value) => {
    expect(() => normalizeUsage(value)).toThrow(MissingUsageError)
  })
  it('the error says how to fix it', () => {
    expect(() => normalizeUsage([{ choices: [] }])).toThrow(/include_usage/)
  })
  it.each([
    [{ usage: { prompt_tokens: -1, completion_tokens: 3 } }, 'usage.inputTokens'],
    [{ usage: { prompt_tokens: 1.5, completion_tokens: 3 } }, 'usage.inputTokens'],
    [{ usage: { prompt_tokens: 10, completion_tokens: Number.NaN } }, 'usage.outputTokens'],
    [{ usage: { prompt_tokens: 10, completion_tokens: '3x' } }, 'usage.outputTokens'],
    [
      { usage: { prompt_tokens: 10, completion_tokens: 3, prompt_tokens_details: { cached_tokens: -2 } } },
      'usage.cacheReadTokens',
    ],
  ])('bad counts are InvalidInputError naming the field: %j', (value, field) => {
    try {
      normalizeUsage(value)
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError)
      expect((error as InvalidInputError).field).toBe(field)
    }
  })
})

describe('provider quirks and shapes beyond the fixtures', () => {
  it('LiteLLM usage with prompt_tokens_details.cache_creation_tokens and cache_creation_token_details', () => {
    const got = normalizeUsage({
      model: 'claude-sonnet-4-5',
      usage: {
        prompt_tokens: 1000,
        completion_tokens: 10,
        prompt_tokens_details: {
          cached_tokens: 200,
          cache_creation_tokens: 300,
          cache_creation_token_details: { ephemeral_5m_input_tokens: 100, ephemeral_1h_input_tokens: 200 },
        },
      },
    })
    expect(got).toMatchObject({
      inputTokens: 1000,
      cacheReadTokens: 200,
      cacheWriteTokens: 300,
      cacheWrite5mTokens: 100,
      cacheWrite1hTokens: 200,
    })
  })
  it('xAI completion tokens exclude reasoning only with provider xai', () => {
    const response = {
      model: 'grok-4',
      usage: { prompt_tokens: 10, completion_tokens: 5, completion_tokens_details: { reasoning_tokens: 20 } },
    }
    expect(normalizeUsage(response, { provider: 'xai' }).outputTokens).toBe(25)
    expect(() => normalizeUsage(response)).not.toThrow()
  })
  it('Bedrock ConverseStream metadata event', () => {
    const got = normalizeUsage(
      [
        { messageStart: { role: 'assistant' } },
        { metadata: { usage: { inputTokens: 10, outputTokens: 4, cacheReadInputTokens: 90 } } },
      ],
      { model: 'anthropic.claude-3-haiku-20240307-v1:0' },
    )
    expect(got).toMatchObject({ inputTokens: 100, cacheReadTokens: 90, outputTokens: 4, modelSource: 'request' })
  })
  it('OpenRouter usage.cost becomes providerCost', () => {
    expect(
      normalizeUsage({ model: 'x', usage: { prompt_tokens: 1, completion_tokens: 1, cost: 0.25 } }).providerCost,
    ).toBe(0.25)
  })
})
