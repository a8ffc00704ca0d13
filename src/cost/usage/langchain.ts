/**
 * LangChain `usage_metadata` (input includes cache reads and writes; output includes reasoning). Streams of
 * `AIMessageChunk`s are summed, as LangChain's own `concat` does.
 *
 * @internal
 * @packageDocumentation
 */
import { addCacheWriteSplit, draft, isObj, n, obj, str, type Draft, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** LangChain usage_metadata (input includes cache reads and writes; output includes reasoning). */
export function fromLangChainUsage(u: Obj): Draft {
  const input = obj(u.input_token_details)
  const output = obj(u.output_token_details)
  const d = draft(
    n(u.input_tokens) ?? 0,
    n(u.output_tokens) ?? 0,
    n(input?.cache_read) ?? 0,
    n(input?.cache_creation) ?? 0,
    output ? (n(output.reasoning) ?? null) : null,
  )
  const audioIn = n(input?.audio)
  if (audioIn) d.extras.inputAudioTokens = audioIn
  const audioOut = n(output?.audio)
  if (audioOut) d.extras.outputAudioTokens = audioOut
  return d
}

/** A LangChain AIMessage: `usage_metadata`, the model, and Anthropic extras kept in `response_metadata.usage`. */
export function fromLangChainMessage(r: Obj): Draft {
  const d = fromLangChainUsage(r.usage_metadata as Obj)
  const meta = obj(r.response_metadata)
  const kwargs = obj(r.additional_kwargs)
  d.model = str(meta?.model_name) ?? str(meta?.model) ?? str(kwargs?.model)
  const raw = obj(meta?.usage) ?? obj(kwargs?.usage)
  if (raw && ('cache_creation_input_tokens' in raw || 'server_tool_use' in raw)) {
    const search = n(obj(raw.server_tool_use)?.web_search_requests)
    if (search !== undefined) d.extras.webSearchRequests = search
    addCacheWriteSplit(d, obj(raw.cache_creation))
  }
  return d
}

/** LangChain AIMessageChunks: `usage_metadata` per chunk, summed. */
export function langChainStream(): StreamFormat {
  let total: Draft | undefined
  let model: string | undefined
  let seen = false
  return {
    add(e) {
      model = str(obj(e.response_metadata)?.model_name) ?? str(obj(e.additional_kwargs)?.model) ?? model
      if (!isObj(e.usage_metadata)) return
      seen = true
      const d = fromLangChainUsage(e.usage_metadata)
      if (!total) {
        total = d
        return
      }
      total.inputTokens = (total.inputTokens ?? 0) + (d.inputTokens ?? 0)
      total.outputTokens = (total.outputTokens ?? 0) + (d.outputTokens ?? 0)
      total.cacheReadTokens += d.cacheReadTokens
      total.cacheWriteTokens += d.cacheWriteTokens
      if (d.reasoningTokens !== null) total.reasoningTokens = (total.reasoningTokens ?? 0) + d.reasoningTokens
    },
    get seen() {
      return seen
    },
    get complete() {
      return seen
    },
    draft() {
      if (!total) return undefined
      const d: Draft = { ...total, extras: { ...total.extras }, model }
      return d
    },
  }
}
