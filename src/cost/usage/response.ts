/**
 * Which provider a whole response (or a bare usage object) comes from, decided by its shape, and its usage.
 *
 * @internal
 * @packageDocumentation
 */
import { fromAiSdkV5Usage, fromAiSdkV6Usage } from './ai-sdk.js'
import { fromAnthropicUsage } from './anthropic.js'
import { fromBedrockUsage } from './bedrock.js'
import { fromCohereUsage, hasBilledUnits } from './cohere.js'
import { fromGeminiResponse, fromGeminiUsage } from './gemini.js'
import { fromLangChainMessage, fromLangChainUsage } from './langchain.js'
import { fromMistralUsage } from './mistral.js'
import {
  fromChatUsage,
  fromImagesUsage,
  fromResponsesObject,
  fromResponsesUsage,
  fromTranscriptionUsage,
} from './openai.js'
import { isObj, obj, str, tierOf, type Draft, type Obj } from './shared.js'

/** An AI SDK result from `@openrouter/ai-sdk-provider`: the USD cost OpenRouter reported, in its provider metadata. */
function withOpenRouterCost(d: Draft, r: Obj): Draft {
  const cost = obj(obj(obj(r.providerMetadata)?.openrouter)?.usage)?.cost
  if (typeof cost === 'number' && Number.isFinite(cost) && cost > 0) d.extras.providerCost = cost
  return d
}

/** The usage of a whole response, or undefined when its shape is not one we know. */
export function fromResponse(r: Obj, provider: string | undefined): Draft | undefined {
  // LangChain AIMessage
  if (isObj(r.usage_metadata)) return fromLangChainMessage(r)
  // Gemini (@google/genai)
  if (isObj(r.usageMetadata)) return fromGeminiResponse(r)
  // AI SDK 6 middleware doGenerate view: { provider, modelId, result: { usage, response } }
  if (isObj(r.result) && isObj(r.result.usage)) {
    const d = fromResponse(r.result, provider)
    if (d && d.model === undefined) d.model = str(r.modelId)
    return d
  }
  // AI SDK results (v6: totalUsage/usage with details; v5: flat usage + providerMetadata)
  const aiUsage =
    obj(r.totalUsage) ??
    (isObj(r.usage) && ('inputTokenDetails' in r.usage || isObj(r.usage.inputTokens)) ? r.usage : undefined)
  if (aiUsage && ('inputTokenDetails' in aiUsage || isObj(aiUsage.inputTokens) || 'outputTokenDetails' in aiUsage)) {
    const d = fromAiSdkV6Usage(aiUsage)
    d.model = str(obj(r.response)?.modelId) ?? str(r.responseModelId)
    return withOpenRouterCost(d, r)
  }
  const usage = obj(r.usage)
  if (
    aiUsage ||
    (usage &&
      typeof usage.inputTokens === 'number' &&
      ('cachedInputTokens' in usage || 'reasoningTokens' in usage || 'totalTokens' in usage) &&
      !('cacheReadInputTokens' in usage) &&
      (isObj(r.providerMetadata) || 'responseModelId' in r || 'finishReason' in r))
  ) {
    const d = fromAiSdkV5Usage((aiUsage ?? usage)!, obj(r.providerMetadata), provider)
    d.model = str(r.responseModelId) ?? str(obj(r.response)?.modelId)
    return withOpenRouterCost(d, r)
  }
  if (!usage) {
    // Cohere v1 chat: `meta.billedUnits`, no model in the response.
    const meta = obj(r.meta)
    return hasBilledUnits(meta) ? fromCohereUsage(meta) : undefined
  }
  // OpenAI transcription
  if (usage.type === 'duration' || usage.type === 'tokens') return fromTranscriptionUsage(usage)
  // OpenAI images (no model field; usage only for GPT image models)
  if (Array.isArray(r.data) && 'input_tokens' in usage && !('object' in r)) return fromImagesUsage(usage)
  // Cohere v2
  if ('billedUnits' in usage || 'billed_units' in usage) {
    const d = fromCohereUsage(usage)
    d.model = str(r.model)
    return d
  }
  // Bedrock Converse
  if (
    typeof usage.inputTokens === 'number' &&
    ('cacheReadInputTokens' in usage || 'cacheWriteInputTokens' in usage || 'stopReason' in r || 'metrics' in r)
  ) {
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
  if (
    r.object === 'response' ||
    'input_tokens_details' in usage ||
    ('input_tokens' in usage &&
      !('cache_read_input_tokens' in usage) &&
      !('cache_creation_input_tokens' in usage) &&
      r.type !== 'message' &&
      provider !== 'anthropic' &&
      provider !== 'bedrock')
  ) {
    return fromResponsesObject(r, usage)
  }
  // Anthropic Messages
  if ('input_tokens' in usage) {
    const d = fromAnthropicUsage(usage)
    d.model = str(r.model)
    return d
  }
  // OpenAI Chat Completions, embeddings, LiteLLM, OpenRouter, DeepSeek, xAI, Perplexity
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
export function fromBareUsage(u: Obj, provider: string | undefined): Draft | undefined {
  if ('prompt_tokens' in u) return fromChatUsage(u, provider)
  if ('promptTokenCount' in u) return fromGeminiUsage(u)
  if ('billedUnits' in u || 'billed_units' in u) return fromCohereUsage(u)
  if ('promptTokens' in u) return fromMistralUsage(u)
  if ('input_token_details' in u || 'output_token_details' in u) return fromLangChainUsage(u)
  if ('input_tokens' in u) {
    if (
      'cache_read_input_tokens' in u ||
      'cache_creation_input_tokens' in u ||
      provider === 'anthropic' ||
      provider === 'bedrock'
    )
      return fromAnthropicUsage(u)
    return fromResponsesUsage(u)
  }
  if ('inputTokenDetails' in u || isObj(u.inputTokens)) return fromAiSdkV6Usage(u)
  if (typeof u.inputTokens === 'number') {
    if ('cacheReadInputTokens' in u || 'cacheWriteInputTokens' in u || provider === 'bedrock')
      return fromBedrockUsage(u)
    return fromAiSdkV5Usage(u, undefined, provider)
  }
  return undefined
}
