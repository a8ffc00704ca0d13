// Exactness against decimal.js (fast-check) and bad-input handling of the cost functions.
import Decimal from 'decimal.js'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  InvalidInputError,
  PriceCatalog,
  calculateCost,
  defaultCatalog,
  estimateCost,
  costToNano,
  type NormalizedUsage,
} from '../../src/cost/index.js'

Decimal.set({ precision: 200 })

const MODELS = [
  'gpt-4o',
  'gpt-4o-mini',
  'claude-sonnet-4-5',
  'gemini-2.5-flash',
  'o3',
  'gpt-5.6-luna',
  'deepseek/deepseek-chat',
  'gpt-4o-audio-preview',
  'databricks/databricks-gemini-2-5-flash',
]

/** Reference: the same formula in decimal.js straight from the decimal strings of the table. */
function reference(
  model: string,
  u: Required<Pick<NormalizedUsage, 'inputTokens' | 'outputTokens' | 'cacheReadTokens' | 'cacheWriteTokens'>> & {
    reasoning: number
    write1h: number
    audioIn: number
  },
): Decimal {
  const p = defaultCatalog.resolve(model).entry.prices
  const input = u.inputTokens as number
  const above = Object.keys(p)
    .map((k) => /_above_(\d+)k_tokens/.exec(k)?.[1])
    .filter((x): x is string => x !== undefined)
    .map((x) => Number(x) * 1000)
    .filter((t) => input > t)
    .sort((a, b) => b - a)[0]
  const suffix = above ? `_above_${above / 1000}k_tokens` : ''
  const rate = (name: string, fallback?: Decimal): Decimal => {
    const v = p[name + suffix] ?? p[name]
    return v !== undefined ? new Decimal(v) : (fallback ?? new Decimal(0))
  }
  const inRate = rate('input_cost_per_token')
  const outRate = rate('output_cost_per_token')
  const read = rate(
    'cache_read_input_token_cost',
    p.input_cost_per_token_cache_hit ? new Decimal(p.input_cost_per_token_cache_hit) : inRate,
  )
  const write = rate('cache_creation_input_token_cost', inRate)
  const oneHourKey = above ? p[`cache_creation_input_token_cost_above_1hr_above_${above / 1000}k_tokens`] : undefined
  let write1h = oneHourKey
    ? new Decimal(oneHourKey)
    : p.cache_creation_input_token_cost_above_1hr
      ? new Decimal(p.cache_creation_input_token_cost_above_1hr)
      : write
  if (above && !oneHourKey && write1h.lt(write)) write1h = write
  const reasoningRate = p[`output_cost_per_reasoning_token${suffix}`] ?? p.output_cost_per_reasoning_token
  const audioIn = rate('input_cost_per_audio_token', inRate)
  const uncached = input - u.cacheReadTokens - u.cacheWriteTokens - u.audioIn
  return inRate
    .mul(uncached)
    .add(audioIn.mul(u.audioIn))
    .add(read.mul(u.cacheReadTokens))
    .add(write.mul(u.cacheWriteTokens - u.write1h))
    .add(write1h.mul(u.write1h))
    .add(outRate.mul((u.outputTokens as number) - u.reasoning))
    .add((reasoningRate ? new Decimal(reasoningRate) : outRate).mul(u.reasoning))
}

const usageArb = fc
  .record({
    uncached: fc.integer({ min: 0, max: 3_000_000 }),
    read: fc.integer({ min: 0, max: 2_000_000 }),
    write5m: fc.integer({ min: 0, max: 500_000 }),
    write1h: fc.integer({ min: 0, max: 500_000 }),
    audioIn: fc.integer({ min: 0, max: 10_000 }),
    text: fc.integer({ min: 0, max: 200_000 }),
    reasoning: fc.integer({ min: 0, max: 200_000 }),
    big: fc.boolean(),
  })
  .map((r) => {
    const k = r.big ? 10_000 : 1
    return { ...r, uncached: r.uncached * k, read: r.read * k }
  })

describe('exactness', () => {
  it('calculateCost equals a decimal.js reference for random usage (fast path and BigInt path)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...MODELS), usageArb, (model, r) => {
        const usage: NormalizedUsage = {
          inputTokens: r.uncached + r.read + r.write5m + r.write1h + r.audioIn,
          outputTokens: r.text + r.reasoning,
          cacheReadTokens: r.read,
          cacheWriteTokens: r.write5m + r.write1h,
          cacheWrite1hTokens: r.write1h,
          inputAudioTokens: r.audioIn,
          reasoningTokens: r.reasoning,
        }
        let result
        try {
          result = calculateCost({ model, usage })
        } catch (error) {
          // Only refusal allowed: a single call beyond 2^53 nano-USD.
          expect(error).toBeInstanceOf(InvalidInputError)
          expect(
            reference(model, { ...usage, reasoning: r.reasoning, write1h: r.write1h, audioIn: r.audioIn } as never).gt(
              9_007_199,
            ),
          ).toBe(true)
          return
        }
        const expected = reference(model, {
          ...usage,
          reasoning: r.reasoning,
          write1h: r.write1h,
          audioIn: r.audioIn,
        } as never)
        expect(result.exact.totalCost).toBe(expected.toFixed())
        expect(result.totalCost).toBe(expected.toNumber())
        expect(costToNano(result)).toBe(expected.mul(1e9).ceil().toNumber())
        const parts = new Decimal(result.exact.inputCost)
          .add(result.exact.outputCost)
          .add(result.exact.cacheReadCost)
          .add(result.exact.cacheWriteCost)
          .add(result.exact.reasoningCost)
          .add(result.exact.otherCost)
        expect(parts.toFixed()).toBe(result.exact.totalCost)
      }),
      { numRuns: 2_000 },
    )
  })

  it('a million charges of $0.000001 sum to exactly $1 in nano-USD', () => {
    const catalog = new PriceCatalog({ table: 'empty' }).register('micro', { input_cost_per_token: '0.000001' })
    const usage: NormalizedUsage = {
      inputTokens: 1,
      outputTokens: 0,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      reasoningTokens: null,
    }
    let nano = 0
    for (let i = 0; i < 1_000_000; i++) nano += costToNano(calculateCost({ model: 'micro', usage, catalog }))
    expect(nano).toBe(1_000_000_000)
  })
})

describe('bad input is an InvalidInputError naming the field, never NaN or a negative cost', () => {
  const base: NormalizedUsage = {
    inputTokens: 100,
    outputTokens: 10,
    cacheReadTokens: 0,
    cacheWriteTokens: 0,
    reasoningTokens: null,
  }
  it.each([
    [{ inputTokens: -1 }, 'usage.inputTokens'],
    [{ inputTokens: Number.NaN }, 'usage.inputTokens'],
    [{ inputTokens: Number.POSITIVE_INFINITY }, 'usage.inputTokens'],
    [{ inputTokens: 1.5 }, 'usage.inputTokens'],
    [{ inputTokens: 1e13 }, 'usage.inputTokens'],
    [{ outputTokens: -5 }, 'usage.outputTokens'],
    [{ reasoningTokens: -1 }, 'usage.reasoningTokens'],
    [{ inputAudioTokens: 0.5 }, 'usage.inputAudioTokens'],
    [{ inputTokens: 1_000_000_000_000, outputTokens: 1_000_000_000_000 }, 'usage'],
  ])('%j -> %s', (patch, field) => {
    try {
      calculateCost({ model: 'gpt-4o', usage: { ...base, ...patch } })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidInputError)
      expect((error as InvalidInputError).field).toBe(field)
    }
  })
  // Counts that do not add up (cache > input, reasoning > output) are clamped, not refused: see test/cost/accuracy.test.ts.
  it.each([
    [{ serviceTier: 'turbo' }, 'serviceTier'],
    [{ model: '' }, 'model'],
    [{ image: { size: 'big' } }, 'image.size'],
  ])('option %j -> %s', (patch, field) => {
    expect(() => calculateCost({ model: 'gpt-4o', usage: base, ...(patch as object) })).toThrow(
      expect.objectContaining({ field }),
    )
  })
  it.each([
    [{ inputTokens: -1, maxOutputTokens: 1 }, 'inputTokens'],
    [{ inputTokens: 1.2, maxOutputTokens: 1 }, 'inputTokens'],
    [{ inputTokens: 1, maxOutputTokens: Number.NaN }, 'maxOutputTokens'],
    [{ maxOutputTokens: 1 }, 'inputTokens'],
    [{ messages: 'hi', maxOutputTokens: 1, margin: -1 }, 'margin'],
  ])('estimateCost %j -> %s', (patch, field) => {
    expect(() => estimateCost({ model: 'gpt-4o', ...(patch as object) })).toThrow(expect.objectContaining({ field }))
  })
  it('fuzzed usage never yields NaN or a negative cost', () => {
    const value = fc.oneof(
      fc.integer({ min: -10, max: 1_000 }),
      fc.double(),
      fc.constant(null),
      fc.constant(undefined),
      fc.string(),
    )
    fc.assert(
      fc.property(
        fc.record({
          inputTokens: value,
          outputTokens: value,
          cacheReadTokens: value,
          cacheWriteTokens: value,
          reasoningTokens: value,
        }),
        (usage) => {
          try {
            const r = calculateCost({ model: 'gpt-4o', usage })
            expect(Number.isFinite(r.totalCost) && r.totalCost >= 0).toBe(true)
          } catch (error) {
            expect((error as Error).name).toMatch(/InvalidInputError|MissingUsageError/)
          }
        },
      ),
      { numRuns: 1_000 },
    )
  })
})
