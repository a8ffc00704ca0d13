// Golden cases: every expected value is worked out by hand from the prices in src/cost/data/prices.ts
// (LiteLLM 2026 table + retired 2025 models). Each case states the prices used and the arithmetic.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  PriceCatalog,
  calculateCost,
  completionCost,
  costPerToken,
  estimateCost,
  normalizeUsage,
  costToNano,
  type CalculateCostInput,
  type NormalizedUsage,
} from '../../src/cost/index.js'

function fixture(name: string): Record<string, unknown> {
  const data = JSON.parse(readFileSync(new URL(`../fixtures/usage/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >
  return Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith('_')))
}

function u(inputTokens: number, outputTokens: number, extra: Partial<NormalizedUsage> = {}): NormalizedUsage {
  return { inputTokens, outputTokens, cacheReadTokens: 0, cacheWriteTokens: 0, reasoningTokens: null, ...extra }
}

interface Case {
  name: string
  input: CalculateCostInput
  /** exact total in USD */
  total: string
  catalog?: (c: PriceCatalog) => void
  check?: (r: ReturnType<typeof calculateCost>) => void
}

const cases: Case[] = [
  // --- OpenAI cached input -------------------------------------------------------------------------
  {
    // gpt-4o: input 0.0000025, cache_read 0.00000125, output 0.00001
    // 4,000 uncached * 0.0000025 = 0.01; 6,000 cached * 0.00000125 = 0.0075; 500 * 0.00001 = 0.005 => 0.0225
    name: 'gpt-4o with 6,000 of 10,000 input tokens cached',
    input: { model: 'gpt-4o', usage: u(10_000, 500, { cacheReadTokens: 6_000 }) },
    total: '0.0225',
    check: (r) => {
      expect(r.exact.inputCost).toBe('0.01')
      expect(r.exact.cacheReadCost).toBe('0.0075')
      expect(r.exact.outputCost).toBe('0.005')
    },
  },
  {
    // gpt-4o: 1,000 * 0.0000025 = 0.0025; 200 * 0.00001 = 0.002 => 0.0045
    name: 'gpt-4o without cache',
    input: { model: 'gpt-4o', usage: u(1_000, 200) },
    total: '0.0045',
  },
  {
    // gpt-4o-mini: input 0.00000015, cache_read 0.000000075, output 0.0000006
    // 976 * 0.00000015 = 0.0001464; 1,024 * 0.000000075 = 0.0000768; 300 * 0.0000006 = 0.00018 => 0.0004032
    name: 'gpt-4o-mini cached (never priced as gpt-4o)',
    input: { model: 'gpt-4o-mini', usage: u(2_000, 300, { cacheReadTokens: 1_024 }) },
    total: '0.0004032',
  },
  {
    // openai-chat.json: gpt-4o-2024-08-06 input 0.0000025, cache_read 0.00000125, output 0.00001
    // 243 * 0.0000025 = 0.0006075; 2,944 * 0.00000125 = 0.00368; 412 * 0.00001 = 0.00412 => 0.0084075
    name: 'OpenAI chat fixture (raw response, dated snapshot)',
    input: { model: 'gpt-4o', usage: fixture('openai-chat.json') },
    total: '0.0084075',
    check: (r) => expect(r.model).toBe('gpt-4o-2024-08-06'),
  },
  {
    // openai-chat-stream.json: gpt-4o-mini-2024-07-18 input 0.00000015, cache_read 0.000000075, output 0.0000006
    // 141 * 0.00000015 = 0.00002115; 1,280 * 0.000000075 = 0.000096; 58 * 0.0000006 = 0.0000348 => 0.00015195
    name: 'OpenAI chat stream fixture (usage on the final chunk)',
    input: {
      model: 'gpt-4o-mini',
      usage: (
        JSON.parse(readFileSync(new URL('../fixtures/usage/openai-chat-stream.json', import.meta.url), 'utf8')) as {
          stream: unknown[]
        }
      ).stream,
    },
    total: '0.00015195',
  },
  {
    // gpt-4o-2024-05-13 has no cache_read rate: input 0.000005, output 0.000015
    // cached tokens at the input rate: 1,000 * 0.000005 = 0.005; 100 * 0.000015 = 0.0015 => 0.0065 (not 0.0045)
    name: 'model without a cache-read rate bills cached tokens at the input rate, not 0',
    input: { model: 'gpt-4o-2024-05-13', usage: u(1_000, 100, { cacheReadTokens: 400 }) },
    total: '0.0065',
  },
  // --- Anthropic cache writes 5m / 1h and reads --------------------------------------------------------
  {
    // claude-sonnet-4-5: input 0.000003, cache_read 0.0000003, cache_creation 0.00000375 (5m), _above_1hr 0.000006, output 0.000015
    // 1,000 * 0.000003 = 0.003; 3,000 * 0.0000003 = 0.0009; 4,000 * 0.00000375 = 0.015; 2,000 * 0.000006 = 0.012;
    // 500 * 0.000015 = 0.0075 => 0.0384
    name: 'Anthropic cache reads, 5m writes and 1h writes',
    input: {
      model: 'claude-sonnet-4-5',
      usage: u(10_000, 500, {
        cacheReadTokens: 3_000,
        cacheWriteTokens: 6_000,
        cacheWrite5mTokens: 4_000,
        cacheWrite1hTokens: 2_000,
      }),
    },
    total: '0.0384',
    check: (r) => {
      expect(r.exact.cacheWriteCost).toBe('0.027')
      expect(r.exact.cacheReadCost).toBe('0.0009')
    },
  },
  {
    // anthropic-messages-cache.json, claude-sonnet-4-6: input 0.000003, read 0.0000003, 5m 0.00000375, 1h 0.000006, output 0.000015,
    // web search 0.01 per search. 14 * 0.000003 = 0.000042; 51,236 * 0.0000003 = 0.0153708; 1,402 * 0.00000375 = 0.0052575;
    // 6,000 * 0.000006 = 0.036; 1,187 * 0.000015 = 0.017805; 2 searches * 0.01 = 0.02 => 0.0944753
    name: 'Anthropic fixture with 5m + 1h writes, reads and web search',
    input: { model: 'claude-sonnet-4-6', usage: fixture('anthropic-messages-cache.json') },
    total: '0.0944753',
    check: (r) => expect(r.exact.otherCost).toBe('0.02'),
  },
  {
    // Same call through LangChain (usage_metadata + response_metadata.usage): identical cost 0.0944753
    name: 'LangChain AIMessage of the same Anthropic call',
    input: { model: 'claude-sonnet-4-6', usage: fixture('langchain-aimessage-anthropic.json') },
    total: '0.0944753',
  },
  {
    // anthropic-stream.json, claude-haiku-4-5-20251001: input 0.000001, read 0.0000001, output 0.000005
    // 9 * 0.000001 = 0.000009; 4,210 * 0.0000001 = 0.000421; 187 * 0.000005 = 0.000935 => 0.001365
    name: 'Anthropic stream (cumulative message_delta, not summed)',
    input: {
      model: 'claude-haiku-4-5',
      usage: (
        JSON.parse(readFileSync(new URL('../fixtures/usage/anthropic-stream.json', import.meta.url), 'utf8')) as {
          stream: unknown[]
        }
      ).stream,
    },
    total: '0.001365',
  },
  {
    // AI SDK 6 result for claude-sonnet-4-5-20250929: input 0.000003, read 0.0000003, 5m write 0.00000375, output 0.000015
    // 7 * 0.000003 = 0.000021; 16,399 * 0.0000003 = 0.0049197; 2,089 * 0.00000375 = 0.00783375; 445 * 0.000015 = 0.006675 => 0.01944945
    name: 'AI SDK 6 generateText result (Anthropic)',
    input: { model: 'claude-sonnet-4-5', usage: fixture('ai-sdk-generate-result.json') },
    total: '0.01944945',
  },
  {
    // AI SDK 5 Anthropic (input excludes cache; writes only in providerMetadata): same call => 0.01944945
    name: 'AI SDK 5 generateText result (Anthropic, cache added back)',
    input: { model: 'claude-sonnet-4-5', usage: fixture('ai-sdk-v5-generate-result-anthropic.json') },
    total: '0.01944945',
  },
  {
    // custom entry with a 5m write rate and no 1h rate: input 0.000001, cache_creation 0.00000125
    // 1,000 1h writes fall back to the 5m rate: 1,000 * 0.00000125 = 0.00125
    name: 'missing 1h write rate falls back to the 5m write rate',
    catalog: (c) => c.register('acme-cache', { inputPerMillion: '1', cacheWritePerMillion: '1.25' }),
    input: { model: 'acme-cache', usage: u(1_000, 0, { cacheWriteTokens: 1_000, cacheWrite1hTokens: 1_000 }) },
    total: '0.00125',
  },
  // --- Thresholds (whole request re-priced strictly above) -----------------------------------------------
  {
    // claude-sonnet-4-5 above 200k: input_above_200k 0.000006, output_above_200k 0.0000225
    // 250,000 * 0.000006 = 1.5; 1,000 * 0.0000225 = 0.0225 => 1.5225
    name: 'Anthropic call above 200k input tokens',
    input: { model: 'claude-sonnet-4-5', usage: u(250_000, 1_000) },
    total: '1.5225',
  },
  {
    // exactly 200,000 is not above: 200,000 * 0.000003 = 0.6; 1,000 * 0.000015 = 0.015 => 0.615
    name: 'Anthropic call at exactly 200k input tokens uses base prices',
    input: { model: 'claude-sonnet-4-5', usage: u(200_000, 1_000) },
    total: '0.615',
  },
  {
    // claude-sonnet-4-5 above 200k with 1h writes: input_above_200k 0.000006, cache_creation_above_1hr_above_200k 0.000012
    // 10,000 * 0.000006 = 0.06; 200,000 * 0.000012 = 2.4 => 2.46
    name: 'Anthropic 1h cache writes above 200k',
    input: {
      model: 'claude-sonnet-4-5',
      usage: u(210_000, 0, { cacheWriteTokens: 200_000, cacheWrite1hTokens: 200_000 }),
    },
    total: '2.46',
  },
  {
    // gemini/gemini-2.5-pro above 200k: input 0.0000025, cache_read 0.00000025, output 0.000015
    // 200,000 * 0.0000025 = 0.5; 50,000 * 0.00000025 = 0.0125; 2,000 * 0.000015 = 0.03 => 0.5425
    name: 'Gemini call above 200k input tokens (cached and thinking tokens too)',
    input: {
      model: 'gemini-2.5-pro',
      provider: 'gemini',
      usage: u(250_000, 2_000, { cacheReadTokens: 50_000, reasoningTokens: 1_500 }),
    },
    total: '0.5425',
    check: (r) => expect(r.model).toBe('gemini/gemini-2.5-pro'),
  },
  {
    // gemini/gemini-2.5-pro below: 150,000 * 0.00000125 = 0.1875; 1,000 * 0.00001 = 0.01 => 0.1975
    name: 'Gemini call below 200k',
    input: { model: 'gemini-2.5-pro', provider: 'gemini', usage: u(150_000, 1_000) },
    total: '0.1975',
  },
  {
    // gemini/gemini-1.5-pro (retired, 2025 table): input_above_128k 0.000007, output_above_128k 0.000021
    // 200,000 * 0.000007 = 1.4; 1,000 * 0.000021 = 0.021 => 1.421
    name: 'retired Gemini 1.5 above 128k',
    input: { model: 'gemini/gemini-1.5-pro', usage: u(200_000, 1_000) },
    total: '1.421',
  },
  // --- Reasoning / thinking ------------------------------------------------------------------------------
  {
    // gemini-generate.json, gemini-2.5-flash: input 0.0000003, cache_read 0.00000003, output 0.0000025, reasoning 0.0000025
    // 2,234 * 0.0000003 = 0.0006702; 12,288 * 0.00000003 = 0.00036864; 412 * 0.0000025 = 0.00103; thinking 1,208 * 0.0000025 = 0.00302
    // => 0.00508884 (thinking added to output by normalization, billed once)
    name: 'Gemini thinking tokens (added to output once)',
    input: { model: 'gemini-2.5-flash', usage: fixture('gemini-generate.json') },
    total: '0.00508884',
    check: (r) => expect(r.exact.reasoningCost).toBe('0.00302'),
  },
  {
    // gemini-stream.json, gemini-2.5-pro (vertex entry): input 0.00000125, output 0.00001
    // 2,310 * 0.00000125 = 0.0028875; (118 + 1,422) * 0.00001 = 0.0154 => 0.0182875 (last chunk, not summed)
    name: 'Gemini stream (running totals, last chunk)',
    input: {
      model: 'gemini-2.5-pro',
      usage: (
        JSON.parse(readFileSync(new URL('../fixtures/usage/gemini-stream.json', import.meta.url), 'utf8')) as {
          stream: unknown[]
        }
      ).stream,
    },
    total: '0.0182875',
  },
  {
    // openai-chat-reasoning.json, o4-mini-2025-04-16: input 0.0000011, output 0.0000044
    // 96 * 0.0000011 = 0.0001056; 1,482 * 0.0000044 = 0.0065208 (1,344 of them reasoning, billed as output once) => 0.0066264
    name: 'OpenAI reasoning tokens billed once as output',
    input: { model: 'o4-mini', usage: fixture('openai-chat-reasoning.json') },
    total: '0.0066264',
  },
  {
    // xai/grok-3-mini: input 0.0000003, output 0.0000005; xAI completion_tokens (50) exclude reasoning (200) => output 250
    // 100 * 0.0000003 = 0.00003; 250 * 0.0000005 = 0.000125 => 0.000155
    name: 'xAI reasoning tokens added to completion tokens',
    input: {
      model: 'grok-3-mini',
      provider: 'xai',
      usage: {
        model: 'grok-3-mini',
        usage: { prompt_tokens: 100, completion_tokens: 50, completion_tokens_details: { reasoning_tokens: 200 } },
      },
    },
    total: '0.000155',
  },
  // --- Service tiers and batch ---------------------------------------------------------------------------
  {
    // o3 flex: input_flex 0.000001, output_flex 0.000004
    // 1,000 * 0.000001 = 0.001; 2,000 * 0.000004 = 0.008 => 0.009
    name: 'OpenAI flex call',
    input: { model: 'o3', serviceTier: 'flex', usage: u(1_000, 2_000, { reasoningTokens: 1_500 }) },
    total: '0.009',
  },
  {
    // o3 priority: input_priority 0.0000035, output_priority 0.000014 => 0.0035 + 0.014 = 0.0175
    name: 'OpenAI priority call',
    input: { model: 'o3', serviceTier: 'priority', usage: u(1_000, 1_000) },
    total: '0.0175',
  },
  {
    // the response's tier (flex) wins over the requested one (priority): o3 flex 0.000001 / 0.000004 => 0.001 + 0.004 = 0.005
    name: 'service tier from the response first',
    input: {
      model: 'o3',
      serviceTier: 'priority',
      usage: { model: 'o3', service_tier: 'flex', usage: { prompt_tokens: 1_000, completion_tokens: 1_000 } },
    },
    total: '0.005',
    check: (r) => expect(r.serviceTier).toBe('flex'),
  },
  {
    // gpt-4o batch: input_batches 0.00000125, output_batches 0.000005 => 0.00125 + 0.005 = 0.00625
    name: 'batch call with *_batches prices',
    input: { model: 'gpt-4o', batch: true, usage: u(1_000, 1_000) },
    total: '0.00625',
  },
  {
    // claude-haiku-4-5 has no *_batches: half of input 0.000001 and output 0.000005
    // 1,000 * 0.0000005 = 0.0005; 1,000 * 0.0000025 = 0.0025 => 0.003
    name: 'batch call at half price when no *_batches key',
    input: { model: 'claude-haiku-4-5', batch: true, usage: u(1_000, 1_000) },
    total: '0.003',
  },
  // --- Embeddings ----------------------------------------------------------------------------------------
  {
    // openai-embeddings.json, text-embedding-3-small: input 0.00000002 => 23 * 0.00000002 = 0.00000046
    name: 'embedding fixture',
    input: { model: 'text-embedding-3-small', usage: fixture('openai-embeddings.json') },
    total: '0.00000046',
  },
  {
    // text-embedding-3-large: input 0.00000013 => 1,000,000 * 0.00000013 = 0.13
    name: 'embedding, one million tokens',
    input: { model: 'text-embedding-3-large', usage: u(1_000_000, 0) },
    total: '0.13',
  },
  {
    // text-embedding-3-small batch: input_batches 0.00000001 => 1,000,000 * 0.00000001 = 0.01
    name: 'embedding in batch',
    input: { model: 'text-embedding-3-small', batch: true, usage: u(1_000_000, 0) },
    total: '0.01',
  },
  // --- Audio ---------------------------------------------------------------------------------------------
  {
    // openai-transcription-duration.json, whisper-1: input_cost_per_second 0.0001 (= output_cost_per_second; charged once)
    // 94 * 0.0001 = 0.0094 ($0.006 per minute)
    name: 'whisper billed per second, once',
    input: { model: 'whisper-1', usage: fixture('openai-transcription-duration.json') },
    total: '0.0094',
  },
  {
    // whisper-1 fractional seconds: 90.5 * 0.0001 = 0.00905
    name: 'whisper with fractional seconds',
    input: { model: 'whisper-1', usage: u(0, 0, { inputTokens: null, outputTokens: null, audioSeconds: 90.5 }) },
    total: '0.00905',
  },
  {
    // openai-transcription-tokens.json, gpt-4o-transcribe: input_audio 0.0000025, output 0.00001
    // 1,287 * 0.0000025 = 0.0032175; 312 * 0.00001 = 0.00312 => 0.0063375
    name: 'transcription billed per token when the response reports tokens',
    input: { model: 'gpt-4o-transcribe', usage: fixture('openai-transcription-tokens.json') },
    total: '0.0063375',
  },
  {
    // tts-1: input_cost_per_character 0.000015 => 1,000 * 0.000015 = 0.015
    name: 'tts per character',
    input: { model: 'tts-1', usage: u(0, 0, { inputCharacters: 1_000 }) },
    total: '0.015',
  },
  {
    // tts-1-hd: 0.00003 per character => 2,500 * 0.00003 = 0.075
    name: 'tts-hd per character',
    input: { model: 'tts-1-hd', usage: u(0, 0, { inputCharacters: 2_500 }) },
    total: '0.075',
  },
  {
    // gpt-4o-audio-preview: input 0.0000025, input_audio 0.00004, output 0.00001, output_audio 0.00008
    // 600 * 0.0000025 = 0.0015; 400 * 0.00004 = 0.016; 300 * 0.00001 = 0.003; 200 * 0.00008 = 0.016 => 0.0365
    name: 'audio tokens in and out',
    input: { model: 'gpt-4o-audio-preview', usage: u(1_000, 500, { inputAudioTokens: 400, outputAudioTokens: 200 }) },
    total: '0.0365',
  },
  // --- Images --------------------------------------------------------------------------------------------
  {
    // hd/1024-x-1024/dall-e-3: input_cost_per_pixel 0.00000007629 => 1,048,576 * 0.00000007629 = 0.07999586304
    name: 'dall-e-3 hd 1024x1024 per pixel',
    input: { model: 'dall-e-3', image: { size: '1024x1024', quality: 'hd' }, usage: u(0, 0) },
    total: '0.07999586304',
  },
  {
    // standard/1024-x-1024/dall-e-3: 0.0000000381469 per pixel => 2 images * 1,048,576 * 0.0000000381469 = 0.0799998476288
    name: 'dall-e-3 standard 1024x1024, two images',
    input: { model: 'dall-e-3', image: { size: '1024x1024', quality: 'standard', count: 2 }, usage: u(0, 0) },
    total: '0.0799998476288',
  },
  {
    // The size may be written with the multiplication sign (U+00D7): same entry and total as above.
    name: 'dall-e-3 standard 1024\u00d71024, two images',
    input: { model: 'dall-e-3', image: { size: '1024\u00d71024', quality: 'standard', count: 2 }, usage: u(0, 0) },
    total: '0.0799998476288',
  },
  {
    // medium/1024-x-1024/gpt-image-1: input_cost_per_image 0.042 => 0.042
    name: 'gpt-image-1 medium 1024x1024 per image',
    input: { model: 'gpt-image-1', image: { size: '1024x1024', quality: 'medium' }, usage: u(0, 0) },
    total: '0.042',
  },
  {
    // high/1024-x-1536/gpt-image-1: input_cost_per_image 0.25 => 2 * 0.25 = 0.5
    name: 'gpt-image-1 high 1024x1536, two images',
    input: { model: 'gpt-image-1', image: { size: '1024x1536', quality: 'high', count: 2 }, usage: u(0, 0) },
    total: '0.5',
  },
  {
    // openai-images.json, gpt-image-1 by tokens: input 0.000005 (text), output_image 0.00004
    // 48 * 0.000005 = 0.00024; 1,056 * 0.00004 = 0.04224 => 0.04248
    name: 'gpt-image-1 by image tokens',
    input: { model: 'gpt-image-1', usage: fixture('openai-images.json') },
    total: '0.04248',
  },
  // --- Rerank, web search, other ---------------------------------------------------------------------------
  {
    // rerank-v3.5: input_cost_per_query 0.002 => 1 search unit * 0.002 = 0.002
    name: 'rerank per search unit',
    input: { model: 'rerank-v3.5', usage: { meta: {}, usage: { billed_units: { search_units: 1 } } } },
    total: '0.002',
  },
  {
    // gpt-4o-search-preview: input 0.0000025, output 0.00001, search medium 0.035
    // 1,000 * 0.0000025 = 0.0025; 100 * 0.00001 = 0.001; 1 * 0.035 => 0.0385
    name: 'web search, medium context',
    input: { model: 'gpt-4o-search-preview', usage: u(1_000, 100, { webSearchRequests: 1 }) },
    total: '0.0385',
  },
  {
    // same, search high 0.05 => 0.0025 + 0.001 + 0.05 = 0.0535
    name: 'web search, high context',
    input: {
      model: 'gpt-4o-search-preview',
      searchContextSize: 'high',
      usage: u(1_000, 100, { webSearchRequests: 1 }),
    },
    total: '0.0535',
  },
  {
    // deepseek/deepseek-chat: input 0.00000028, cache_read 0.000000028, output 0.00000042
    // 200 * 0.00000028 = 0.000056; 800 * 0.000000028 = 0.0000224; 100 * 0.00000042 = 0.000042 => 0.0001204
    name: 'DeepSeek cache hits (prompt_cache_hit_tokens)',
    input: {
      model: 'deepseek-chat',
      provider: 'deepseek',
      usage: {
        model: 'deepseek-chat',
        usage: { prompt_tokens: 1_000, completion_tokens: 100, prompt_cache_hit_tokens: 800 },
      },
    },
    total: '0.0001204',
  },
  {
    // gpt-5.6-luna: input 0.000001, cache_creation 0.00000125, output 0.000006 (openai-responses-cache-write.json)
    // 139 * 0.000001 = 0.000139; 24,448 * 0.00000125 = 0.03056; 389 * 0.000006 = 0.002334 => 0.033033
    name: 'OpenAI cache writes (GPT-5.6) at 1.25x input',
    input: { model: 'gpt-5.6-luna', usage: fixture('openai-responses-cache-write.json') },
    total: '0.033033',
  },
  {
    // bedrock-converse.json, us.anthropic.claude-sonnet-4-20250514-v1:0 (cross-region entry): input 0.000003, read 0.0000003, output 0.000015
    // 26 * 0.000003 = 0.000078; 3,120 * 0.0000003 = 0.000936; 412 * 0.000015 = 0.00618 => 0.007194
    name: 'Bedrock Converse (input excludes cache; model from the request)',
    input: {
      model: 'us.anthropic.claude-sonnet-4-20250514-v1:0',
      provider: 'bedrock',
      usage: fixture('bedrock-converse.json'),
    },
    total: '0.007194',
  },
  {
    // o1-mini (retired, 2025 table): input 0.0000011, output 0.0000044 => 0.0011 + 0.0044 = 0.0055
    name: 'retired model still priced',
    input: { model: 'o1-mini', usage: u(1_000, 1_000) },
    total: '0.0055',
  },
  // --- Custom, free, unpriced, provider-reported --------------------------------------------------------------
  {
    // registered: 3 USD / 1M input, 12 USD / 1M output => 1,000,000 * 0.000003 + 1,000,000 * 0.000012 = 15
    name: 'custom-priced model',
    catalog: (c) => c.register('acme-llm', { inputPerMillion: '3', outputPerMillion: '12' }),
    input: { model: 'acme-llm', usage: u(1_000_000, 1_000_000) },
    total: '15',
    check: (r) => expect(r.source).toBe('custom'),
  },
  {
    // registered gpt-4o at 1 / 2 per 1M wins over the catalog, also for the dated and prefixed names
    // 1,000,000 * 0.000001 + 500,000 * 0.000002 = 2
    name: 'custom price wins over the bundled entry on every path',
    catalog: (c) => c.register('gpt-4o', { inputPerMillion: 1, outputPerMillion: 2 }),
    input: { model: 'openai/gpt-4o-2024-08-06', usage: u(1_000_000, 500_000) },
    total: '2',
    check: (r) => expect([r.source, r.rule]).toEqual(['custom', 'custom']),
  },
  {
    // per-call prices: 10 / 1M input, 30 / 1M output => 1,000 * 0.00001 + 1,000 * 0.00003 = 0.04
    name: 'per-call prices override',
    input: { model: 'gpt-4o', prices: { inputPerMillion: '10', outputPerMillion: '30' }, usage: u(1_000, 1_000) },
    total: '0.04',
  },
  {
    // ollama/llama3: input 0, output 0 => free, but priced
    name: 'free model (all prices 0) is priced, not unknown',
    input: { model: 'ollama/llama3', usage: u(5_000, 5_000) },
    total: '0',
    check: (r) => expect(r.priced).toBe(true),
  },
  {
    // unknown with onUnpriced: 'zero' => 0 and priced: false
    name: 'unpriced model with onUnpriced zero',
    input: { model: 'my-local-thing', onUnpriced: 'zero', usage: u(100, 100) },
    total: '0',
    check: (r) => expect(r.priced).toBe(false),
  },
  {
    // OpenRouter reports usage.cost 0.00351: used as is, source provider
    name: 'provider-reported cost (OpenRouter usage.cost)',
    input: {
      model: 'openrouter/openai/gpt-4o',
      usage: { model: 'openai/gpt-4o', usage: { prompt_tokens: 1_000, completion_tokens: 100, cost: 0.00351 } },
    },
    total: '0.00351',
    check: (r) => expect(r.source).toBe('provider'),
  },
  {
    // gpt-4o at 1e11 input + output tokens: 1e11 * 0.0000025 + 1e11 * 0.00001 = 250,000 + 1,000,000 = 1,250,000
    // (beyond 2^53 scaled units at scale 1e-10: exercises the BigInt path)
    name: 'huge but valid call stays exact',
    input: { model: 'gpt-4o', usage: u(100_000_000_000, 100_000_000_000) },
    total: '1250000',
  },
  // --- Tiered pricing (LiteLLM `tiered_pricing`: the request's input tokens pick ONE tier, every token of the
  // request is billed at that tier; a tier matches when start < input <= end; above the last range: last tier) ---
  {
    // dashscope/qwen-flash tiers: [0, 256000] input 0.00000005 output 0.0000004; [256000, 1000000] input 0.00000025 output 0.000002
    // 300,000 input -> tier 2: 300,000 * 0.00000025 = 0.075; 1,000 * 0.000002 = 0.002 => 0.077 (the base tier would say 0.0154)
    name: 'tiered: qwen-flash at 300,000 input tokens bills the whole request at the second tier',
    input: { model: 'dashscope/qwen-flash', usage: u(300_000, 1_000) },
    total: '0.077',
    check: (r) => expect([r.exact.inputCost, r.exact.outputCost]).toEqual(['0.075', '0.002']),
  },
  {
    // exactly 256,000 input stays in the first tier (start < input <= end): 256,000 * 0.00000005 = 0.0128; 1,000 * 0.0000004 = 0.0004 => 0.0132
    name: 'tiered: qwen-flash at exactly the tier end (256,000) stays in the lower tier',
    input: { model: 'dashscope/qwen-flash', usage: u(256_000, 1_000) },
    total: '0.0132',
  },
  {
    // 256,001 input -> tier 2: 256,001 * 0.00000025 = 0.06400025; 1,000 * 0.000002 = 0.002 => 0.06600025
    name: 'tiered: qwen-flash one token above the tier end moves the whole request up',
    input: { model: 'dashscope/qwen-flash', usage: u(256_001, 1_000) },
    total: '0.06600025',
  },
  {
    // dashscope/qwen3-coder-plus tier [32000, 128000]: input 0.0000018, cache_read 0.00000018, output 0.000009
    // 100,000 input (40,000 cached; the tier is picked by ALL input, cache included):
    // 60,000 * 0.0000018 = 0.108; 40,000 * 0.00000018 = 0.0072; 2,000 * 0.000009 = 0.018 => 0.1332
    name: 'tiered: qwen3-coder-plus with cache reads at the tier cache rate',
    input: { model: 'dashscope/qwen3-coder-plus', usage: u(100_000, 2_000, { cacheReadTokens: 40_000 }) },
    total: '0.1332',
    check: (r) =>
      expect([r.exact.inputCost, r.exact.cacheReadCost, r.exact.outputCost]).toEqual(['0.108', '0.0072', '0.018']),
  },
  {
    // dashscope/qwen3-coder-flash tier [128000, 256000]: input 0.0000008, cache_read 0.0000002, output 0.000004
    // 200,000 input, 150,000 cached: 50,000 * 0.0000008 = 0.04; 150,000 * 0.0000002 = 0.03; 1,000 * 0.000004 = 0.004 => 0.074
    name: 'tiered: qwen3-coder-flash third tier with cache reads',
    input: { model: 'dashscope/qwen3-coder-flash', usage: u(200_000, 1_000, { cacheReadTokens: 150_000 }) },
    total: '0.074',
  },
  {
    // dashscope/qwen3-coder-flash-2025-07-28: same tiers but no cache_read rate in them -> cached billed at the tier's INPUT rate
    // 50,000 * 0.0000008 = 0.04; 150,000 * 0.0000008 = 0.12; 1,000 * 0.000004 = 0.004 => 0.164
    name: 'tiered: a tier without a cache-read rate bills cached tokens at the tier input rate (never 0)',
    input: { model: 'dashscope/qwen3-coder-flash-2025-07-28', usage: u(200_000, 1_000, { cacheReadTokens: 150_000 }) },
    total: '0.164',
  },
  {
    // dashscope/qwen3-max tiers end at 252,000; 300,000 input is above every range -> last tier [128000, 252000]:
    // input 0.000003, output 0.000015: 300,000 * 0.000003 = 0.9; 1,000 * 0.000015 = 0.015 => 0.915
    name: 'tiered: qwen3-max above the highest range uses the last tier',
    input: { model: 'dashscope/qwen3-max', usage: u(300_000, 1_000) },
    total: '0.915',
  },
  {
    // dashscope/qwen-plus-latest tier [256000, 1000000]: input 0.0000012, output 0.0000036, reasoning 0.000012
    // 300,000 * 0.0000012 = 0.36; (5,000 - 4,000) * 0.0000036 = 0.0036; 4,000 * 0.000012 = 0.048 => 0.4116
    name: 'tiered: qwen-plus reasoning tokens at the tier reasoning rate',
    input: { model: 'dashscope/qwen-plus-latest', usage: u(300_000, 5_000, { reasoningTokens: 4_000 }) },
    total: '0.4116',
    check: (r) => expect(r.exact.reasoningCost).toBe('0.048'),
  },
  {
    // volcengine/doubao-seed-2-0-pro-260215 tier [32000, 128000]: input 0.0000007, output 0.0000035
    // 50,000 * 0.0000007 = 0.035; 1,000 * 0.0000035 = 0.0035 => 0.0385
    name: 'tiered: volcengine doubao second tier',
    input: { model: 'volcengine/doubao-seed-2-0-pro-260215', usage: u(50_000, 1_000) },
    total: '0.0385',
  },
  {
    // 0 input tokens -> first tier (LiteLLM would use the flat rates, which this entry lacks, and bill $0):
    // 1,000 * 0.0000004 = 0.0004
    name: 'tiered: a request without input tokens is billed at the first tier, not free',
    input: { model: 'dashscope/qwen-flash', usage: u(0, 1_000) },
    total: '0.0004',
  },
  {
    // batch halves the tier rates: (0.075 + 0.002) / 2 = 0.0385
    name: 'tiered: batch halves the selected tier',
    input: { model: 'dashscope/qwen-flash', usage: u(300_000, 1_000), batch: true },
    total: '0.0385',
  },
  {
    // registered tiers: [0, 1000] input 0.000001 output 0.000002; [1000, 1000000] input 0.000003 output 0.000004
    // 5,000 input -> tier 2: 5,000 * 0.000003 = 0.015; 100 * 0.000004 = 0.0004 => 0.0154
    name: 'tiered: custom prices with tier fields',
    catalog: (c) =>
      void c.register('acme-tiered', {
        input_cost_per_token_tier_0_1000: '0.000001',
        output_cost_per_token_tier_0_1000: '0.000002',
        input_cost_per_token_tier_1000_1000000: '0.000003',
        output_cost_per_token_tier_1000_1000000: '0.000004',
      }),
    input: { model: 'acme-tiered', usage: u(5_000, 100) },
    total: '0.0154',
  },
  // --- Usage without a price: counted as $0, never silently -----------------------------------------------
  {
    // gpt-4o has no search_context_cost_per_query: 1,000 * 0.0000025 + 200 * 0.00001 = 0.0045; 2 searches -> $0, named in `unpriced`
    name: 'web searches on a model without a web-search price are $0 and reported in unpriced',
    input: { model: 'gpt-4o', usage: u(1_000, 200, { webSearchRequests: 2 }) },
    total: '0.0045',
    check: (r) => expect(r.unpriced).toEqual(['webSearchRequests']),
  },
  {
    // gpt-4o-search-preview: search_context_cost_per_query medium 0.035; 0.0045 + 2 * 0.035 = 0.0745
    name: 'web searches on a model with a web-search price (medium context)',
    input: { model: 'gpt-4o-search-preview', usage: u(1_000, 200, { webSearchRequests: 2 }) },
    total: '0.0745',
    check: (r) => {
      expect(r.exact.otherCost).toBe('0.07')
      expect(r.unpriced).toEqual([])
    },
  },
]

describe('golden costs', () => {
  it('has at least 40 hand-checked cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40)
  })
  for (const c of cases) {
    it(c.name, () => {
      const catalog = new PriceCatalog()
      c.catalog?.(catalog)
      const result = calculateCost({ ...c.input, catalog })
      expect(result.exact.totalCost).toBe(c.total)
      expect(result.totalCost).toBe(Number(c.total))
      const parts = [
        result.inputCost,
        result.outputCost,
        result.cacheReadCost,
        result.cacheWriteCost,
        result.reasoningCost,
        result.otherCost,
      ]
      for (const p of parts) expect(p).toBeGreaterThanOrEqual(0)
      c.check?.(result)
    })
  }
})

describe('LiteLLM-compatible entry points', () => {
  it('costPerToken splits prompt and completion like LiteLLM (gpt-4o, 6,000 of 10,000 cached)', () => {
    // prompt: 4,000 * 0.0000025 + 6,000 * 0.00000125 = 0.0175; completion: 500 * 0.00001 = 0.005
    expect(
      costPerToken({ model: 'gpt-4o', promptTokens: 10_000, completionTokens: 500, cacheReadInputTokens: 6_000 }),
    ).toEqual({ promptCost: 0.0175, completionCost: 0.005 })
  })
  it('costPerToken with Anthropic cache creation (inside promptTokens, LiteLLM semantics)', () => {
    // claude-haiku-4-5: 1,000 * 0.000001 + 2,000 * 0.0000001 + 3,000 * 0.00000125 = 0.001 + 0.0002 + 0.00375 = 0.00495
    expect(
      costPerToken({
        model: 'claude-haiku-4-5',
        promptTokens: 6_000,
        completionTokens: 100,
        cacheReadInputTokens: 2_000,
        cacheCreationInputTokens: 3_000,
      }),
    ).toEqual({
      promptCost: 0.00495,
      completionCost: 0.0005,
    })
  })
  it('costPerToken on a tiered model picks the tier from promptTokens (dashscope/qwen-flash, 300,000 prompt tokens)', () => {
    // tier [256000, 1000000]: prompt 300,000 * 0.00000025 = 0.075; completion 1,000 * 0.000002 = 0.002
    expect(costPerToken({ model: 'dashscope/qwen-flash', promptTokens: 300_000, completionTokens: 1_000 })).toEqual({
      promptCost: 0.075,
      completionCost: 0.002,
    })
  })
  it('completionCost of a raw response', () => {
    expect(completionCost({ completionResponse: fixture('openai-chat.json') })).toBe(0.0084075)
  })
})

describe('estimateCost (worst case for reservations)', () => {
  it('input rate on input, output rate on max output', () => {
    // gpt-4o: 1,000 * 0.0000025 + 500 * 0.00001 = 0.0075 = 7,500,000 nano-USD
    const e = estimateCost({ model: 'gpt-4o', inputTokens: 1_000, maxOutputTokens: 500 })
    expect([e.exact, e.totalCost, e.nanoUsd, e.method]).toEqual(['0.0075', 0.0075, 7_500_000, 'tokens'])
  })
  it('characters / 4 with a 25% margin plus 4 tokens per message when only messages are given', () => {
    // 400 chars -> ceil(100 * 1.25) + 4 = 129 tokens; 129 * 0.0000025 + 100 * 0.00001 = 0.0003225 + 0.001 = 0.0013225
    const e = estimateCost({
      model: 'gpt-4o',
      messages: [{ role: 'user', content: 'x'.repeat(400) }],
      maxOutputTokens: 100,
    })
    expect([e.inputTokens, e.exact, e.method]).toEqual([129, '0.0013225', 'characters'])
  })
  it('applies the threshold tier the request will hit', () => {
    // claude-sonnet-4-5 at 250,000 input: 250,000 * 0.000006 + 1,000 * 0.0000225 = 1.5225
    expect(estimateCost({ model: 'claude-sonnet-4-5', inputTokens: 250_000, maxOutputTokens: 1_000 }).exact).toBe(
      '1.5225',
    )
  })
  it('applies the input-token tier of a tiered model', () => {
    // dashscope/qwen3-max at 100,000 input -> tier [32000, 128000]: 100,000 * 0.0000024 + 1,000 * 0.000012 = 0.24 + 0.012 = 0.252
    expect(estimateCost({ model: 'dashscope/qwen3-max', inputTokens: 100_000, maxOutputTokens: 1_000 }).exact).toBe(
      '0.252',
    )
  })
  it('uses the model maximum output when no cap is given', () => {
    const e = estimateCost({ model: 'gpt-4o', inputTokens: 0 })
    expect(e.outputBound).toBe('model-max')
    expect(e.outputTokens).toBeGreaterThan(0)
  })
})

describe('nano-USD for the ledger', () => {
  it('rounds up per call', () => {
    // 1e-10 USD per token, one token => 0.0000000001 USD => 1 nano-USD after rounding up
    const catalog = new PriceCatalog().register('tiny', { input_cost_per_token: '0.0000000001' })
    const r = calculateCost({ model: 'tiny', usage: u(1, 0), catalog })
    expect(r.exact.totalCost).toBe('0.0000000001')
    expect(costToNano(r)).toBe(1)
    expect(r.exact.totalNanoUsd).toBe(1)
  })
  it('is exact when the cost is a whole number of nano-USD', () => {
    const r = calculateCost({ model: 'gpt-4o', usage: u(10_000, 500, { cacheReadTokens: 6_000 }) })
    expect(costToNano(r)).toBe(22_500_000)
  })
  it('normalizes the same usage however it arrives', () => {
    const raw = fixture('openai-chat.json')
    expect(calculateCost({ model: 'gpt-4o', usage: normalizeUsage(raw) }).exact.totalCost).toBe(
      calculateCost({ model: 'gpt-4o', usage: raw }).exact.totalCost,
    )
  })
})

describe('result object', () => {
  it('JSON.stringify and toJSON give every part, number and exact string, matching the getters', () => {
    // gpt-4o cached call: 0.01 + 0.0075 + 0.005 = 0.0225
    const r = calculateCost({ model: 'gpt-4o', usage: u(10_000, 500, { cacheReadTokens: 6_000 }) })
    const json = JSON.parse(JSON.stringify(r)) as Record<string, unknown>
    expect(json).toMatchObject({
      totalCost: 0.0225,
      inputCost: 0.01,
      cacheReadCost: 0.0075,
      outputCost: 0.005,
      cacheWriteCost: 0,
      reasoningCost: 0,
      otherCost: 0,
      currency: 'USD',
      model: 'gpt-4o',
      unpriced: [],
    })
    expect(json.exact).toEqual({
      totalCost: '0.0225',
      totalNanoUsd: 22_500_000,
      inputCost: '0.01',
      outputCost: '0.005',
      cacheReadCost: '0.0075',
      cacheWriteCost: '0',
      reasoningCost: '0',
      otherCost: '0',
    })
    expect(r.toJSON().exact).toEqual(json.exact)
    expect([r.inputCost, r.cacheReadCost, r.outputCost]).toEqual([0.01, 0.0075, 0.005])
    expect(r.exact).toBe(r.exact) // one exact object per result
  })
  it('the BigInt path gives the same parts through the getters', () => {
    // 1e11 * 0.0000025 = 250,000; 1e11 * 0.00001 = 1,000,000
    const r = calculateCost({ model: 'gpt-4o', usage: u(100_000_000_000, 100_000_000_000) })
    expect([r.inputCost, r.outputCost, r.totalCost]).toEqual([250_000, 1_000_000, 1_250_000])
    expect(r.exact.outputCost).toBe('1000000')
  })
})
