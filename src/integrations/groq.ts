/**
 * `llm-budget/groq`: a budgeted Groq client.
 *
 * `withGroqBudget(client, options)` returns a client of the same type (a `withOptions()` clone: `groq-sdk` is a
 * Stainless-generated SDK like `openai`) whose HTTP layer admits every attempt against the budget before it is sent.
 * Groq speaks the OpenAI wire format under `/openai/v1`, so this is the OpenAI provider description under the provider
 * name `groq`: chat completions (JSON and streams), embeddings and audio transcriptions. A stream's usage comes on its
 * last chunk in `x_groq.usage`, without any opt-in, so requests are sent as written.
 *
 * The `groq-sdk` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type Groq from 'groq-sdk'
import type { WireRequest } from './budget-fetch.js'
import { openAIAdapter } from './openai-wire.js'
import { CLIENT_WRAPPER_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { budgetClient } from './sdk-client.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'
export { CONTEXT_HEADER } from './budget-fetch.js'

/** Options of {@link withGroqBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface GroqBudgetOptions extends BudgetIntegrationOptions<WireRequest> {
  /** Provider name used for pricing (default `groq`). */
  provider?: string
}

/**
 * Wrap a Groq client so that every chat completion (JSON or `stream: true`), embedding and transcription is admitted
 * against the budget before it is sent and charged from the usage Groq reports, at the model it served.
 *
 * Returns a client of the same type (a `client.withOptions({ fetch })` clone); the original is untouched. Each HTTP
 * attempt is admitted separately, so the SDK's retries (`maxRetries`) are each checked and only attempts Groq
 * answered successfully are charged. A refused call throws `BudgetExceededError` (or `RateLimitError`) and sends
 * nothing.
 *
 * @example
 * ```ts
 * const groq = withGroqBudget(new Groq(), { manager, context: { user: 'alice' } })
 * const completion = await groq.chat.completions.create({ model: 'llama-3.3-70b-versatile', messages, max_tokens: 200 })
 * ```
 */
export function withGroqBudget<T extends Groq>(client: T, options: GroqBudgetOptions): T {
  validateOptions('withGroqBudget(client, options)', CLIENT_WRAPPER_OPTIONS, options)
  return budgetClient(
    client,
    openAIAdapter({ provider: options.provider ?? 'groq', forceStreamUsage: false }),
    options,
    'withGroqBudget(client, options)',
  )
}
