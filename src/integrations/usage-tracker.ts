/**
 * A usage tracker built on the cost module's usage parsers: JSON bodies go through `normalizeUsage`, stream events
 * (SSE `data`, or events an SDK already decoded) through the incremental usage accumulator. A provider description
 * only says where the returned text is in an event or body (for the estimate of a call cut before its usage).
 *
 * @packageDocumentation
 */
import { textLength, tokensFromText } from '../budget/settlement.js'
import { createUsageAccumulator, normalizeUsage } from '../cost/index.js'
import type { NormalizedUsage } from '../cost/types.js'
import type { UsageTracker } from './budget-fetch.js'
import { asObject, safeParse, type Json } from './json.js'
import type { SseEvent } from './sse.js'

/** A {@link UsageTracker} that also takes what an SDK decoded itself (AWS responses and event streams). */
export interface EventTracker extends UsageTracker {
  /** Observe one decoded stream event. */
  onObject(event: Json): void
  /** Observe a whole decoded response body (or a bare usage object). */
  onBody(body: Json): void
}

/** What a provider description tells the tracker. */
export interface TrackerOptions {
  /** Provider name, for the parsers' provider quirks. */
  provider: string
  /** The requested model (used when the response names none). */
  model: string
  /** The text (or parts holding it) that a stream event or a JSON body returned. */
  text(event: Json): unknown
}

function attempt(read: () => NormalizedUsage | undefined): NormalizedUsage | undefined {
  try {
    return read()
  } catch {
    // Counts the parsers refuse (negative, fractional) are no usage: the call is settled as an estimate.
    return undefined
  }
}

/** A tracker for JSON bodies and event streams whose usage the cost module's parsers understand. */
export function accumulatingTracker(options: TrackerOptions): EventTracker {
  const parse = { provider: options.provider, model: options.model }
  const accumulator = createUsageAccumulator(parse)
  let body: NormalizedUsage | undefined
  let characters = 0
  let pieces = 0
  const onObject = (event: Json): void => {
    accumulator.add(event)
    const n = textLength(options.text(event))
    if (n > 0) {
      characters += n
      pieces++
    }
  }
  const onBody = (json: Json): void => {
    const n = textLength(options.text(json))
    if (n > 0) {
      characters = n
      pieces = 1
    }
    body = attempt(() => normalizeUsage(json, parse)) ?? body
  }
  const modelOf = (usage: NormalizedUsage | undefined) => {
    const model = usage?.modelSource === 'request' ? undefined : (usage?.model ?? accumulator.model)
    return model !== undefined ? { model } : {}
  }
  return {
    onEvent(event: SseEvent) {
      const data = asObject(safeParse(event.data))
      if (data !== undefined) onObject(data)
      return true
    },
    onObject,
    onText(text: string) {
      const json = asObject(safeParse(text))
      if (json !== undefined) onBody(json)
    },
    onBody,
    final() {
      const usage = body ?? (accumulator.complete ? attempt(() => accumulator.usage()) : undefined)
      return usage === undefined ? undefined : { usage, ...modelOf(usage) }
    },
    partial() {
      const output = { characters, pieces }
      const usage = attempt(() => accumulator.usage())
      if (usage === undefined) return { ...modelOf(undefined), output }
      // The input side is what the provider said; output is at least what was seen streaming by.
      const outputTokens = Math.max(usage.outputTokens ?? 0, tokensFromText(output))
      return { usage: { ...usage, outputTokens }, ...modelOf(usage), output }
    },
  }
}
