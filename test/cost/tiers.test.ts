// LiteLLM `tiered_pricing` through the import (build script and refresh), the compact table and the catalog.
import { describe, expect, it } from 'vitest'
import { PriceCatalog, calculateCost } from '../../src/cost/index.js'
import { buildCompactTable, importLiteLLMTable } from '../../src/cost/litellm-import.js'
import { parseCompactTable } from '../../src/cost/price-file.js'

const usage = (inputTokens: number, outputTokens: number) => ({
  inputTokens,
  outputTokens,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: null,
})

const tiered = {
  'dashscope/test-tiered': {
    litellm_provider: 'dashscope',
    mode: 'chat',
    tiered_pricing: [
      { input_cost_per_token: 5e-8, output_cost_per_token: 4e-7, range: [0, 256000.0] },
      {
        input_cost_per_token: 2.5e-7,
        output_cost_per_token: 2e-6,
        cache_read_input_token_cost: 5e-8,
        range: [256000.0, 1000000.0],
      },
    ],
  },
}

describe('tiered_pricing import', () => {
  it('flattens token tiers into <rate>_tier_<start>_<end> fields', () => {
    const { entries, rejected } = importLiteLLMTable(tiered)
    expect(rejected).toEqual([])
    expect(entries.get('dashscope/test-tiered')!.prices).toEqual({
      input_cost_per_token_tier_0_256000: '0.00000005',
      output_cost_per_token_tier_0_256000: '0.0000004',
      input_cost_per_token_tier_256000_1000000: '0.00000025',
      output_cost_per_token_tier_256000_1000000: '0.000002',
      cache_read_input_token_cost_tier_256000_1000000: '0.00000005',
    })
  })

  it('leaves out search tiers priced by max results (exa_ai, firecrawl) without rejecting the entry', () => {
    const { entries, rejected } = importLiteLLMTable({
      'exa_ai/search': {
        litellm_provider: 'exa_ai',
        mode: 'search',
        tiered_pricing: [{ input_cost_per_query: 0.005, max_results_range: [0, 25] }],
      },
    })
    expect(rejected).toEqual([])
    expect(entries.get('exa_ai/search')!.prices).toEqual({})
  })

  it.each([
    [
      'a rate the calculator would not apply',
      [{ range: [0, 1000], input_cost_per_token: 1e-6, input_cost_per_audio_token: 1e-6 }],
      /input_cost_per_audio_token: not a tier rate/,
    ],
    [
      'a range whose start is not below its end',
      [{ range: [1000, 1000], input_cost_per_token: 1e-6 }],
      /range start must be below its end/,
    ],
    ['a fractional range', [{ range: [0, 1000.5], input_cost_per_token: 1e-6 }], /tiered_pricing\.0/],
    [
      'overlapping ranges',
      [
        { range: [0, 2000], input_cost_per_token: 1e-6 },
        { range: [1000, 3000], input_cost_per_token: 2e-6 },
      ],
      /overlap/,
    ],
    ['a tier without an input rate', [{ range: [0, 1000], output_cost_per_token: 1e-6 }], /needs input_cost_per_token/],
    [
      'a negative tier price',
      [{ range: [0, 1000], input_cost_per_token: -1e-6 }],
      /tiered_pricing\.0\.input_cost_per_token/,
    ],
    ['not a list', { range: [0, 1000] }, /tiered_pricing/],
  ])('rejects the entry for %s', (_name, tiers, reason) => {
    const { entries, rejected } = importLiteLLMTable({
      'x/bad': { litellm_provider: 'dashscope', tiered_pricing: tiers },
    })
    expect(entries.has('x/bad')).toBe(false)
    expect(rejected).toHaveLength(1)
    expect(rejected[0]!.reason).toMatch(reason)
  })

  it('survives the compact table, its validation (price files) and a refresh', async () => {
    const { table } = buildCompactTable({
      current: tiered,
      sources: [{ file: 't.json', commit: 'c', date: 'd', role: 'current' }],
      license: 'MIT',
    })
    const parsed = parseCompactTable(JSON.parse(JSON.stringify(table)))
    const fromFile = new PriceCatalog({ table: parsed })
    // 300,000 input -> tier 2: 300,000 * 0.00000025 = 0.075; 1,000 * 0.000002 = 0.002 => 0.077
    expect(
      calculateCost({ model: 'dashscope/test-tiered', usage: usage(300_000, 1_000), catalog: fromFile }).exact
        .totalCost,
    ).toBe('0.077')
    // 100,000 input -> tier 1: 100,000 * 0.00000005 = 0.005; 1,000 * 0.0000004 = 0.0004 => 0.0054
    expect(
      calculateCost({ model: 'dashscope/test-tiered', usage: usage(100_000, 1_000), catalog: fromFile }).exact
        .totalCost,
    ).toBe('0.0054')

    const refreshed = new PriceCatalog({ table: 'empty' })
    const report = await refreshed.refresh({ json: tiered })
    expect(report.ok).toBe(true)
    expect(
      calculateCost({ model: 'dashscope/test-tiered', usage: usage(300_000, 1_000), catalog: refreshed }).exact
        .totalCost,
    ).toBe('0.077')
  })

  it('price files with a malformed tier field are refused', () => {
    const { table } = buildCompactTable({
      current: tiered,
      sources: [{ file: 't.json', commit: 'c', date: 'd', role: 'current' }],
      license: 'MIT',
    })
    const bad = { ...table, fields: table.fields.map((f) => f.replace('_tier_0_256000', '_tier_256000_0')) }
    expect(() => parseCompactTable(bad)).toThrow(/not a price field/)
  })

  it('every tiered entry of the bundled table is priced by its tiers (none left at $0)', () => {
    const catalog = new PriceCatalog()
    const tieredKeys = catalog
      .keys()
      .filter((k) => Object.keys(catalog.get(k)?.prices ?? {}).some((f) => f.includes('_tier_')))
    expect(tieredKeys.length).toBeGreaterThanOrEqual(18)
    for (const key of tieredKeys) {
      const r = calculateCost({ model: key, usage: usage(300_000, 1_000), catalog })
      expect(r.totalCost, key).toBeGreaterThan(0)
    }
  })
})
