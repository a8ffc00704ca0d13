/**
 * Anthropic Messages usage: `input_tokens` excludes cache reads and writes (added here); the 5m / 1h split
 * of cache writes and server tool use are kept. Streams: `message_start` then cumulative `message_delta`
 * usage (overwrite, never add).
 *
 * @internal
 * @packageDocumentation
 */
import {
  addCacheWriteSplit,
  draft,
  n,
  obj,
  overwrite,
  str,
  stripNulls,
  tierOf,
  type Draft,
  type Obj,
} from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** Anthropic Messages usage (input excludes cache reads and writes). Also Anthropic-shaped usage objects. */
export function fromAnthropicUsage(u: Obj): Draft {
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

/** Cache-write split, web search / fetch counts and the service tier of an Anthropic usage object. */
export function addAnthropicExtras(d: Draft, u: Obj): void {
  addCacheWriteSplit(d, obj(u.cache_creation))
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

/** Anthropic stream events: usage of `message_start`, overwritten field by field by each `message_delta`. */
export function anthropicStream(): StreamFormat {
  let usage: Obj | undefined
  let model: string | undefined
  let seen = false
  let complete = false
  return {
    add(e) {
      if (e.type === 'message_start') {
        seen = true
        const message = obj(e.message)
        model = str(message?.model) ?? model
        const start = obj(message?.usage)
        if (start) overwrite((usage ??= {}), stripNulls(start))
      } else if (e.type === 'message_delta') {
        seen = true
        const delta = obj(e.usage)
        if (delta) {
          overwrite((usage ??= {}), delta) // cumulative: overwrite, never add
          complete = true
        }
      }
    },
    get seen() {
      return seen
    },
    get complete() {
      return complete
    },
    draft() {
      const d = fromAnthropicUsage(usage ?? {})
      d.model = model
      return d
    },
  }
}
