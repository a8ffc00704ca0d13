/**
 * Bedrock Converse usage: `inputTokens` excludes cache reads and writes (added here). ConverseStream puts the
 * usage in its final `metadata` event; the model comes from the request.
 *
 * @internal
 * @packageDocumentation
 */
import { draft, isObj, n, obj, type Draft, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** Bedrock Converse usage (input excludes cache reads and writes). */
export function fromBedrockUsage(u: Obj): Draft {
  const read = n(u.cacheReadInputTokens) ?? 0
  const write = n(u.cacheWriteInputTokens) ?? 0
  return draft((n(u.inputTokens) ?? 0) + read + write, n(u.outputTokens) ?? 0, read, write, null)
}

/** ConverseStream: the `metadata` event's usage. */
export function bedrockStream(): StreamFormat {
  let usage: Obj | undefined
  return {
    add(e) {
      const meta = obj(e.metadata)
      if (meta && isObj(meta.usage)) usage = meta.usage
    },
    get seen() {
      return usage !== undefined
    },
    get complete() {
      return usage !== undefined
    },
    draft() {
      return usage ? fromBedrockUsage(usage) : undefined
    },
  }
}
