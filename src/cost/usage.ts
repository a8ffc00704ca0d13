/**
 * `normalizeUsage`: token usage from any provider response, stream or usage object, in one shape.
 *
 * Inclusion rules (see test/fixtures/usage/README.md): OpenAI, Mistral, Gemini, AI SDK 6 and LangChain
 * report input that already includes cached tokens; Anthropic and Bedrock report input without cache
 * reads and writes (added here); Gemini's thinking tokens are outside `candidatesTokenCount` (added
 * here); xAI's `completion_tokens` exclude reasoning (added when `provider: 'xai'`). Streams: the final
 * OpenAI chunk, the last Anthropic `message_delta` (cumulative, overwrite), the last Gemini chunk, the
 * Bedrock `metadata` event, the AI SDK `finish` part, the sum of LangChain chunks (LangChain's own concat).
 *
 * @packageDocumentation
 */
import { InvalidInputError, MissingUsageError } from '../errors.js'
import { normalizeProvider } from './catalog.js'
import type { NormalizedUsage } from './types.js'

/** Options of {@link normalizeUsage}. */
export interface NormalizeUsageOptions {
  /** Provider of the call (LiteLLM names), for provider quirks (`xai`, `anthropic`, `bedrock`, `gemini`). */
  provider?: string | undefined
  /** The requested model, used when the response names none (`modelSource: 'request'`). */
  model?: string | undefined
}

type Obj = Record<string, unknown>

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function obj(value: unknown): Obj | undefined {
  return isObj(value) ? value : undefined
}

/** A count field: a number (possibly invalid, validated later) or undefined when absent/null. */
function n(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value === 'number') return value
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value)
  return Number.NaN
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function tierOf(value: unknown): 'flex' | 'priority' | undefined {
  return value === 'flex' || value === 'priority' ? value : undefined
}

interface Draft {
  inputTokens: number | null
  outputTokens: number | null
  cacheReadTokens: number
  cacheWriteTokens: number
  reasoningTokens: number | null
  extras: Partial<NormalizedUsage> & Record<string, unknown>
  model: string | undefined
}

function draft(inputTokens: number | null, outputTokens: number | null, cacheRead = 0, cacheWrite = 0, reasoning: number | null = null): Draft {
  return { inputTokens, outputTokens, cacheReadTokens: cacheRead, cacheWriteTokens: cacheWrite, reasoningTokens: reasoning, extras: {}, model: undefined }
}

function sum(...values: Array<number | undefined>): number {
  let total = 0
  for (const v of values) if (v !== undefined) total += v
  return total
}

// ---------------------------------------------------------------------------------------------------
// Provider usage objects

/** Anthropic Messages usage (input excludes cache reads and writes). Also Anthropic-shaped usage objects. */
function fromAnthropicUsage(u: Obj): Draft {
  const base = n(u.input_tokens) ?? 0
  const read = n(u.cache_read_input_tokens) ?? 0
  const write = n(u.cache_creation_input_tokens) ?? 0
  const d = draft(base + read + write, n(u.output_tokens) ?? 0, read, write, null)
  const details = obj(u.output_tokens_details)
  const thinking = details ? n(details.thinking_tokens) : undefined
  if (thinking !== undefined) d.reasoningTokens = thinking
  addAnthropicExtras(d, u)
  return d
}

function addAnthropicExtras(d: Draft, u: Obj): void {
  const creation = obj(u.cache_creation)
  if (creation && d.cacheWriteTokens > 0) {
    const w5 = n(creation.ephemeral_5m_input_tokens)
    const w1 = n(creation.ephemeral_1h_input_tokens)
    if (w5 !== undefined) d.extras.cacheWrite5mTokens = w5
    if (w1 !== undefined) d.extras.cacheWrite1hTokens = w1
  }
  const tools = obj(u.server_tool_use)
  if (tools) {
    const search = n(tools.web_search_requests)
    const fetches = n(tools.web_fetch_requests)
    if (search !== undefined) d.extras.webSearchRequests = search
    if (fetches !== undefined) d.extras.webFetchRequests = fetches
  }
  const tier = tierOf(u.service_tier)
  if (tier) d.extras.serviceTier = tier
}

/** OpenAI Chat Completions / LiteLLM / OpenRouter / DeepSeek / xAI usage (prompt_tokens include cache). */
function fromChatUsage(u: Obj, provider: string | undefined): Draft {
  const prompt = obj(u.prompt_tokens_details) ?? obj(u.prompt_token_details)
  const completion = obj(u.completion_tokens_details)
  const read =
    n(prompt?.cached_tokens) ?? n(u.num_cached_tokens) ?? n(u.prompt_cache_hit_tokens) ?? n(u.cache_read_input_tokens) ?? 0
  // LiteLLM: prompt_tokens_details.cache_creation_tokens (+ cache_creation_token_details), inside prompt_tokens.
  const write = n(prompt?.cache_creation_tokens) ?? n(u.cache_creation_input_tokens) ?? 0
  const reasoning = completion ? n(completion.reasoning_tokens) ?? null : null
  let output = n(u.completion_tokens) ?? 0
  if (provider === 'xai' && reasoning !== null) output += reasoning // xAI: completion_tokens exclude reasoning
  const d = draft(n(u.prompt_tokens) ?? 0, output, read, write, reasoning)
  const writeDetails = obj(prompt?.cache_creation_token_details) ?? obj(u.cache_creation_token_details)
  if (writeDetails && write > 0) {
    const w5 = n(writeDetails.ephemeral_5m_input_tokens)
    const w1 = n(writeDetails.ephemeral_1h_input_tokens)
    if (w5 !== undefined) d.extras.cacheWrite5mTokens = w5
    if (w1 !== undefined) d.extras.cacheWrite1hTokens = w1
  }
  const audioIn = n(prompt?.audio_tokens)
  if (audioIn) d.extras.inputAudioTokens = audioIn
  const imageIn = n(prompt?.image_tokens)
  if (imageIn) d.extras.inputImageTokens = imageIn
  const audioOut = n(completion?.audio_tokens)
  if (audioOut) d.extras.outputAudioTokens = audioOut
  const cost = u.cost
  if (typeof cost === 'number' && cost > 0) d.extras.providerCost = cost
  const search = n(obj(u.server_tool_use)?.web_search_requests)
  if (search !== undefined) d.extras.webSearchRequests = search
  return d
}

/** Mistral SDK usage (camelCase; promptTokens include cached tokens). */
function fromMistralUsage(u: Obj): Draft {
  const details = obj(u.prompt_tokens_details) ?? obj(u.promptTokensDetails) ?? obj(u.prompt_token_details)
  const read = n(details?.cached_tokens) ?? n(details?.cachedTokens) ?? n(u.num_cached_tokens) ?? n(u.numCachedTokens) ?? 0
  return draft(n(u.promptTokens) ?? 0, n(u.completionTokens) ?? 0, read, 0, null)
}

/** OpenAI Responses usage (input_tokens include cache reads and, on GPT-5.6+, cache writes). */
function fromResponsesUsage(u: Obj): Draft {
  const input = obj(u.input_tokens_details)
  const output = obj(u.output_tokens_details)
  const d = draft(n(u.input_tokens) ?? 0, n(u.output_tokens) ?? 0, n(input?.cached_tokens) ?? 0, n(input?.cache_write_tokens) ?? 0, output ? n(output.reasoning_tokens) ?? null : null)
  const audioIn = n(input?.audio_tokens)
  if (audioIn) d.extras.inputAudioTokens = audioIn
  return d
}

/** Gemini usageMetadata (prompt includes cache; thinking is outside candidates). */
function fromGeminiUsage(u: Obj): Draft {
  const thoughts = n(u.thoughtsTokenCount)
  const d = draft(
    sum(n(u.promptTokenCount), n(u.toolUsePromptTokenCount)),
    sum(n(u.candidatesTokenCount), thoughts),
    n(u.cachedContentTokenCount) ?? 0,
    0,
    thoughts ?? null,
  )
  const details = u.promptTokensDetails
  if (Array.isArray(details)) {
    for (const item of details) {
      const o = obj(item)
      if (o?.modality === 'AUDIO' && n(o.tokenCount)) d.extras.inputAudioTokens = n(o.tokenCount)!
    }
  }
  return d
}

/** Bedrock Converse usage (input excludes cache reads and writes). */
function fromBedrockUsage(u: Obj): Draft {
  const read = n(u.cacheReadInputTokens) ?? 0
  const write = n(u.cacheWriteInputTokens) ?? 0
  return draft((n(u.inputTokens) ?? 0) + read + write, n(u.outputTokens) ?? 0, read, write, null)
}

/** Cohere v2 usage: bill on billed units. */
function fromCohereUsage(u: Obj): Draft {
  const billed = obj(u.billedUnits) ?? obj(u.billed_units) ?? {}
  const tokens = obj(u.tokens)
  const d = draft(n(billed.inputTokens) ?? n(billed.input_tokens) ?? 0, n(billed.outputTokens) ?? n(billed.output_tokens) ?? 0, n(u.cachedTokens) ?? n(u.cached_tokens) ?? 0, 0, null)
  if (tokens) {
    const pi = n(tokens.inputTokens) ?? n(tokens.input_tokens)
    const po = n(tokens.outputTokens) ?? n(tokens.output_tokens)
    if (pi !== undefined) d.extras.processedInputTokens = pi
    if (po !== undefined) d.extras.processedOutputTokens = po
  }
  const searchUnits = n(billed.searchUnits) ?? n(billed.search_units)
  if (searchUnits !== undefined) d.extras.searchUnits = searchUnits
  return d
}

/** LangChain usage_metadata (input includes cache reads and writes; output includes reasoning). */
function fromLangChainUsage(u: Obj): Draft {
  const input = obj(u.input_token_details)
  const output = obj(u.output_token_details)
  const d = draft(n(u.input_tokens) ?? 0, n(u.output_tokens) ?? 0, n(input?.cache_read) ?? 0, n(input?.cache_creation) ?? 0, output ? n(output.reasoning) ?? null : null)
  const audioIn = n(input?.audio)
  if (audioIn) d.extras.inputAudioTokens = audioIn
  const audioOut = n(output?.audio)
  if (audioOut) d.extras.outputAudioTokens = audioOut
  return d
}

/** AI SDK 6 (LanguageModelV3) usage, flat result form or nested part form. */
function fromAiSdkV6Usage(u: Obj): Draft {
  if (isObj(u.inputTokens)) {
    // Nested V3 provider usage: { inputTokens: { total, noCache, cacheRead, cacheWrite }, outputTokens: { total, text, reasoning } }
    const i = u.inputTokens
    const o = obj(u.outputTokens) ?? {}
    return draft(n(i.total) ?? 0, n(o.total) ?? 0, n(i.cacheRead) ?? 0, n(i.cacheWrite) ?? 0, n(o.reasoning) ?? null)
  }
  const inputDetails = obj(u.inputTokenDetails) ?? {}
  const outputDetails = obj(u.outputTokenDetails) ?? {}
  return draft(n(u.inputTokens) ?? 0, n(u.outputTokens) ?? 0, n(inputDetails.cacheReadTokens) ?? 0, n(inputDetails.cacheWriteTokens) ?? 0, n(outputDetails.reasoningTokens) ?? null)
}

/** AI SDK 5 (LanguageModelV2) flat usage: not normalized across providers. */
function fromAiSdkV5Usage(u: Obj, providerMetadata: Obj | undefined, provider: string | undefined): Draft {
  const cached = n(u.cachedInputTokens) ?? 0
  const reasoning = n(u.reasoningTokens) ?? null
  const anthropic = obj(providerMetadata?.anthropic)
  const google = obj(providerMetadata?.google)
  if (anthropic || provider === 'anthropic') {
    const write = n(anthropic?.cacheCreationInputTokens) ?? 0
    const d = draft((n(u.inputTokens) ?? 0) + cached + write, n(u.outputTokens) ?? 0, cached, write, reasoning)
    const search = n(obj(obj(anthropic?.usage)?.server_tool_use)?.web_search_requests)
    if (search !== undefined) d.extras.webSearchRequests = search
    return d
  }
  if (google || provider === 'gemini' || provider === 'vertex_ai') {
    return draft(n(u.inputTokens) ?? 0, (n(u.outputTokens) ?? 0) + (reasoning ?? 0), cached, 0, reasoning)
  }
  return draft(n(u.inputTokens) ?? 0, n(u.outputTokens) ?? 0, cached, 0, reasoning)
}

// ---------------------------------------------------------------------------------------------------
// Whole responses

function fromResponse(r: Obj, provider: string | undefined): Draft | undefined {
  // LangChain AIMessage
  if (isObj(r.usage_metadata)) {
    const d = fromLangChainUsage(r.usage_metadata)
    const meta = obj(r.response_metadata)
    const kwargs = obj(r.additional_kwargs)
    d.model = str(meta?.model_name) ?? str(meta?.model) ?? str(kwargs?.model)
    const raw = obj(meta?.usage) ?? obj(kwargs?.usage)
    if (raw && ('cache_creation_input_tokens' in raw || 'server_tool_use' in raw)) {
      const search = n(obj(raw.server_tool_use)?.web_search_requests)
      if (search !== undefined) d.extras.webSearchRequests = search
      const creation = obj(raw.cache_creation)
      if (creation && d.cacheWriteTokens > 0) {
        const w5 = n(creation.ephemeral_5m_input_tokens)
        const w1 = n(creation.ephemeral_1h_input_tokens)
        if (w5 !== undefined) d.extras.cacheWrite5mTokens = w5
        if (w1 !== undefined) d.extras.cacheWrite1hTokens = w1
      }
    }
    return d
  }
  // Gemini (@google/genai)
  if (isObj(r.usageMetadata)) {
    const d = fromGeminiUsage(r.usageMetadata)
    d.model = str(r.modelVersion)
    return d
  }
  // AI SDK 6 middleware doGenerate view: { provider, modelId, result: { usage, response } }
  if (isObj(r.result) && isObj(r.result.usage)) {
    const d = fromResponse(r.result, provider)
    if (d && d.model === undefined) d.model = str(r.modelId)
    return d
  }
  // AI SDK results (v6: totalUsage/usage with details; v5: flat usage + providerMetadata)
  const aiUsage = obj(r.totalUsage) ?? (isObj(r.usage) && ('inputTokenDetails' in r.usage || isObj(r.usage.inputTokens)) ? r.usage : undefined)
  if (aiUsage && ('inputTokenDetails' in aiUsage || isObj(aiUsage.inputTokens) || 'outputTokenDetails' in aiUsage)) {
    const d = fromAiSdkV6Usage(aiUsage)
    d.model = str(obj(r.response)?.modelId) ?? str(r.responseModelId)
    return d
  }
  const usage = obj(r.usage)
  if (aiUsage || (usage && typeof usage.inputTokens === 'number' && ('cachedInputTokens' in usage || 'reasoningTokens' in usage || 'totalTokens' in usage) && !('cacheReadInputTokens' in usage) && (isObj(r.providerMetadata) || 'responseModelId' in r || 'finishReason' in r))) {
    const d = fromAiSdkV5Usage((aiUsage ?? usage)!, obj(r.providerMetadata), provider)
    d.model = str(r.responseModelId) ?? str(obj(r.response)?.modelId)
    return d
  }
  if (!usage) return undefined
  // OpenAI transcription
  if (usage.type === 'duration') {
    const d = draft(null, null, 0, 0, null)
    d.extras.audioSeconds = n(usage.seconds) ?? Number.NaN
    return d
  }
  if (usage.type === 'tokens') {
    const d = draft(n(usage.input_tokens) ?? 0, n(usage.output_tokens) ?? 0, 0, 0, null)
    const details = obj(usage.input_token_details)
    if (details) {
      const audio = n(details.audio_tokens)
      const text = n(details.text_tokens)
      if (audio !== undefined) d.extras.inputAudioTokens = audio
      if (text !== undefined) d.extras.inputTextTokens = text
    }
    return d
  }
  // OpenAI images (no model field; usage only for GPT image models)
  if (Array.isArray(r.data) && 'input_tokens' in usage && !('object' in r)) {
    const d = draft(n(usage.input_tokens) ?? 0, n(usage.output_tokens) ?? 0, 0, 0, null)
    const inDetails = obj(usage.input_tokens_details)
    const outDetails = obj(usage.output_tokens_details)
    if (inDetails) {
      const text = n(inDetails.text_tokens)
      const image = n(inDetails.image_tokens)
      if (text !== undefined) d.extras.inputTextTokens = text
      if (image !== undefined) d.extras.inputImageTokens = image
    }
    d.extras.outputImageTokens = outDetails ? n(outDetails.image_tokens) ?? 0 : n(usage.output_tokens) ?? 0
    return d
  }
  // Cohere v2
  if ('billedUnits' in usage || 'billed_units' in usage) {
    const d = fromCohereUsage(usage)
    d.model = str(r.model)
    return d
  }
  // Bedrock Converse
  if (typeof usage.inputTokens === 'number' && ('cacheReadInputTokens' in usage || 'cacheWriteInputTokens' in usage || 'stopReason' in r || 'metrics' in r)) {
    const d = fromBedrockUsage(usage)
    d.model = str(r.modelId)
    return d
  }
  // Mistral SDK (camelCase)
  if ('promptTokens' in usage) {
    const d = fromMistralUsage(usage)
    d.model = str(r.model)
    return d
  }
  // OpenAI Responses
  if (r.object === 'response' || 'input_tokens_details' in usage || ('input_tokens' in usage && !('cache_read_input_tokens' in usage) && !('cache_creation_input_tokens' in usage) && r.type !== 'message' && provider !== 'anthropic' && provider !== 'bedrock')) {
    const d = fromResponsesUsage(usage)
    d.model = str(r.model)
    const tier = tierOf(r.service_tier)
    if (tier) d.extras.serviceTier = tier
    return d
  }
  // Anthropic Messages
  if ('input_tokens' in usage) {
    const d = fromAnthropicUsage(usage)
    d.model = str(r.model)
    return d
  }
  // OpenAI Chat Completions, embeddings, LiteLLM, OpenRouter, DeepSeek, xAI
  if ('prompt_tokens' in usage) {
    const d = fromChatUsage(usage, provider)
    d.model = str(r.model)
    const tier = tierOf(r.service_tier)
    if (tier) d.extras.serviceTier = tier
    return d
  }
  return undefined
}

/** A bare usage object (no response around it). */
function fromBareUsage(u: Obj, provider: string | undefined): Draft | undefined {
  if ('prompt_tokens' in u) return fromChatUsage(u, provider)
  if ('promptTokenCount' in u) return fromGeminiUsage(u)
  if ('billedUnits' in u || 'billed_units' in u) return fromCohereUsage(u)
  if ('promptTokens' in u) return fromMistralUsage(u)
  if ('input_token_details' in u || 'output_token_details' in u) return fromLangChainUsage(u)
  if ('input_tokens' in u) {
    if ('cache_read_input_tokens' in u || 'cache_creation_input_tokens' in u || provider === 'anthropic' || provider === 'bedrock') return fromAnthropicUsage(u)
    return fromResponsesUsage(u)
  }
  if ('inputTokenDetails' in u || isObj(u.inputTokens)) return fromAiSdkV6Usage(u)
  if (typeof u.inputTokens === 'number') {
    if ('cacheReadInputTokens' in u || 'cacheWriteInputTokens' in u || provider === 'bedrock') return fromBedrockUsage(u)
    return fromAiSdkV5Usage(u, undefined, provider)
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------------
// Streams

function fromStream(items: readonly unknown[], provider: string | undefined): Draft | undefined {
  const events = items.map((item) => {
    const o = obj(item)
    // Mistral SDK yields { data: chunk }
    if (o && isObj(o.data) && Object.keys(o).length === 1) return o.data
    return o
  })
  const first = events.find((e) => e !== undefined)
  if (!first) return undefined
  const type = typeof first.type === 'string' ? first.type : undefined

  // Anthropic stream events
  if (events.some((e) => e?.type === 'message_start' || e?.type === 'message_delta')) {
    let usage: Obj = {}
    let model: string | undefined
    for (const e of events) {
      if (!e) continue
      if (e.type === 'message_start') {
        const message = obj(e.message)
        model = str(message?.model) ?? model
        usage = { ...usage, ...stripNulls(obj(message?.usage) ?? {}) }
      } else if (e.type === 'message_delta' && isObj(e.usage)) {
        usage = { ...usage, ...stripNulls(e.usage) } // cumulative: overwrite, never add
      }
    }
    const d = fromAnthropicUsage(usage)
    d.model = model
    return d
  }
  // OpenAI Responses stream: terminal event carries response.usage
  if (type?.startsWith('response.') || events.some((e) => typeof e?.type === 'string' && (e.type as string).startsWith('response.'))) {
    let last: Obj | undefined
    let model: string | undefined
    for (const e of events) {
      const response = obj(e?.response)
      if (!response) continue
      model = str(response.model) ?? model
      if (isObj(response.usage)) last = response
    }
    if (!last) return undefined
    const d = fromResponse(last, provider)
    if (d) d.model = str(last.model) ?? model
    return d
  }
  // AI SDK stream parts
  if (events.some((e) => e?.type === 'finish' || e?.type === 'finish-step' || e?.type === 'response-metadata' || e?.type === 'stream-start')) {
    let finish: Obj | undefined
    let model: string | undefined
    for (const e of events) {
      if (!e) continue
      if (e.type === 'response-metadata') model = str(e.modelId) ?? model
      if (e.type === 'finish-step' && isObj(e.response)) model = str(e.response.modelId) ?? model
      if (e.type === 'finish' && (isObj(e.usage) || isObj(e.totalUsage))) finish = e
    }
    if (!finish) return undefined
    const usage = obj(finish.totalUsage) ?? obj(finish.usage)!
    const d = 'inputTokenDetails' in usage || isObj(usage.inputTokens) ? fromAiSdkV6Usage(usage) : fromAiSdkV5Usage(usage, obj(finish.providerMetadata), provider)
    d.model = model
    return d
  }
  // Bedrock ConverseStream: { metadata: { usage } } event; model from the request
  if (events.some((e) => isObj(e?.metadata) && isObj((e.metadata as Obj).usage))) {
    let usage: Obj | undefined
    for (const e of events) {
      const meta = obj(e?.metadata)
      if (meta && isObj(meta.usage)) usage = meta.usage
    }
    return usage ? fromBedrockUsage(usage) : undefined
  }
  // LangChain AIMessageChunks: usage_metadata per chunk, summed (LangChain's concat semantics)
  if (events.some((e) => isObj(e?.usage_metadata))) {
    let total: Draft | undefined
    let model: string | undefined
    for (const e of events) {
      if (!e) continue
      model = str(obj(e.response_metadata)?.model_name) ?? str(obj(e.additional_kwargs)?.model) ?? model
      if (!isObj(e.usage_metadata)) continue
      const d = fromLangChainUsage(e.usage_metadata)
      if (!total) total = d
      else {
        total.inputTokens = (total.inputTokens ?? 0) + (d.inputTokens ?? 0)
        total.outputTokens = (total.outputTokens ?? 0) + (d.outputTokens ?? 0)
        total.cacheReadTokens += d.cacheReadTokens
        total.cacheWriteTokens += d.cacheWriteTokens
        if (d.reasoningTokens !== null) total.reasoningTokens = (total.reasoningTokens ?? 0) + d.reasoningTokens
      }
    }
    if (total) total.model = model
    return total
  }
  // Gemini chunks: running totals, take the last usageMetadata
  if (events.some((e) => isObj(e?.usageMetadata))) {
    let last: Obj | undefined
    let model: string | undefined
    for (const e of events) {
      if (!e) continue
      model = str(e.modelVersion) ?? model
      if (isObj(e.usageMetadata)) last = e
    }
    const d = fromResponse(last!, provider)
    if (d) d.model = model
    return d
  }
  // OpenAI chat chunks / Mistral chunks: usage on the final chunk only
  let last: Obj | undefined
  let model: string | undefined
  for (const e of events) {
    if (!e) continue
    model = str(e.model) ?? model
    if (isObj(e.usage)) last = e
  }
  if (!last) return undefined
  const d = fromResponse(last, provider)
  if (d) d.model = str(last.model) ?? model
  return d
}

function stripNulls(o: Obj): Obj {
  const out: Obj = {}
  for (const [k, v] of Object.entries(o)) if (v !== null && v !== undefined) out[k] = v
  return out
}

// ---------------------------------------------------------------------------------------------------

const COUNT_FIELDS = [
  'cacheWrite5mTokens',
  'cacheWrite1hTokens',
  'inputAudioTokens',
  'outputAudioTokens',
  'inputTextTokens',
  'inputImageTokens',
  'outputImageTokens',
  'webSearchRequests',
  'webFetchRequests',
  'inputCharacters',
  'searchUnits',
  'imageCount',
  'processedInputTokens',
  'processedOutputTokens',
] as const

function checkCount(field: string, value: unknown, nullable = false): void {
  if (nullable && value === null) return
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidInputError(`usage.${field}`, `\`usage.${field}\` must be a whole number >= 0, got ${typeof value === 'number' ? String(value) : JSON.stringify(value)}`)
  }
}

function finish(d: Draft, options: NormalizeUsageOptions): NormalizedUsage {
  checkCount('inputTokens', d.inputTokens, true)
  checkCount('outputTokens', d.outputTokens, true)
  checkCount('cacheReadTokens', d.cacheReadTokens)
  checkCount('cacheWriteTokens', d.cacheWriteTokens)
  checkCount('reasoningTokens', d.reasoningTokens, true)
  const usage: NormalizedUsage = {
    inputTokens: d.inputTokens,
    outputTokens: d.outputTokens,
    cacheReadTokens: d.cacheReadTokens,
    cacheWriteTokens: d.cacheWriteTokens,
    reasoningTokens: d.reasoningTokens,
  }
  for (const field of COUNT_FIELDS) {
    const value = d.extras[field]
    if (value !== undefined) {
      checkCount(field, value)
      ;(usage as unknown as Obj)[field] = value
    }
  }
  const seconds = d.extras.audioSeconds
  if (seconds !== undefined) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) throw new InvalidInputError('usage.audioSeconds', `\`usage.audioSeconds\` must be a finite number >= 0, got ${String(seconds)}`)
    usage.audioSeconds = seconds
  }
  if (d.extras.serviceTier) usage.serviceTier = d.extras.serviceTier
  if (d.extras.providerCost !== undefined) usage.providerCost = d.extras.providerCost
  if (d.model !== undefined) usage.model = d.model
  else if (options.model !== undefined) {
    usage.model = options.model
    usage.modelSource = 'request'
  }
  return usage
}

function copyNormalized(u: Obj, options: NormalizeUsageOptions): NormalizedUsage {
  const d = draft(u.inputTokens as number | null, u.outputTokens as number | null, u.cacheReadTokens as number, u.cacheWriteTokens as number, (u.reasoningTokens ?? null) as number | null)
  for (const field of [...COUNT_FIELDS, 'audioSeconds', 'serviceTier', 'providerCost'] as const) {
    if (u[field] !== undefined) (d.extras as Obj)[field] = u[field]
  }
  d.model = str(u.model)
  const usage = finish(d, options)
  if (u.modelSource === 'request') usage.modelSource = 'request'
  return usage
}

/**
 * Token usage of a call in one shape ({@link NormalizedUsage}), from any provider response, an array of
 * stream chunks/events, or a usage object. Synchronous and pure. Keys starting with `_` are ignored.
 *
 * @throws MissingUsageError when no usage can be found (never zeros by accident).
 * @throws InvalidInputError when a count is negative, fractional or not a number.
 */
export function normalizeUsage(responseOrStream: unknown, options: NormalizeUsageOptions = {}): NormalizedUsage {
  const provider = normalizeProvider(options.provider)
  let d: Draft | undefined
  if (Array.isArray(responseOrStream)) {
    d = fromStream(responseOrStream, provider)
  } else if (isObj(responseOrStream)) {
    const value = responseOrStream
    if (typeof value.cacheReadTokens === 'number' && typeof value.cacheWriteTokens === 'number' && 'inputTokens' in value && 'reasoningTokens' in value) {
      return copyNormalized(value, options)
    }
    if (Array.isArray(value.stream)) d = fromStream(value.stream, provider)
    else if (Array.isArray(value.chunks) && !isObj(value.aggregated)) d = fromStream(value.chunks, provider)
    else if (isObj(value.aggregated)) d = fromResponse(value.aggregated, provider)
    else d = fromResponse(value, provider) ?? fromBareUsage(value, provider)
  }
  if (!d) {
    const what = responseOrStream === null ? 'null' : Array.isArray(responseOrStream) ? `a stream of ${responseOrStream.length} items` : typeof responseOrStream
    throw new MissingUsageError(
      `No token usage found in ${what}. For OpenAI streams set \`stream_options: { include_usage: true }\`; pass the final response, the full array of stream chunks, or a usage object.`,
    )
  }
  return finish(d, options)
}
