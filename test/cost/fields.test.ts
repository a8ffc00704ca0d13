// Every fee in the bundled table is billed or declared unpriced: a new price field in a future table cannot be
// dropped silently. For each price field the table has, some entry's cost must change when that field's value
// changes (the formula reads it); every field the source had but the table left out must be declared, with a
// reason, in UNPRICED_FIELDS; and the importer reports a field it has never seen.
import { describe, expect, it } from 'vitest'
import { calculateCost, defaultCatalog, type CalculateCostInput, type NormalizedUsage } from '../../src/cost/index.js'
import { BUNDLED_TABLE } from '../../src/cost/data/prices.js'
import { importLiteLLMTable } from '../../src/cost/litellm-import.js'
import { TIER_FIELD, UNPRICED_FIELDS, isUsedField } from '../../src/cost/table.js'

const base: NormalizedUsage = {
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  cacheWriteTokens: 0,
  reasoningTokens: null,
}

/** A call that exercises `field` (tokens above its threshold, its service tier, batch, ...). */
function callFor(field: string): Omit<CalculateCostInput, 'model'> {
  const tier = TIER_FIELD.exec(field)
  const name = tier ? tier[1]! : field
  const above = /_above_(\d+)k_tokens/.exec(field)
  // Inside the tier's range, or above the threshold (LiteLLM thresholds are "more than N k input tokens").
  const input = tier ? Number(tier[2]) + 1 : above ? Number(above[1]) * 1000 + 1_000 : 1_000
  const serviceTier = field.endsWith('_flex') ? 'flex' : field.endsWith('_priority') ? 'priority' : undefined
  const batch = field.endsWith('_batches') ? true : undefined
  const tokens = (patch: Partial<NormalizedUsage>): Omit<CalculateCostInput, 'model'> => ({
    usage: { ...base, inputTokens: input, outputTokens: 100, ...patch },
    serviceTier,
    batch,
  })
  if (name === 'input_cost_per_token_cache_hit') return tokens({ cacheReadTokens: 500 })
  if (name.startsWith('input_cost_per_token')) return tokens({})
  if (name.startsWith('output_cost_per_token')) return tokens({})
  if (name.startsWith('cache_read_input_token_cost')) return tokens({ cacheReadTokens: 500 })
  if (name.startsWith('cache_creation_input_token_cost_above_1hr'))
    return tokens({ cacheWriteTokens: 500, cacheWrite1hTokens: 500 })
  if (name.startsWith('cache_creation_input_token_cost')) return tokens({ cacheWriteTokens: 500 })
  if (name.startsWith('output_cost_per_reasoning_token')) return tokens({ reasoningTokens: 50 })
  if (name.startsWith('input_cost_per_audio_token')) return tokens({ inputAudioTokens: 500 })
  if (name.startsWith('output_cost_per_audio_token')) return tokens({ outputAudioTokens: 50 })
  if (name.startsWith('input_cost_per_image_token')) return tokens({ inputImageTokens: 500 })
  if (name.startsWith('output_cost_per_image_token')) return tokens({ outputImageTokens: 50 })
  if (name === 'citation_cost_per_token') return tokens({ citationTokens: 200 })
  if (name.startsWith('search_context_cost_per_query_')) {
    const size = name.slice('search_context_cost_per_query_'.length) as 'low' | 'medium' | 'high'
    return { usage: { ...base, inputTokens: 100, outputTokens: 10, webSearchRequests: 2 }, searchContextSize: size }
  }
  if (name === 'input_cost_per_second' || name === 'output_cost_per_second')
    return { usage: { ...base, inputTokens: null, outputTokens: null, audioSeconds: 30 } }
  if (name === 'input_cost_per_character') return { usage: { ...base, inputCharacters: 1_000 } }
  if (name === 'input_cost_per_image' || name === 'output_cost_per_image') return { usage: { ...base, imageCount: 2 } }
  if (name === 'input_cost_per_pixel' || name === 'output_cost_per_pixel')
    return { usage: { ...base, imageCount: 1 }, image: { size: '512x512' } }
  if (name === 'input_cost_per_query') return { usage: { ...base, searchUnits: 3 } }
  if (name === 'input_cost_per_request') return tokens({})
  throw new Error(`no test call for price field ${field}: teach callFor() how to exercise it`)
}

/** Doubles a decimal string (plus a small step, so 0 changes too). */
function bumped(price: string): string {
  return String(Number(price) * 2 + 0.000001)
}

describe('every price field of the bundled table is billed', () => {
  const fields = BUNDLED_TABLE.fields
  it('the table has price fields and declares the ones it left out', () => {
    expect(fields.length).toBeGreaterThan(40)
    expect(BUNDLED_TABLE.unpricedFields?.length).toBeGreaterThan(10)
  })
  for (const field of fields) {
    it(field, () => {
      expect(isUsedField(field)).toBe(true)
      const call = callFor(field)
      // Some entry with this field must cost more when the field costs more: the formula reads it.
      let tried = 0
      let changed = false
      for (const key of defaultCatalog.keys()) {
        const entry = defaultCatalog.get(key)
        if (!entry || entry.prices[field] === undefined) continue
        tried++
        const priced = (prices: Record<string, string>): string =>
          calculateCost({ ...call, model: key, prices: { ...prices }, onUnpriced: 'zero' }).exact.totalCost
        const before = priced({ ...entry.prices })
        const after = priced({ ...entry.prices, [field]: bumped(entry.prices[field]!) })
        if (before !== after) {
          changed = true
          break
        }
        if (tried >= 40) break
      }
      expect(tried, `no entry has ${field}`).toBeGreaterThan(0)
      expect(changed, `${field}: the cost of ${tried} entries did not change with its value (billed by nothing?)`).toBe(
        true,
      )
    })
  }
})

describe('every price field the table left out is declared unpriced, with a reason', () => {
  for (const field of BUNDLED_TABLE.unpricedFields ?? []) {
    it(field, () => {
      expect(UNPRICED_FIELDS[field]).toMatch(/.{20,}/)
      expect(isUsedField(field)).toBe(false)
    })
  }
  it('the importer reports a price field it does not know (so the price build fails on it)', () => {
    const imported = importLiteLLMTable({
      'new-model': {
        litellm_provider: 'openai',
        mode: 'chat',
        input_cost_per_token: 1e-6,
        output_cost_per_token: 2e-6,
        brand_new_cost_per_token: 5e-6,
        supports_vision: true,
      },
    })
    expect(imported.unknownPriceFields).toEqual([{ field: 'brand_new_cost_per_token', models: ['new-model'] }])
    expect(imported.entries.get('new-model')?.prices).toEqual({
      input_cost_per_token: '0.000001',
      output_cost_per_token: '0.000002',
    })
  })
})
