// Accuracy at the edges (issue 13): fine-tuned names, inconsistent usage clamped, every fee billed, LiteLLM entries
// registered verbatim, Mistral -latest names, dated prices, bounded messages. Each case carries its hand arithmetic.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  calculateCost,
  InvalidInputError,
  normalizeUsage,
  PriceCatalog,
  UnknownModelError,
  type NormalizedUsage,
} from '../../src/cost/index.js'

const usage = (patch: Partial<NormalizedUsage>): NormalizedUsage => ({
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: null,
  ...patch,
})

describe('fine-tuned model names price at the base fine-tune entry', () => {
  // ft:gpt-4o-mini-2024-07-18: $0.30 / 1M input, $1.20 / 1M output.
  // 1,000 * 0.0000003 + 200 * 0.0000012 = 0.0003 + 0.00024 = 0.00054
  it.each([
    'ft:gpt-4o-mini-2024-07-18:my-org:my-suffix:abc123',
    'ft:gpt-4o-mini-2024-07-18:my-org::abc123',
    'openai/ft:gpt-4o-mini-2024-07-18:my-org::abc123',
    'azure/ft:gpt-4o-mini-2024-07-18:my-org:s:abc123',
  ])('%s -> ft:gpt-4o-mini-2024-07-18, $0.00054', (model) => {
    const result = calculateCost({ model, usage: usage({ inputTokens: 1_000, outputTokens: 200 }) })
    expect(result.model).toBe('ft:gpt-4o-mini-2024-07-18')
    expect(result.rule).toBe('fine-tune')
    expect(result.exact.totalCost).toBe('0.00054')
  })
  it('ft:gpt-3.5-turbo:org::id and the legacy ft:gpt-3.5-turbo-0301 snapshot price at ft:gpt-3.5-turbo', () => {
    // $3 / 1M input, $6 / 1M output: 1,000 * 0.000003 + 100 * 0.000006 = 0.003 + 0.0006 = 0.0036
    for (const model of ['ft:gpt-3.5-turbo:my-org::x1', 'ft:gpt-3.5-turbo-0301:my-org:bot:x2']) {
      const result = calculateCost({ model, usage: usage({ inputTokens: 1_000, outputTokens: 100 }) })
      expect([result.model, result.exact.totalCost]).toEqual(['ft:gpt-3.5-turbo', '0.0036'])
    }
    // A snapshot with its own entry keeps it: ft:gpt-3.5-turbo-0613 ($3 / $6 as well).
    expect(calculateCost({ model: 'ft:gpt-3.5-turbo-0613:org::x', usage: usage({ inputTokens: 1 }) }).model).toBe(
      'ft:gpt-3.5-turbo-0613',
    )
  })
  it('a fine-tune of an unknown base is unknown, never priced as the plain base model', () => {
    expect(() => calculateCost({ model: 'ft:my-own-base:org::x', usage: usage({ inputTokens: 1 }) })).toThrow(
      UnknownModelError,
    )
  })
  it('a price registered for the base fine-tune applies to every fine-tune of it', () => {
    const catalog = new PriceCatalog().register('ft:gpt-4o-2024-08-06', {
      inputPerMillion: '4',
      outputPerMillion: '16',
    })
    // 1,000 * 0.000004 + 100 * 0.000016 = 0.004 + 0.0016 = 0.0056
    const result = calculateCost({
      model: 'ft:gpt-4o-2024-08-06:acme:support:9x8',
      usage: usage({ inputTokens: 1_000, outputTokens: 100 }),
      catalog,
    })
    expect([result.source, result.exact.totalCost]).toEqual(['custom', '0.0056'])
  })
})

describe('inconsistent usage is clamped and reported, not thrown', () => {
  it('Vertex Claude: 28,436 prompt with 28,432 cached + 118 written', () => {
    // LiteLLM-format usage from Vertex AI Claude (prompt_tokens includes cache reads and writes, but here they add up to more).
    const raw = {
      model: 'vertex_ai/claude-sonnet-4@20250514',
      usage: {
        prompt_tokens: 28_436,
        completion_tokens: 50,
        prompt_tokens_details: { cached_tokens: 28_432, cache_creation_tokens: 118 },
      },
    }
    const result = calculateCost({ model: 'vertex_ai/claude-sonnet-4@20250514', usage: raw })
    // uncached: 28,436 - 28,432 - 118 = -114 -> 0
    // reads 28,432 * 0.0000003 = 0.0085296; writes 118 * 0.00000375 = 0.0004425; output 50 * 0.000015 = 0.00075
    // total 0.0085296 + 0.0004425 + 0.00075 = 0.0097221
    expect(result.exact.totalCost).toBe('0.0097221')
    expect(result.exact.inputCost).toBe('0')
    expect(result.adjusted).toHaveLength(1)
    expect(result.adjusted[0]).toMatchObject({ field: 'inputTokens', reported: 28_436, billedAs: 28_550 })
    expect(result.adjusted[0]!.message).toMatch(/-114/)
  })
  it('Azure: 0 prompt with 14 cached', () => {
    const raw = {
      model: 'gpt-4o-mini',
      usage: { prompt_tokens: 0, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 14 } },
    }
    const result = calculateCost({ model: 'azure/gpt-4o-mini', provider: 'azure', usage: raw })
    // reads 14 * 0.000000075 = 0.00000105; output 5 * 0.00000066 = 0.0000033; total 0.00000435
    expect(result.model).toBe('azure/gpt-4o-mini')
    expect(result.exact.totalCost).toBe('0.00000435')
    expect(result.adjusted.map((a) => [a.field, a.reported, a.billedAs])).toEqual([['inputTokens', 0, 14]])
  })
  it('reasoning above output: the text output is counted as 0, every reasoning token billed', () => {
    // gpt-4o (no reasoning rate: reasoning at the output rate): 100 * 0.0000025 + 11 * 0.00001 = 0.00025 + 0.00011 = 0.00036
    const result = calculateCost({
      model: 'gpt-4o',
      usage: usage({ inputTokens: 100, outputTokens: 10, reasoningTokens: 11 }),
    })
    expect(result.exact.totalCost).toBe('0.00036')
    expect(result.adjusted.map((a) => [a.field, a.reported, a.billedAs])).toEqual([['outputTokens', 10, 11]])
  })
  it('1-hour cache writes above all cache writes: counted as the cache writes', () => {
    // claude-sonnet-4: 1h writes $6 / 1M. 10 writes, all as 1h: 10 * 0.000006 = 0.00006; 100 input - 10 = 90 * 0.000003 = 0.00027
    const result = calculateCost({
      model: 'claude-sonnet-4-20250514',
      usage: usage({ inputTokens: 100, cacheWriteTokens: 10, cacheWrite1hTokens: 11 }),
    })
    expect(result.exact.totalCost).toBe('0.00033')
    expect(result.adjusted[0]).toMatchObject({ field: 'cacheWrite1hTokens', reported: 11, billedAs: 10 })
  })
  it('a consistent usage has no adjustments (a shared frozen empty array)', () => {
    const a = calculateCost({ model: 'gpt-4o', usage: usage({ inputTokens: 10 }) })
    expect(a.adjusted).toEqual([])
    expect(Object.isFrozen(a.adjusted)).toBe(true)
    expect(a.toJSON().adjusted).toEqual([])
  })
  it('negative or fractional counts are still refused', () => {
    expect(() => calculateCost({ model: 'gpt-4o', usage: usage({ cacheReadTokens: -1 }) })).toThrow(InvalidInputError)
  })
})

describe('every fee is billed or declared unpriced: Perplexity', () => {
  const raw = {
    model: 'sonar-deep-research',
    usage: {
      prompt_tokens: 100,
      completion_tokens: 50,
      total_tokens: 150,
      citation_tokens: 30,
      num_search_queries: 2,
      reasoning_tokens: 40,
      search_context_size: 'low',
    },
  }
  it('normalizes citation tokens, search queries and top-level reasoning tokens', () => {
    expect(normalizeUsage(raw, { provider: 'perplexity' })).toMatchObject({
      inputTokens: 100,
      outputTokens: 90,
      reasoningTokens: 40,
      citationTokens: 30,
      webSearchRequests: 2,
      searchContextSize: 'low',
    })
  })
  it('sonar-deep-research: input, citations, output, reasoning and searches all billed', () => {
    const result = calculateCost({ model: 'perplexity/sonar-deep-research', usage: raw })
    // input 100 * 0.000002 = 0.0002; citations 30 * 0.000002 = 0.00006; output 50 * 0.000008 = 0.0004;
    // reasoning 40 * 0.000003 = 0.00012; searches 2 * 0.005 = 0.01. Total 0.0002 + 0.00006 + 0.0004 + 0.00012 + 0.01 = 0.01078
    // (before: 0.0006, the input and output alone, with unpriced: [])
    expect(result.exact.totalCost).toBe('0.01078')
    expect(result.exact.inputCost).toBe('0.00026')
    expect(result.exact.reasoningCost).toBe('0.00012')
    expect(result.exact.otherCost).toBe('0.01')
    expect(result.unpriced).toEqual([])
  })
  it('citation tokens on a model without a citation rate are named in unpriced, never silent', () => {
    // sonar-pro: 100 * 0.000003 + 50 * 0.000015 = 0.0003 + 0.00075 = 0.00105
    const result = calculateCost({
      model: 'perplexity/sonar-pro',
      usage: usage({ inputTokens: 100, outputTokens: 50, citationTokens: 30 }),
    })
    expect(result.exact.totalCost).toBe('0.00105')
    expect(result.unpriced).toEqual(['citationTokens'])
  })
})

describe('catalog.register() accepts a LiteLLM model entry verbatim', () => {
  const tiered = {
    litellm_provider: 'dashscope',
    mode: 'chat',
    max_input_tokens: 1_000_000,
    max_output_tokens: 32_768,
    max_tokens: 32_768,
    supports_function_calling: true,
    supports_reasoning: true,
    source: 'https://example.invalid/pricing',
    tiered_pricing: [
      { input_cost_per_token: 5e-8, output_cost_per_token: 4e-7, range: [0, 256000.0] },
      { input_cost_per_token: '2.5e-07', output_cost_per_token: '2e-06', range: [256000.0, 1000000.0] },
    ],
  }
  const flat = {
    litellm_provider: 'perplexity',
    mode: 'chat',
    input_cost_per_token: '0.000002',
    output_cost_per_token: '8e-06',
    input_cost_per_token_flex: 1e-6,
    output_cost_per_token_flex: '0.000004',
    input_cost_per_token_priority: '3.5e-06',
    output_cost_per_token_priority: 0.000014,
    citation_cost_per_token: '2e-06',
    search_context_cost_per_query: {
      search_context_size_low: 0.005,
      search_context_size_medium: '0.008',
      search_context_size_high: 0.012,
    },
    ocr_cost_per_page: 0.001, // declared unpriced: accepted, not billed
    supports_web_search: true,
    deprecation_date: '2027-01-01',
  }
  const catalog = new PriceCatalog({ table: 'empty' }).register('my-qwen', tiered).register('my-sonar', flat)

  it('keeps the provider, mode and maximum output of the entry', () => {
    const entry = catalog.resolve('my-qwen').entry
    expect([entry.provider, entry.mode, entry.maxOutputTokens]).toEqual(['dashscope', 'chat', 32_768])
  })
  it('tiered_pricing: 300,000 input picks the second tier', () => {
    // 300,000 * 0.00000025 + 1,000 * 0.000002 = 0.075 + 0.002 = 0.077
    expect(
      calculateCost({ model: 'my-qwen', usage: usage({ inputTokens: 300_000, outputTokens: 1_000 }), catalog }).exact
        .totalCost,
    ).toBe('0.077')
    // 1,000 * 0.00000005 + 100 * 0.0000004 = 0.00005 + 0.00004 = 0.00009
    expect(
      calculateCost({ model: 'my-qwen', usage: usage({ inputTokens: 1_000, outputTokens: 100 }), catalog }).exact
        .totalCost,
    ).toBe('0.00009')
  })
  it('flex and priority prices given as numbers and strings', () => {
    const u = usage({ inputTokens: 1_000, outputTokens: 100 })
    // standard 0.002 + 0.0008 = 0.0028; flex 0.001 + 0.0004 = 0.0014; priority 0.0035 + 0.0014 = 0.0049
    expect(calculateCost({ model: 'my-sonar', usage: u, catalog }).exact.totalCost).toBe('0.0028')
    expect(calculateCost({ model: 'my-sonar', usage: u, catalog, serviceTier: 'flex' }).exact.totalCost).toBe('0.0014')
    expect(calculateCost({ model: 'my-sonar', usage: u, catalog, serviceTier: 'priority' }).exact.totalCost).toBe(
      '0.0049',
    )
  })
  it('citation tokens and search queries (medium context by default)', () => {
    // 1,000 * 0.000002 + 100 * 0.000008 + 10 * 0.000002 + 1 * 0.008 = 0.002 + 0.0008 + 0.00002 + 0.008 = 0.01082
    const u = usage({ inputTokens: 1_000, outputTokens: 100, citationTokens: 10, webSearchRequests: 1 })
    expect(calculateCost({ model: 'my-sonar', usage: u, catalog }).exact.totalCost).toBe('0.01082')
    // high context: 0.002 + 0.0008 + 0.00002 + 0.012 = 0.01482
    expect(calculateCost({ model: 'my-sonar', usage: u, catalog, searchContextSize: 'high' }).exact.totalCost).toBe(
      '0.01482',
    )
  })
  it('a misspelt price field is refused with the closest known name', () => {
    expect(() => new PriceCatalog().register('x', { input_cost_per_tokn: 1e-6 })).toThrow(
      /did you mean `input_cost_per_token`/,
    )
    expect(() =>
      new PriceCatalog().register('x', { tiered_pricing: [{ range: [10, 5], input_cost_per_token: 1 }] }),
    ).toThrow(InvalidInputError)
    expect(() => new PriceCatalog().register('x', { input_cost_per_token: 'cheap' })).toThrow(InvalidInputError)
  })
})

describe('Mistral -latest names resolve without a provider hint', () => {
  it('mistral-small-latest (the Mistral SDK stream fixture) -> mistral/mistral-small-latest', () => {
    const fx = JSON.parse(
      readFileSync(new URL('../fixtures/usage/mistral-chat-stream.json', import.meta.url), 'utf8'),
    ) as { stream: unknown[] }
    const result = calculateCost({ model: 'mistral-small-latest', usage: fx.stream })
    // 17 * 0.00000006 + 12 * 0.00000018 = 0.00000102 + 0.00000216 = 0.00000318
    expect([result.model, result.exact.totalCost]).toEqual(['mistral/mistral-small-latest', '0.00000318'])
  })
  it.each(['mistral-large-latest', 'codestral-latest', 'magistral-medium-latest', 'devstral-small-latest'])(
    '%s resolves',
    (model) => {
      expect(new PriceCatalog().resolve(model).key).toBe(`mistral/${model}`)
    },
  )
})

describe('dated prices: a re-priced model never re-prices old spend', () => {
  const catalog = new PriceCatalog()
    .register('gpt-4o', { inputPerMillion: '5', outputPerMillion: '20' }, { effectiveFrom: '2026-06-01T00:00:00Z' })
    .register('gpt-4o', { inputPerMillion: '4', outputPerMillion: '16' }, { effectiveFrom: '2026-09-01T00:00:00Z' })
  const u = usage({ inputTokens: 1_000, outputTokens: 100 })
  it.each([
    // bundled: 1,000 * 0.0000025 + 100 * 0.00001 = 0.0025 + 0.001 = 0.0035
    ['2026-05-31T23:59:59Z', '0.0035', 'catalog'],
    // from June: 1,000 * 0.000005 + 100 * 0.00002 = 0.005 + 0.002 = 0.007
    ['2026-06-01T00:00:00Z', '0.007', 'custom'],
    ['2026-08-31T12:00:00Z', '0.007', 'custom'],
    // from September: 0.004 + 0.0016 = 0.0056
    ['2026-09-01T00:00:00Z', '0.0056', 'custom'],
  ])('a call at %s costs %s (%s)', (at, total, source) => {
    const result = calculateCost({ model: 'gpt-4o', usage: u, catalog, at: new Date(at) })
    expect([result.exact.totalCost, result.source]).toEqual([total, source])
  })
})

describe('messages quote bounded names', () => {
  it('a 10 MB model name gives a short UnknownModelError message and no suggestions', () => {
    const model = 'x'.repeat(10_000_000)
    try {
      calculateCost({ model, usage: usage({ inputTokens: 1 }) })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(UnknownModelError)
      expect((error as UnknownModelError).message.length).toBeLessThan(2_000)
      expect((error as UnknownModelError).suggestions).toEqual([])
      expect((error as UnknownModelError).model).toBe(model)
      expect(String((error as Error).stack).length).toBeLessThan(10_000)
    }
  })
  it('a known model without a price for the usage: the message comes from the constructor and names the key', () => {
    const catalog = new PriceCatalog({ table: 'empty' }).register(
      'speech',
      { input_cost_per_character: '0.000015' },
      { mode: 'audio_speech' },
    )
    const error = (() => {
      try {
        calculateCost({ model: 'speech', usage: usage({ inputTokens: 10 }), catalog })
      } catch (e) {
        return e as UnknownModelError
      }
      return undefined
    })()
    expect(error).toBeInstanceOf(UnknownModelError)
    expect(error!.message).toMatch(/is known \(catalog key `speech`/)
    expect(error!.stack).toContain(error!.message.slice(0, 60))
  })
})
