/**
 * OpenAI-shaped usage: Chat Completions (also LiteLLM, OpenRouter, DeepSeek, xAI, Perplexity, Azure),
 * Responses, transcriptions and images. Input counts include cached tokens.
 *
 * @internal
 * @packageDocumentation
 */
import { addCacheWriteSplit, draft, isObj, n, obj, str, tierOf, type Draft, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** OpenAI Chat Completions / LiteLLM / OpenRouter / DeepSeek / xAI / Perplexity usage (prompt_tokens include cache). */
export function fromChatUsage(u: Obj, provider: string | undefined): Draft {
  const prompt = obj(u.prompt_tokens_details) ?? obj(u.prompt_token_details)
  const completion = obj(u.completion_tokens_details)
  const read =
    n(prompt?.cached_tokens) ??
    n(u.num_cached_tokens) ??
    n(u.prompt_cache_hit_tokens) ??
    n(u.cache_read_input_tokens) ??
    0
  // LiteLLM: prompt_tokens_details.cache_creation_tokens (+ cache_creation_token_details), inside prompt_tokens.
  const write = n(prompt?.cache_creation_tokens) ?? n(u.cache_creation_input_tokens) ?? 0
  let reasoning = completion ? (n(completion.reasoning_tokens) ?? null) : null
  let output = n(u.completion_tokens) ?? 0
  if (provider === 'xai' && reasoning !== null) output += reasoning // xAI: completion_tokens exclude reasoning
  // Perplexity: reasoning, citation tokens and search queries are top-level fields outside completion_tokens.
  const topReasoning = n(u.reasoning_tokens)
  if (reasoning === null && topReasoning !== undefined) {
    reasoning = topReasoning
    output += topReasoning
  }
  const d = draft(n(u.prompt_tokens) ?? 0, output, read, write, reasoning)
  addCacheWriteSplit(d, obj(prompt?.cache_creation_token_details) ?? obj(u.cache_creation_token_details))
  const audioIn = n(prompt?.audio_tokens)
  if (audioIn) d.extras.inputAudioTokens = audioIn
  const imageIn = n(prompt?.image_tokens)
  if (imageIn) d.extras.inputImageTokens = imageIn
  const audioOut = n(completion?.audio_tokens)
  if (audioOut) d.extras.outputAudioTokens = audioOut
  const cost = u.cost
  if (typeof cost === 'number' && cost > 0) d.extras.providerCost = cost
  const search =
    n(obj(u.server_tool_use)?.web_search_requests) ?? n(prompt?.web_search_requests) ?? n(u.num_search_queries)
  if (search !== undefined) d.extras.webSearchRequests = search
  const citations = n(u.citation_tokens)
  if (citations !== undefined) d.extras.citationTokens = citations
  const size = u.search_context_size
  if (size === 'low' || size === 'medium' || size === 'high') d.extras.searchContextSize = size
  return d
}

/** OpenAI Responses usage (input_tokens include cache reads and, on GPT-5.6+, cache writes). */
export function fromResponsesUsage(u: Obj): Draft {
  const input = obj(u.input_tokens_details)
  const output = obj(u.output_tokens_details)
  const d = draft(
    n(u.input_tokens) ?? 0,
    n(u.output_tokens) ?? 0,
    n(input?.cached_tokens) ?? 0,
    n(input?.cache_write_tokens) ?? 0,
    output ? (n(output.reasoning_tokens) ?? null) : null,
  )
  const audioIn = n(input?.audio_tokens)
  if (audioIn) d.extras.inputAudioTokens = audioIn
  return d
}

/** A Responses API response object (or a Chat Completions one) with its model and service tier. */
export function fromResponsesObject(r: Obj, usage: Obj): Draft {
  const d = fromResponsesUsage(usage)
  d.model = str(r.model)
  const tier = tierOf(r.service_tier)
  if (tier) d.extras.serviceTier = tier
  return d
}

/** Transcription usage: `{ type: 'duration', seconds }` or `{ type: 'tokens', input_tokens, ... }`. */
export function fromTranscriptionUsage(usage: Obj): Draft | undefined {
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
  return undefined
}

/** Images API usage (GPT image models): output tokens are image tokens. */
export function fromImagesUsage(usage: Obj): Draft {
  const d = draft(n(usage.input_tokens) ?? 0, n(usage.output_tokens) ?? 0, 0, 0, null)
  const inDetails = obj(usage.input_tokens_details)
  const outDetails = obj(usage.output_tokens_details)
  if (inDetails) {
    const text = n(inDetails.text_tokens)
    const image = n(inDetails.image_tokens)
    if (text !== undefined) d.extras.inputTextTokens = text
    if (image !== undefined) d.extras.inputImageTokens = image
  }
  d.extras.outputImageTokens = outDetails ? (n(outDetails.image_tokens) ?? 0) : (n(usage.output_tokens) ?? 0)
  return d
}

/** Responses stream: the model from any event's `response`, the usage from the last one that carries it. */
export function responsesStream(): StreamFormat {
  let last: Obj | undefined
  let model: string | undefined
  let seen = false
  return {
    add(e) {
      if (typeof e.type === 'string' && e.type.startsWith('response.')) seen = true
      const response = obj(e.response)
      if (!response) return
      model = str(response.model) ?? model
      if (isObj(response.usage)) last = response
    },
    get seen() {
      return seen
    },
    get complete() {
      return last !== undefined
    },
    draft() {
      if (!last) return undefined
      const d = fromResponsesObject(last, last.usage as Obj)
      d.model = str(last.model) ?? model
      return d
    },
  }
}
