// cheapestModel: candidates priced for the same usage (hand arithmetic below), filtered by capabilities.
import { describe, expect, it } from 'vitest'
import { cheapestModel, modelCapabilities } from '../../src/cost/select.js'
import { InvalidInputError } from '../../src/errors.js'

describe('cheapestModel', () => {
  it('prices every candidate and returns the cheapest that qualifies', () => {
    const choice = cheapestModel({ candidates: ['gpt-4o', 'gpt-4o-mini'], inputTokens: 20_000, outputTokens: 1_000 })
    // gpt-4o-mini: 20,000 * $0.15/M + 1,000 * $0.60/M = 0.003 + 0.0006 = 0.0036
    // gpt-4o:      20,000 * $2.50/M + 1,000 * $10/M   = 0.05 + 0.01    = 0.06
    expect(choice.model).toBe('gpt-4o-mini')
    expect(choice.exact).toBe('0.0036')
    expect(choice.ranked.map((r) => [r.model, r.exact])).toEqual([
      ['gpt-4o-mini', '0.0036'],
      ['gpt-4o', '0.06'],
    ])
  })

  it('filters by capability and context window, saying why', () => {
    expect(modelCapabilities('gpt-4o').supports.has('vision')).toBe(true)
    expect(modelCapabilities('gpt-4o').maxInputTokens).toBe(128_000)
    const audio = cheapestModel({
      candidates: ['gpt-4o', 'gpt-4o-mini', 'gpt-4o-audio-preview'],
      inputTokens: 1_000,
      outputTokens: 100,
      require: { audioInput: true },
    })
    expect(audio.model).toBe('gpt-4o-audio-preview')
    expect(audio.excluded).toEqual([
      { model: 'gpt-4o', reason: 'lacks audioInput' },
      { model: 'gpt-4o-mini', reason: 'lacks audioInput' },
    ])
    const long = cheapestModel({
      candidates: ['gpt-4o-mini', 'gpt-4.1-mini'],
      inputTokens: 500_000,
      outputTokens: 1_000,
    })
    expect(long.model).toBe('gpt-4.1-mini')
    expect(long.excluded[0]!.reason).toBe('context window 128000 < 501000')
  })

  it('reads capabilities at the right model across the whole table (the lines follow the price rows)', () => {
    // Values from LiteLLM's model_prices_and_context_window.json: the first row of the table, a row that records
    // no capability between two that do, and the last row.
    const of = (model: string) => {
      const c = modelCapabilities(model)
      return [c.maxInputTokens, [...c.supports].sort()]
    }
    expect(of('1024-x-1024/50-steps/bedrock/amazon.nova-canvas-v1:0')).toEqual([2600, []])
    expect(of('1024-x-1024/dall-e-2')).toEqual([null, []])
    expect(of('1024-x-1024/gpt-image-1.5')).toEqual([null, ['pdfInput', 'vision']])
    expect(of('gpt-4o-audio-preview')).toEqual([128_000, ['audioInput', 'audioOutput', 'toolCalling']])
    expect(of('zai/glm-5.1')).toEqual([200_000, ['promptCaching', 'reasoning', 'toolCalling']])
  })

  it('defaults to every priced chat model that is not retired', () => {
    const choice = cheapestModel({
      inputTokens: 1_000,
      outputTokens: 1_000,
      require: { toolCalling: true, vision: true, contextTokens: 100_000 },
    })
    expect(choice.capabilities.supports.has('toolCalling')).toBe(true)
    expect(choice.capabilities.maxInputTokens).toBeGreaterThanOrEqual(100_000)
    expect(choice.ranked.length).toBeGreaterThan(50)
    for (const r of choice.ranked.slice(1, 20)) expect(r.cost).toBeGreaterThanOrEqual(choice.cost)
  })

  it('bad input and no qualifying candidate are typed errors', () => {
    expect(() => cheapestModel({ candidates: ['gpt-4o'], inputTokens: -1, outputTokens: 1 })).toThrow(InvalidInputError)
    expect(() => cheapestModel({ candidates: [], inputTokens: 1, outputTokens: 1 })).toThrow(/non-empty/)
    expect(() =>
      cheapestModel({ candidates: ['gpt-4o'], inputTokens: 1, outputTokens: 1, require: { telepathy: true } as never }),
    ).toThrow(/unknown requirement/)
    expect(() => cheapestModel({ candidates: ['no-such-model-q'], inputTokens: 1, outputTokens: 1 })).toThrow(
      /"no-such-model-q": unknown model/,
    )
  })
})
