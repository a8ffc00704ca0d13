/**
 * Gemini `usageMetadata` (@google/genai, Vertex): the prompt count includes cached tokens; thinking tokens are
 * outside `candidatesTokenCount` (added here). Stream chunks carry running totals: the last one wins.
 *
 * @internal
 * @packageDocumentation
 */
import { draft, isObj, n, obj, str, sum, type Draft, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** Gemini usageMetadata (prompt includes cache; thinking is outside candidates). */
export function fromGeminiUsage(u: Obj): Draft {
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

/** A Gemini response: usage and `modelVersion`. */
export function fromGeminiResponse(r: Obj): Draft {
  const d = fromGeminiUsage(r.usageMetadata as Obj)
  d.model = str(r.modelVersion)
  return d
}

/** Gemini stream chunks: running totals, so the last `usageMetadata` is the usage. */
export function geminiStream(): StreamFormat {
  let last: Obj | undefined
  let model: string | undefined
  let complete = false
  return {
    add(e) {
      model = str(e.modelVersion) ?? model
      if (isObj(e.usageMetadata)) {
        last = e
        if (Array.isArray(e.candidates) && e.candidates.some((c) => obj(c)?.finishReason !== undefined)) complete = true
      }
    },
    get seen() {
      return last !== undefined
    },
    get complete() {
      return complete
    },
    draft() {
      if (!last) return undefined
      const d = fromGeminiResponse(last)
      d.model = model
      return d
    },
  }
}
