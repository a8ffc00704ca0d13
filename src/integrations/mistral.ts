/**
 * `llm-budget/mistral`: a budgeted Mistral client.
 *
 * `withMistralBudget(client, options)` returns a `Mistral` client built with the same options and an HTTP client
 * whose fetcher is the budgeted fetch: each HTTP attempt of `chat.complete`, `chat.stream`, `fim.complete`,
 * `fim.stream` and `embeddings.create` is admitted against the budget before it is sent, and charged from the usage
 * Mistral reports (the last chunk of a stream carries it, no opt-in needed). Mistral speaks the OpenAI wire format,
 * so this is the OpenAI provider description under the provider name `mistral`.
 *
 * The `@mistralai/mistralai` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type { HTTPClient, Mistral } from '@mistralai/mistralai'
import {
  createBudgetFetch,
  markBudgeted,
  RefusalRegistry,
  refuseBudgetedTwice,
  type FetchLike,
  type WireRequest,
} from './budget-fetch.js'
import { openAIAdapter } from './openai-wire.js'
import { CLIENT_WRAPPER_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { mapRefusals } from './sdk-client.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'
export { CONTEXT_HEADER } from './budget-fetch.js'

/** Options of {@link withMistralBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface MistralBudgetOptions extends BudgetIntegrationOptions<WireRequest> {
  /** Provider name used for pricing (default `mistral`). */
  provider?: string
}

type Hook = (...args: never[]) => unknown
type HookKind = 'beforeRequest' | 'requestError' | 'response'

/**
 * The HTTP client handed to the budgeted `Mistral`: the SDK's `HTTPClient` contract (hooks run around the fetcher,
 * in order) with the budgeted fetch as the fetcher. A caller's own `httpClient` stays underneath it, hooks and all.
 */
class BudgetHttpClient {
  readonly #fetch: FetchLike
  readonly #hooks: Record<HookKind, Hook[]> = { beforeRequest: [], requestError: [], response: [] }

  constructor(fetch: FetchLike) {
    this.#fetch = fetch
  }

  async request(request: Request): Promise<Response> {
    let req = request
    for (const hook of this.#hooks.beforeRequest)
      req = ((await (hook as (r: Request) => unknown)(req)) as Request) ?? req
    try {
      const res = await this.#fetch(req)
      for (const hook of this.#hooks.response) await (hook as (r: Response, q: Request) => unknown)(res, req)
      return res
    } catch (error) {
      for (const hook of this.#hooks.requestError) await (hook as (e: unknown, q: Request) => unknown)(error, req)
      throw error
    }
  }

  addHook(kind: HookKind, hook: Hook): this {
    this.#hooks[kind].push(hook)
    return this
  }

  removeHook(kind: HookKind, hook: Hook): this {
    const list = this.#hooks[kind]
    const at = list.indexOf(hook)
    if (at >= 0) list.splice(at, 1)
    return this
  }

  clone(): BudgetHttpClient {
    const copy = new BudgetHttpClient(this.#fetch)
    for (const kind of Object.keys(this.#hooks) as HookKind[]) copy.#hooks[kind].push(...this.#hooks[kind])
    return copy
  }
}

/**
 * Wrap a Mistral client so that every chat, FIM and embeddings call is admitted against the budget before it is
 * sent and charged from the usage Mistral reports, at the model it served.
 *
 * Returns a new `Mistral` with the client's options (server, API key, retries, timeout); the original is untouched.
 * Each HTTP attempt is admitted separately, so the SDK's retries (`retryConfig`) are each checked and only attempts
 * Mistral answered successfully are charged. A refused call throws `BudgetExceededError` (or `RateLimitError`)
 * and sends nothing.
 *
 * @example
 * ```ts
 * const mistral = withMistralBudget(new Mistral({ apiKey }), { manager, context: { user: 'alice' } })
 * const reply = await mistral.chat.complete({ model: 'mistral-small-latest', messages, maxTokens: 200 })
 * ```
 */
export function withMistralBudget<T extends Mistral>(client: T, options: MistralBudgetOptions): T {
  validateOptions('withMistralBudget(client, options)', CLIENT_WRAPPER_OPTIONS, options)
  const sdkOptions = (client as unknown as { _options: Record<string, unknown> })._options
  const inner = sdkOptions['httpClient'] as HTTPClient | undefined
  refuseBudgetedTwice('withMistralBudget(client, options)', inner)
  const baseFetch: FetchLike =
    inner !== undefined
      ? (input, init) =>
          inner.request(input instanceof Request && init === undefined ? input : new Request(input, init))
      : (input, init) => globalThis.fetch(input, init)
  const refusals = new RefusalRegistry()
  const adapter = openAIAdapter({ provider: options.provider ?? 'mistral', forceStreamUsage: false })
  const httpClient = markBudgeted(new BudgetHttpClient(createBudgetFetch(adapter, options, baseFetch, refusals)))
  const Client = client.constructor as new (options: Record<string, unknown>) => T
  return mapRefusals(new Client({ ...sdkOptions, httpClient }), refusals)
}
