/**
 * Cohere usage: billed on `billedUnits` (`tokens` also counts tokens Cohere adds itself, which are not
 * charged; kept as `processed*Tokens`). v2 `chat` puts it in `usage`, v1 in `meta`; the v2 `chatStream`
 * in the `message-end` event's `delta.usage`, the v1 stream in the `stream-end` event's `response.meta`.
 * SDK objects are camelCase, the wire format snake_case: both are read.
 *
 * @internal
 * @packageDocumentation
 */
import { draft, isObj, n, obj, type Draft, type Obj } from './shared.js'
import type { StreamFormat } from './stream-format.js'

/** Cohere usage / meta object: bill on billed units. */
export function fromCohereUsage(u: Obj): Draft {
  const billed = obj(u.billedUnits) ?? obj(u.billed_units) ?? {}
  const tokens = obj(u.tokens)
  const d = draft(
    n(billed.inputTokens) ?? n(billed.input_tokens) ?? 0,
    n(billed.outputTokens) ?? n(billed.output_tokens) ?? 0,
    n(u.cachedTokens) ?? n(u.cached_tokens) ?? 0,
    0,
    null,
  )
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

/** True for an object with Cohere billed units. */
export function hasBilledUnits(u: Obj | undefined): u is Obj {
  return u !== undefined && (isObj(u.billedUnits) || isObj(u.billed_units))
}

/** v2 chatStream event types (`message-end` carries the usage). */
const V2_EVENTS = new Set([
  'message-start',
  'content-start',
  'content-delta',
  'content-end',
  'tool-plan-delta',
  'tool-call-start',
  'tool-call-delta',
  'tool-call-end',
  'citation-start',
  'citation-end',
  'message-end',
])

/** Cohere streams: v2 `message-end` (`delta.usage`) and v1 `stream-end` (`response.meta`). */
export function cohereStream(): StreamFormat {
  let usage: Obj | undefined
  let seen = false
  return {
    add(e) {
      const v1 = e.eventType ?? e.event_type
      if (typeof e.type === 'string' && V2_EVENTS.has(e.type)) {
        seen = true
        if (e.type === 'message-end') {
          const u = obj(obj(e.delta)?.usage)
          if (hasBilledUnits(u)) usage = u
        }
      } else if (
        typeof v1 === 'string' &&
        (v1 === 'stream-start' ||
          v1 === 'text-generation' ||
          v1 === 'stream-end' ||
          v1 === 'tool-calls-generation' ||
          v1 === 'citation-generation' ||
          v1 === 'search-results' ||
          v1 === 'search-queries-generation' ||
          v1 === 'tool-calls-chunk')
      ) {
        seen = true
        if (v1 === 'stream-end') {
          const meta = obj(obj(e.response)?.meta)
          if (hasBilledUnits(meta)) usage = meta
        }
      }
    },
    get seen() {
      return seen
    },
    get complete() {
      return usage !== undefined
    },
    draft() {
      return usage ? fromCohereUsage(usage) : undefined
    },
  }
}
