// Entries the catalog knows but cannot price for the usage given (ADR 0009): never a silent $0.
// Expected values are worked out by hand from the prices in src/cost/data/prices.ts.
import { describe, expect, it } from 'vitest'
import { UnknownModelError, isUnknownModelError } from '../../src/errors.js'
import {
  PriceCatalog,
  calculateCost,
  completionCost,
  costPerToken,
  estimateCost,
  type CalculateCostInput,
  type NormalizedUsage,
} from '../../src/cost/index.js'

function u(
  inputTokens: number | null,
  outputTokens: number | null,
  extra: Partial<NormalizedUsage> = {},
): NormalizedUsage {
  return { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: null, ...extra }
}

/**
 * A typical call for an entry's mode: the tokens a response of that kind reports, plus the unit the mode is
 * billed in (seconds, characters, images, queries), so that an entry priced in either unit can price it.
 */
function typicalCall(key: string, mode: string): Omit<CalculateCostInput, 'model'> {
  const size = /(\d+)-x-(\d+)/.exec(key)
  switch (mode) {
    case 'embedding':
    case 'ocr':
    case 'moderation':
      return { usage: u(1_000, 0) }
    case 'rerank':
      return { usage: u(1_000, 0, { searchUnits: 1 }) }
    case 'search':
    case 'vector_store':
      return { usage: u(0, 0, { searchUnits: 1 }) }
    case 'audio_transcription':
      return { usage: u(1_000, 100, { inputAudioTokens: 1_000, audioSeconds: 60 }) }
    case 'audio_speech':
      return { usage: u(100, 1_000, { inputCharacters: 1_000 }) }
    case 'image_generation':
    case 'image_edit':
      return { usage: u(50, 0, { imageCount: 1 }), image: { size: size ? `${size[1]}x${size[2]}` : '1024x1024' } }
    case 'video_generation':
      return { usage: u(0, 0, { audioSeconds: 8 }) }
    default: // chat, completion, responses, realtime
      return { usage: u(1_000, 500) }
  }
}

/**
 * Free entries whose non-zero prices are for a unit their mode's call does not report: gemini/lyria-3-clip-preview
 * is a `chat` entry (tokens 0) that also carries `output_cost_per_image`.
 */
const FREE_WITH_OTHER_UNITS: Record<string, string[]> = { 'gemini/lyria-3-clip-preview': ['output_cost_per_image'] }

describe('every bundled entry is priced, unpriced or explicitly free (no silent $0)', () => {
  const catalog = new PriceCatalog()
  const priced: string[] = []
  const unpriced: string[] = []
  const free: string[] = []
  const unexpected: string[] = []
  for (const key of catalog.keys()) {
    const entry = catalog.get(key)!
    const call = { model: key, catalog, ...typicalCall(key, entry.mode) }
    try {
      const r = calculateCost(call)
      if (!r.priced) unexpected.push(`${key}: priced false without onUnpriced`)
      else if (r.totalCost > 0) priced.push(key)
      else free.push(key)
    } catch (error) {
      if (isUnknownModelError(error)) unpriced.push(key)
      else unexpected.push(`${key}: ${(error as Error).message}`)
    }
  }

  it('classifies all 3,161 entries, with no other error', () => {
    expect(unexpected).toEqual([])
    expect(priced.length + unpriced.length + free.length).toBe(catalog.keys().length)
    // The counts of the bundled table (litellm@00035b69+caddc6dd); a regenerated table updates them here.
    expect({ priced: priced.length, unpriced: unpriced.length, free: free.length }).toEqual({
      priced: 2872,
      unpriced: 158,
      free: 131,
    })
  })

  it('an unpriced entry is priced: false with onUnpriced zero, and its estimate is never $0 silently', () => {
    for (const key of unpriced) {
      const entry = catalog.get(key)!
      const r = calculateCost({ model: key, catalog, onUnpriced: 'zero', ...typicalCall(key, entry.mode) })
      expect([r.priced, r.totalCost, r.exact.totalNanoUsd, r.model], key).toEqual([false, 0, 0, key])
    }
  })

  it('every entry without any price field is unpriced, for calculateCost and estimateCost alike', () => {
    const empty = catalog.keys().filter((k) => Object.keys(catalog.get(k)!.prices).length === 0)
    expect(empty.length).toBe(125)
    expect(empty.filter((k) => !unpriced.includes(k))).toEqual([])
    for (const key of empty) {
      expect(() => estimateCost({ model: key, catalog, inputTokens: 1_000, maxOutputTokens: 500 }), key).toThrow(
        UnknownModelError,
      )
      expect(
        estimateCost({ model: key, catalog, inputTokens: 1_000, maxOutputTokens: 500, onUnpriced: 'zero' }).priced,
        key,
      ).toBe(false)
      // A call that reports nothing is not free either: the entry has no price at all.
      expect(() => calculateCost({ model: key, catalog, usage: u(0, 0) }), key).toThrow(UnknownModelError)
    }
  })

  it('the other unpriced entries have prices, but none for the typical call (per second / per character with tokens only)', () => {
    const withFields = unpriced.filter((k) => Object.keys(catalog.get(k)!.prices).length > 0)
    expect(withFields.length).toBe(33)
    for (const key of withFields) {
      const fields = Object.keys(catalog.get(key)!.prices)
      expect(
        fields.every((f) => /_per_(second|character)$/.test(f)),
        key,
      ).toBe(true)
    }
  })

  it('every free entry found has all-zero prices in the source table', () => {
    expect(free.length).toBeGreaterThan(100)
    const notZero: string[] = []
    for (const key of free) {
      const allowed = FREE_WITH_OTHER_UNITS[key] ?? []
      for (const [field, value] of Object.entries(catalog.get(key)!.prices)) {
        if (value !== '0' && !allowed.includes(field)) notZero.push(`${key}.${field}=${value}`)
      }
    }
    expect(notZero).toEqual([])
    // Known free entries, for the record.
    expect(free).toEqual(
      expect.arrayContaining([
        'ollama/llama3',
        'omni-moderation-latest',
        'duckduckgo/search',
        'openrouter/openrouter/free',
        'gemini/lyria-3-clip-preview',
      ]),
    )
  })
})

describe('models the catalog knows without a price (previously $0 with priced: true)', () => {
  it('github_copilot/gpt-4o (no price field): UnknownModelError saying it is known, with the fix', () => {
    let error: unknown
    try {
      calculateCost({ model: 'github_copilot/gpt-4o', usage: { prompt_tokens: 1_000, completion_tokens: 500 } })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(UnknownModelError)
    const e = error as UnknownModelError
    expect([e.code, e.model, e.provider, e.tried, e.suggestions]).toEqual([
      'UNKNOWN_MODEL',
      'github_copilot/gpt-4o',
      undefined,
      ['github_copilot/gpt-4o'],
      [],
    ])
    expect(e.message).toMatch(
      /is known \(catalog key `github_copilot\/gpt-4o`, mode chat\) but has no price for this kind of usage \(input tokens, output tokens\)/,
    )
    expect(e.message).toMatch(/catalog\.register\('github_copilot\/gpt-4o'/)
    expect(e.message).toMatch(/`prices`/)
    expect(e.stack?.split('\n')[0]).toContain('is known')

    const zero = calculateCost({ model: 'github_copilot/gpt-4o', usage: u(1_000, 500), onUnpriced: 'zero' })
    expect(zero.toJSON()).toMatchObject({
      totalCost: 0,
      priced: false,
      model: 'github_copilot/gpt-4o',
      provider: 'github_copilot',
      rule: 'exact',
      unpriced: ['inputTokens', 'outputTokens'],
    })
    expect(zero.exact.totalCost).toBe('0')
  })

  it('openai/sora-2 (video, no price field): unpriced even when the usage reports nothing', () => {
    expect(() => calculateCost({ model: 'openai/sora-2', usage: u(0, 0) })).toThrow(
      /is known .*mode video_generation.*output_cost_per_second/,
    )
    expect(() => calculateCost({ model: 'sora-2', usage: u(0, 0, { audioSeconds: 8 }) })).toThrow(
      /no price for this kind of usage \(seconds\)/,
    )
    const zero = calculateCost({ model: 'sora-2', usage: u(0, 0, { audioSeconds: 8 }), onUnpriced: 'zero' })
    expect([zero.priced, zero.totalCost, zero.unpriced]).toEqual([false, 0, ['audioSeconds']])
  })

  it('exa_ai/search (search tiers by result count, left out): a query is unpriced', () => {
    expect(() => calculateCost({ model: 'exa_ai/search', usage: u(0, 0, { searchUnits: 1 }) })).toThrow(
      /queries \/ search units/,
    )
    const zero = calculateCost({ model: 'exa_ai/search', usage: u(0, 0, { searchUnits: 1 }), onUnpriced: 'zero' })
    expect([zero.priced, zero.totalCost, zero.unpriced]).toEqual([false, 0, ['searchUnits']])
    // Registering the price fixes it: 3 queries * 0.005 = 0.015
    const c = new PriceCatalog().register('exa_ai/search', { input_cost_per_query: '0.005' })
    expect(
      calculateCost({ model: 'exa_ai/search', usage: u(0, 0, { searchUnits: 3 }), catalog: c }).exact.totalCost,
    ).toBe('0.015')
  })

  it('snowflake/llama3-70b: a registered price wins; a registered price of 0 is free, not unpriced', () => {
    // 1,000 * 0.000001 + 500 * 0.000002 = 0.002
    const c = new PriceCatalog().register('snowflake/llama3-70b', { inputPerMillion: '1', outputPerMillion: '2' })
    expect(calculateCost({ model: 'snowflake/llama3-70b', usage: u(1_000, 500), catalog: c }).exact.totalCost).toBe(
      '0.002',
    )
    expect(
      calculateCost({
        model: 'snowflake/llama3-70b',
        usage: u(1_000, 500),
        prices: { inputPerMillion: '1', outputPerMillion: '2' },
      }).exact.totalCost,
    ).toBe('0.002')
    const free = new PriceCatalog().register('snowflake/llama3-70b', { inputPerMillion: 0, outputPerMillion: 0 })
    const r = calculateCost({ model: 'snowflake/llama3-70b', usage: u(1_000, 500), catalog: free })
    expect([r.priced, r.totalCost, r.unpriced]).toEqual([true, 0, []])
  })

  it('completionCost, costPerToken and estimateCost treat it the same way', () => {
    expect(() => completionCost({ model: 'github_copilot/gpt-4o', usage: u(10, 10) })).toThrow(UnknownModelError)
    expect(completionCost({ model: 'github_copilot/gpt-4o', usage: u(10, 10), onUnpriced: 'zero' })).toBe(0)
    expect(() =>
      costPerToken({ model: 'perplexity/preset/pro-search', promptTokens: 10, completionTokens: 10 }),
    ).toThrow(/is known/)
    expect(
      costPerToken({
        model: 'perplexity/preset/pro-search',
        promptTokens: 10,
        completionTokens: 10,
        onUnpriced: 'zero',
      }),
    ).toEqual({ promptCost: 0, completionCost: 0 })
    expect(() => estimateCost({ model: 'github_copilot/gpt-4o', inputTokens: 100, maxOutputTokens: 100 })).toThrow(
      /is known .*no price/,
    )
    expect(() => estimateCost({ model: 'github_copilot/gpt-4o', messages: 'hi' })).toThrow(UnknownModelError) // before the missing-maxOutputTokens error
    // A provider-reported cost still prices the call (OpenRouter usage.cost).
    expect(
      calculateCost({ model: 'github_copilot/gpt-4o', usage: u(10, 10, { providerCost: 0.002 }) }).exact.totalCost,
    ).toBe('0.002')
  })
})

describe('partial cases: a part without a rate is named in unpriced when another part is priced', () => {
  it('an entry with an output rate only: input tokens unpriced, output priced', () => {
    // twelvelabs.pegasus-1-2-v1:0: output 0.0000075 only => 500 * 0.0000075 = 0.00375
    const r = calculateCost({ model: 'twelvelabs.pegasus-1-2-v1:0', usage: u(1_000, 500) })
    expect([r.priced, r.exact.totalCost, r.unpriced]).toEqual([true, '0.00375', ['inputTokens']])
    // Only the part without a rate reported: nothing of the call is priced => unpriced.
    expect(() => calculateCost({ model: 'twelvelabs.pegasus-1-2-v1:0', usage: u(1_000, 0) })).toThrow(/input tokens/)
    expect(
      estimateCost({ model: 'twelvelabs.pegasus-1-2-v1:0', inputTokens: 1_000, maxOutputTokens: 500 }).unpriced,
    ).toEqual(['inputTokens'])
  })

  it('a custom price with an input rate only: output tokens are named, not silently $0', () => {
    const c = new PriceCatalog({ table: 'empty' }).register('acme', { inputPerMillion: '1' })
    // 1,000 * 0.000001 = 0.001; 500 output tokens have no rate
    const r = calculateCost({ model: 'acme', usage: u(1_000, 500), catalog: c })
    expect([r.priced, r.exact.totalCost, r.unpriced]).toEqual([true, '0.001', ['outputTokens']])
  })

  it('token rates but images reported without a per-image price: the images are unpriced', () => {
    // gpt-4o: 1,000 * 0.0000025 = 0.0025; the image has no per-image price
    const r = calculateCost({ model: 'gpt-4o', usage: u(1_000, 0, { imageCount: 1 }) })
    expect([r.exact.totalCost, r.unpriced]).toEqual(['0.0025', ['imageCount']])
  })

  it('web searches alone on a model without a web-search price are unpriced (nothing of the call has a price)', () => {
    expect(() => calculateCost({ model: 'gpt-4o', usage: u(0, 0, { webSearchRequests: 2 }) })).toThrow(/web searches/)
    const r = calculateCost({ model: 'gpt-4o', usage: u(0, 0, { webSearchRequests: 2 }), onUnpriced: 'zero' })
    expect([r.priced, r.unpriced]).toEqual([false, ['webSearchRequests']])
  })

  it('entries priced per second / character / image bill that unit; their tokens are not a gap', () => {
    // whisper-1: 0.0001 per second * 60 = 0.006, tokens reported too => charged once, by seconds
    const w = calculateCost({ model: 'whisper-1', usage: u(1_000, 100, { audioSeconds: 60 }) })
    expect([w.exact.totalCost, w.unpriced]).toEqual(['0.006', []])
    // tts-1: 1,000 characters * 0.000015 = 0.015
    expect(calculateCost({ model: 'tts-1', usage: u(100, 1_000, { inputCharacters: 1_000 }) }).unpriced).toEqual([])
    // Tokens only, on a per-character entry: nothing has a price => unpriced.
    expect(() => calculateCost({ model: 'tts-1', usage: u(100, 0) })).toThrow(/is known .*input_cost_per_character/)
    // A Bedrock provisioned-throughput entry (per second of commitment) is not priced per call.
    expect(() =>
      calculateCost({ model: 'bedrock/us-east-1/1-month-commitment/anthropic.claude-v2:1', usage: u(1_000, 500) }),
    ).toThrow(UnknownModelError)
    // The token estimate of a per-unit entry is $0 and says so (reserve a USD amount for such calls).
    expect(estimateCost({ model: 'tts-1', inputTokens: 100, maxOutputTokens: 0 })).toMatchObject({
      priced: true,
      totalCost: 0,
      unpriced: ['inputTokens'],
    })
  })

  it('the non-zero rate of a pair with a 0 is used: Titan images (input 0, output 0.008), Soniox seconds (input 0, output 0.0000277778)', () => {
    expect(
      calculateCost({ model: 'amazon.titan-image-generator-v1', usage: u(0, 0, { imageCount: 2 }) }).exact.totalCost,
    ).toBe('0.016')
    // 60 * 0.0000277778 = 0.001666668
    expect(
      calculateCost({ model: 'soniox/stt-async-v4', usage: u(null, null, { audioSeconds: 60 }) }).exact.totalCost,
    ).toBe('0.001666668')
  })

  it('image edits are priced per image like generations (one image when the usage does not say)', () => {
    // stability/inpaint: output_cost_per_image
    const price = new PriceCatalog().get('stability/inpaint')!.prices['output_cost_per_image']!
    expect(calculateCost({ model: 'stability/inpaint', usage: u(0, 0) }).exact.totalCost).toBe(price)
  })

  it('fully priced calls keep the shared empty unpriced list', () => {
    const a = calculateCost({ model: 'gpt-4o', usage: u(1_000, 500) })
    const b = calculateCost({ model: 'ollama/llama3', usage: u(1_000, 500) })
    expect(a.unpriced).toBe(b.unpriced)
    expect([b.priced, b.totalCost]).toEqual([true, 0])
  })
})
