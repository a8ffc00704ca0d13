/**
 * `llm-budget/cohere`: a budgeted Cohere v2 client.
 *
 * `withCohereBudget(client, options)` returns a `CohereClientV2` built with the same options and the budgeted fetch:
 * each HTTP attempt of `chat()` and `chatStream()` is admitted against the budget before it is sent, and charged from
 * the `billed_units` Cohere reports (what Cohere charges; `tokens` also counts the tokens Cohere adds itself, which
 * are kept on the record as processed tokens, not priced). A stream's usage is in its `message-end` event.
 *
 * The `cohere-ai` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type { CohereClientV2 } from 'cohere-ai'
import type { EstimateRequest } from '../budget/pricing.js'
import { textLength } from '../budget/settlement.js'
import { BudgetConfigError } from '../errors.js'
import {
  createBudgetFetch,
  refuseBudgetedTwice,
  RefusalRegistry,
  type FetchLike,
  type UsageTracker,
  type WireAdapter,
  type WireCall,
  type WireRequest,
} from './budget-fetch.js'
import { asObject, safeParse } from './json.js'
import { CLIENT_WRAPPER_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { mapRefusals } from './sdk-client.js'
import type { SseEvent } from './sse.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'
export { CONTEXT_HEADER } from './budget-fetch.js'

/** Options of {@link withCohereBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface CohereBudgetOptions extends BudgetIntegrationOptions<WireRequest> {
  /** Provider name used for pricing (default `cohere`). */
  provider?: string
}

/** Text of a v2 delta or message: `delta.message.content.text`, tool plans and tool-call arguments. */
function deltaText(delta: unknown): number {
  const message = asObject(asObject(delta)?.['message'])
  if (message === undefined) return 0
  return textLength([message['content'], message['tool_plan'], message['tool_calls']])
}

/**
 * A v2 chat stream: usage from `message-end`, output counted from the deltas before it. Cohere names no model in its
 * responses: the model recorded is the one the request was sent for (a budget fallback's, when it applied).
 */
function streamTracker(): UsageTracker {
  let final: { usage: unknown } | undefined
  let done = false
  let characters = 0
  let pieces = 0
  return {
    onEvent(event: SseEvent) {
      const data = asObject(safeParse(event.data))
      if (data === undefined) return true
      const type = data['type'] ?? event.event
      if (type === 'message-end') {
        done = true
        const usage = asObject(asObject(data['delta'])?.['usage'])
        if (usage !== undefined) final = { usage: { usage } }
      } else if (typeof type === 'string' && type.endsWith('-delta')) {
        const n = deltaText(data['delta'])
        if (n > 0) {
          characters += n
          pieces++
        }
      }
      return true
    },
    onText() {},
    final: () => final,
    partial: () => ({ output: { characters, pieces } }),
    done: () => done,
  }
}

/** A v2 chat JSON body: usage in `usage`, no model (the one the request was sent for is recorded). */
function jsonTracker(): UsageTracker {
  let final: { usage: unknown } | undefined
  let characters = 0
  return {
    onEvent: () => true,
    onText(text: string) {
      const body = asObject(safeParse(text))
      if (body === undefined) return
      characters = textLength(asObject(body['message'])?.['content'])
      const usage = asObject(body['usage'])
      if (usage !== undefined) final = { usage: { usage } }
    },
    final: () => final,
    partial: () => ({ output: { characters, pieces: characters > 0 ? 1 : 0 } }),
  }
}

/** The Cohere v2 chat provider description. */
function cohereAdapter(provider: string): WireAdapter {
  return {
    provider,
    refusalBody: (message, code) => ({ message, code }),
    describe(path, method, body): WireCall | null {
      if (method !== 'POST' || !path.endsWith('/v2/chat') || typeof body !== 'string') return null
      const params = asObject(safeParse(body))
      if (params === undefined) return null
      const model = typeof params['model'] === 'string' ? params['model'] : 'unknown'
      const maxTokens = typeof params['max_tokens'] === 'number' ? params['max_tokens'] : undefined
      const stream = params['stream'] === true
      const messages = Array.isArray(params['messages']) ? (params['messages'] as { content?: unknown }[]) : []
      const estimate = (m: string): EstimateRequest => ({
        model: m,
        messages: [...messages, { content: params['documents'] ?? '' }],
        ...(maxTokens !== undefined ? { maxOutputTokens: maxTokens } : {}),
      })
      return {
        endpoint: 'chat',
        model,
        params,
        estimate,
        body: (m) => (m === model ? body : JSON.stringify({ ...params, model: m })),
        tracker: () => (stream ? streamTracker() : jsonTracker()),
      }
    },
  }
}

/**
 * Wrap a Cohere v2 client so that every `chat()` and `chatStream()` call is admitted against the budget before it is
 * sent and charged from the billed units Cohere reports.
 *
 * Returns a new `CohereClientV2` with the client's options (token, environment, retries, timeout) and the budgeted
 * `fetch`; the original is untouched. Each HTTP attempt is admitted separately, so the SDK's retries (`maxRetries`)
 * are each checked and only attempts Cohere answered successfully are charged. A refused call rejects with
 * `BudgetExceededError` (or `RateLimitError`) and sends nothing.
 *
 * @example
 * ```ts
 * const cohere = withCohereBudget(new CohereClientV2({ token }), { manager, context: { user: 'alice' } })
 * const reply = await cohere.chat({ model: 'command-a-03-2025', messages, maxTokens: 200 })
 * ```
 */
export function withCohereBudget<T extends CohereClientV2>(client: T, options: CohereBudgetOptions): T {
  const where = 'withCohereBudget(client, options)'
  validateOptions(where, CLIENT_WRAPPER_OPTIONS, options)
  const sdkOptions = (client as unknown as { _options: Record<string, unknown> })._options
  if (sdkOptions['fetcher'] !== undefined)
    throw new BudgetConfigError(
      'fetcher',
      `${where}: the client has a custom \`fetcher\`, which would bypass the budget; pass \`fetch\` instead`,
    )
  const own = sdkOptions['fetch'] as FetchLike | undefined
  refuseBudgetedTwice(where, own)
  const baseFetch: FetchLike = (input, init) => (own ?? globalThis.fetch)(input, init)
  const refusals = new RefusalRegistry()
  const fetch = createBudgetFetch(cohereAdapter(options.provider ?? 'cohere'), options, baseFetch, refusals)
  const Client = client.constructor as new (options: Record<string, unknown>) => T
  return mapRefusals(new Client({ ...sdkOptions, fetch }), refusals)
}
