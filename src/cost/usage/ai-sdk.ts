/**
 * Vercel AI SDK usage: v6 (LanguageModelV3, normalized across providers, flat or nested) and v5 (flat, not
 * normalized: Anthropic excludes cache, Google excludes thinking). Streams: the `finish` part.
 *
 * @internal
 * @packageDocumentation
 */
import { draft, isObj, n, obj, str, type Draft, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** AI SDK 6 (LanguageModelV3) usage, flat result form or nested part form. */
export function fromAiSdkV6Usage(u: Obj): Draft {
  if (isObj(u.inputTokens)) {
    // Nested V3 provider usage: { inputTokens: { total, noCache, cacheRead, cacheWrite }, outputTokens: { total, text, reasoning } }
    const i = u.inputTokens
    const o = obj(u.outputTokens) ?? {}
    return draft(n(i.total) ?? 0, n(o.total) ?? 0, n(i.cacheRead) ?? 0, n(i.cacheWrite) ?? 0, n(o.reasoning) ?? null)
  }
  const inputDetails = obj(u.inputTokenDetails) ?? {}
  const outputDetails = obj(u.outputTokenDetails) ?? {}
  return draft(
    n(u.inputTokens) ?? 0,
    n(u.outputTokens) ?? 0,
    n(inputDetails.cacheReadTokens) ?? 0,
    n(inputDetails.cacheWriteTokens) ?? 0,
    n(outputDetails.reasoningTokens) ?? null,
  )
}

/** AI SDK 5 (LanguageModelV2) flat usage: not normalized across providers. */
export function fromAiSdkV5Usage(u: Obj, providerMetadata: Obj | undefined, provider: string | undefined): Draft {
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

const AI_SDK_PARTS = new Set(['finish', 'finish-step', 'response-metadata', 'stream-start'])

/** AI SDK stream parts: the model from `response-metadata` / `finish-step`, the usage from `finish`. */
export function aiSdkStream(): StreamFormat {
  let finish: Obj | undefined
  let model: string | undefined
  let seen = false
  return {
    add(e) {
      if (typeof e.type !== 'string' || !AI_SDK_PARTS.has(e.type)) return
      seen = true
      if (e.type === 'response-metadata') model = str(e.modelId) ?? model
      if (e.type === 'finish-step' && isObj(e.response)) model = str(e.response.modelId) ?? model
      if (e.type === 'finish' && (isObj(e.usage) || isObj(e.totalUsage))) finish = e
    },
    get seen() {
      return seen
    },
    get complete() {
      return finish !== undefined
    },
    draft(provider) {
      if (!finish) return undefined
      const usage = obj(finish.totalUsage) ?? obj(finish.usage)!
      const d =
        'inputTokenDetails' in usage || isObj(usage.inputTokens)
          ? fromAiSdkV6Usage(usage)
          : fromAiSdkV5Usage(usage, obj(finish.providerMetadata), provider)
      d.model = model
      return d
    },
  }
}
