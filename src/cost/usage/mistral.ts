/**
 * Mistral SDK usage (camelCase; `promptTokens` include cached tokens). Its stream chunks arrive wrapped as
 * `{ data: chunk }` (unwrapped by the accumulator) and carry the usage on the last chunk.
 *
 * @internal
 * @packageDocumentation
 */
import { draft, n, obj, type Draft, type Obj } from './shared.js'

/** Mistral SDK usage (camelCase; promptTokens include cached tokens). */
export function fromMistralUsage(u: Obj): Draft {
  const details = obj(u.prompt_tokens_details) ?? obj(u.promptTokensDetails) ?? obj(u.prompt_token_details)
  const read =
    n(details?.cached_tokens) ?? n(details?.cachedTokens) ?? n(u.num_cached_tokens) ?? n(u.numCachedTokens) ?? 0
  return draft(n(u.promptTokens) ?? 0, n(u.completionTokens) ?? 0, read, 0, null)
}
