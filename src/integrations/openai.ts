/**
 * `llm-budget/openai`: a budgeted OpenAI client.
 *
 * `withOpenAIBudget(client, options)` returns a client of the same type (a `withOptions()` clone) whose HTTP
 * layer admits every attempt against the budget before it is sent and records what the provider reports:
 * chat completions, responses, embeddings, images, audio transcriptions and speech, streamed or not.
 * Chat streams get `stream_options.include_usage` forced on; the usage-only final chunk is hidden from
 * callers who did not ask for it. Responses streams are charged from `response.completed`.
 *
 * The `openai` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type OpenAI from 'openai'
import type { WireRequest } from './budget-fetch.js'
import { openAIAdapter } from './openai-wire.js'
import { CLIENT_WRAPPER_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { budgetClient } from './sdk-client.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'
export { CONTEXT_HEADER } from './budget-fetch.js'
export { TRANSCRIPTION_CEILING_SECONDS } from './openai-wire.js'

/** Options of {@link withOpenAIBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface OpenAIBudgetOptions extends BudgetIntegrationOptions<WireRequest> {
  /**
   * Provider name used for pricing (default `openai`, or `openrouter` when the client's `baseURL` is on
   * `openrouter.ai`; `azure` for Azure OpenAI, ...). With `openrouter`, chat requests ask for usage accounting
   * (`usage: { include: true }`) and the cost OpenRouter reports is recorded as the call's cost.
   */
  provider?: string
}

/**
 * Wrap an OpenAI client so that every call is admitted against the budget before it is sent and charged
 * from the usage the provider reports, at the model it says it served.
 *
 * Returns a client of the same type (a `client.withOptions({ fetch })` clone); the original is untouched.
 * Each HTTP attempt is admitted separately, so the SDK's own retries are each checked and only attempts the
 * provider answered successfully are charged. A refused call throws `BudgetExceededError` (or
 * `RateLimitError`) and sends nothing.
 *
 * @example
 * ```ts
 * const openai = withOpenAIBudget(new OpenAI(), { manager, context: { user: 'alice' } })
 * const completion = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 200 })
 * ```
 */
export function withOpenAIBudget<T extends OpenAI>(client: T, options: OpenAIBudgetOptions): T {
  validateOptions('withOpenAIBudget(client, options)', CLIENT_WRAPPER_OPTIONS, options)
  const provider = options.provider ?? (isOpenRouter(client.baseURL) ? 'openrouter' : 'openai')
  const chatDefaults = provider === 'openrouter' ? { usage: { include: true } } : undefined
  return budgetClient(
    client,
    openAIAdapter({ provider, forceStreamUsage: true, chatDefaults }),
    options,
    'withOpenAIBudget(client, options)',
  )
}

/** True for a base URL on OpenRouter's API host. */
function isOpenRouter(baseURL: unknown): boolean {
  if (typeof baseURL !== 'string') return false
  try {
    const host = new URL(baseURL).hostname
    return host === 'openrouter.ai' || host.endsWith('.openrouter.ai')
  } catch {
    return false
  }
}
