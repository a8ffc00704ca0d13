/**
 * `llm-budget/anthropic`: a budgeted Anthropic client.
 *
 * `withAnthropicBudget(client, options)` returns a client of the same type (a `withOptions()` clone) whose HTTP
 * layer admits every attempt against the budget before it is sent, and records the usage the provider reports:
 * `messages.create()` (JSON or `stream: true`) and `messages.stream()`. Stream usage is `message_start`'s
 * input side overwritten by the last cumulative `message_delta` (never summed). Cache writes (5m and 1h),
 * `service_tier` and server tool use (web search) are priced by the cost module.
 *
 * The `@anthropic-ai/sdk` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type Anthropic from '@anthropic-ai/sdk'
import type { UsageTracker, WireAdapter, WireCall, WireRequest } from './budget-fetch.js'
import { asObject, safeParse, type Json } from './json.js'
import { CLIENT_WRAPPER_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { budgetClient } from './sdk-client.js'
import type { SseEvent } from './sse.js'
import { textLength, tokensFromText } from '../budget/settlement.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'
export { CONTEXT_HEADER } from './budget-fetch.js'

/** Options of {@link withAnthropicBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface AnthropicBudgetOptions extends BudgetIntegrationOptions<WireRequest> {
  /** Provider name used for pricing (default `anthropic`; e.g. `bedrock` or `vertex_ai` for those clients). */
  provider?: string
}

/** Merge cumulative usage: every non-null field of `next` overwrites (never adds to) `into`. */
function overwrite(into: Json, next: Json): void {
  for (const [key, value] of Object.entries(next)) {
    if (value === null || value === undefined) continue
    const inner = asObject(value)
    const existing = asObject(into[key])
    if (inner !== undefined && existing !== undefined) overwrite(existing, inner)
    else into[key] = inner !== undefined ? { ...inner } : value
  }
}

function streamTracker(): UsageTracker {
  let model: string | undefined
  let usage: Json | undefined
  let sawDelta = false
  let characters = 0
  let chunks = 0
  const message = () => ({ type: 'message', model, usage })
  return {
    onEvent(event: SseEvent) {
      const data = asObject(safeParse(event.data))
      if (data === undefined) return true
      const type = data['type'] ?? event.event
      if (type === 'message_start') {
        const start = asObject(data['message'])
        if (typeof start?.['model'] === 'string') model = start['model']
        const startUsage = asObject(start?.['usage'])
        if (startUsage !== undefined) usage = structuredClone(startUsage)
      } else if (type === 'message_delta') {
        const delta = asObject(data['usage'])
        if (delta !== undefined) {
          usage ??= {}
          overwrite(usage, delta)
          sawDelta = true
        }
      } else if (type === 'content_block_delta') {
        const delta = asObject(data['delta'])
        const text = delta?.['text'] ?? delta?.['thinking'] ?? delta?.['partial_json']
        if (typeof text === 'string') {
          characters += text.length
          chunks++
        }
      }
      return true
    },
    onText() {},
    final: () =>
      sawDelta && usage !== undefined ? { usage: message(), ...(model !== undefined ? { model } : {}) } : undefined,
    partial() {
      const output = { characters, pieces: chunks }
      const outputTokensSeen = tokensFromText(output)
      if (usage === undefined) return { ...(model !== undefined ? { model } : {}), output }
      // The input side is exact (message_start); output so far is counted from the streamed text.
      const reported = typeof usage['output_tokens'] === 'number' ? usage['output_tokens'] : 0
      return {
        usage: { type: 'message', model, usage: { ...usage, output_tokens: Math.max(reported, outputTokensSeen) } },
        ...(model !== undefined ? { model } : {}),
        output,
      }
    },
  }
}

function jsonTracker(): UsageTracker {
  let final: { usage: unknown; model?: string } | undefined
  let model: string | undefined
  let characters = 0
  return {
    onEvent: () => true,
    onText(text: string) {
      const body = asObject(safeParse(text))
      if (body === undefined) return
      if (typeof body['model'] === 'string') model = body['model']
      // The text returned, for an estimate when the body carries no usage.
      characters = textLength(body['content'])
      if (asObject(body['usage']) === undefined) return
      final = { usage: { type: 'message', model, usage: body['usage'] }, ...(model !== undefined ? { model } : {}) }
    },
    final: () => final,
    partial: () => ({
      ...(model !== undefined ? { model } : {}),
      output: { characters, pieces: characters > 0 ? 1 : 0 },
    }),
  }
}

/** The Anthropic wire adapter. */
function anthropicAdapter(provider = 'anthropic'): WireAdapter {
  return {
    provider,
    refusalBody: (message, code) => ({ type: 'error', error: { type: 'llm_budget_refused', message, code } }),
    describe(path, method, body): WireCall | null {
      if (method !== 'POST' || !path.endsWith('/v1/messages') || typeof body !== 'string') return null
      const params = asObject(safeParse(body))
      if (params === undefined) return null
      const model = typeof params['model'] === 'string' ? params['model'] : 'unknown'
      const stream = params['stream'] === true
      const maxTokens = typeof params['max_tokens'] === 'number' ? params['max_tokens'] : undefined
      const system = params['system']
      const messages = [
        { content: typeof system === 'string' ? system : Array.isArray(system) ? system : '' },
        ...(Array.isArray(params['messages']) ? (params['messages'] as { content?: unknown }[]) : []),
      ]
      return {
        endpoint: 'messages',
        model,
        params,
        estimate: (m) => ({ model: m, messages, ...(maxTokens !== undefined ? { maxOutputTokens: maxTokens } : {}) }),
        body: (m) => (m === model ? body : JSON.stringify({ ...params, model: m })),
        tracker: () => (stream ? streamTracker() : jsonTracker()),
      }
    },
  }
}

/**
 * Wrap an Anthropic client so that every Messages call (JSON, `stream: true` or `messages.stream()`) is admitted
 * against the budget before it is sent and charged from the usage the provider reports, at the model it served.
 *
 * Returns a client of the same type (a `client.withOptions({ fetch })` clone); the original is untouched.
 * Each HTTP attempt is admitted separately, so the SDK's retries are each checked and only attempts the provider
 * answered successfully are charged. A refused call throws `BudgetExceededError` (or `RateLimitError`) and
 * sends nothing.
 *
 * @example
 * ```ts
 * const anthropic = withAnthropicBudget(new Anthropic(), { manager, context: { user: 'alice' } })
 * const message = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 512, messages })
 * ```
 */
export function withAnthropicBudget<T extends Anthropic>(client: T, options: AnthropicBudgetOptions): T {
  validateOptions('withAnthropicBudget(client, options)', CLIENT_WRAPPER_OPTIONS, options)
  return budgetClient(client, anthropicAdapter(options.provider), options, 'withAnthropicBudget(client, options)')
}
