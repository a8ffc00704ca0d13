/**
 * `llm-budget/google`: a budgeted Google Gen AI client (`@google/genai`), Gemini API or Vertex AI.
 *
 * `withGoogleBudget(ai, options)` returns a client of the same type whose `models` and `chats` admit every HTTP
 * attempt against the budget before it is sent and record what the provider reports: `generateContent`,
 * `generateContentStream` and chat sessions (`sendMessage`, `sendMessageStream`). Usage comes from `usageMetadata`
 * (thinking tokens added to output, cached tokens priced at the cache rate); a stream's running totals are read
 * from its last chunk. The original client is untouched.
 *
 * The `@google/genai` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type { GoogleGenAI } from '@google/genai'
import {
  createBudgetFetch,
  markBudgeted,
  refuseBudgetedTwice,
  RefusalRegistry,
  REFUSAL_HEADER,
  type FetchLike,
  type WireAdapter,
  type WireCall,
  type WireRequest,
} from './budget-fetch.js'
import { asObject, safeParse, type Json } from './json.js'
import { CLIENT_WRAPPER_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { accumulatingTracker } from './usage-tracker.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'
export { CONTEXT_HEADER } from './budget-fetch.js'

/** Options of {@link withGoogleBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface GoogleBudgetOptions extends BudgetIntegrationOptions<WireRequest> {
  /** Provider name used for pricing (default `gemini` for the Gemini API, `vertex_ai` for a Vertex AI client). */
  provider?: string
}

/** `.../models/{model}:generateContent` and `:streamGenerateContent`, on both the Gemini API and Vertex AI paths. */
const GENERATE = /\/models\/([^/:]+):(generateContent|streamGenerateContent)$/

/** The text of a response or stream chunk: its candidates' parts (thoughts included). */
function candidateText(body: Json): unknown {
  const candidates = Array.isArray(body['candidates']) ? (body['candidates'] as unknown[]) : []
  return candidates.map((candidate) => {
    const parts = asObject(asObject(candidate)?.['content'])?.['parts']
    return Array.isArray(parts) ? parts.map((part) => asObject(part)?.['text']) : []
  })
}

function nonNegative(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

/** The Gemini wire adapter (`provider`: `gemini` or `vertex_ai`). */
function googleAdapter(provider: string): WireAdapter {
  return {
    provider,
    refusalBody: (message, code) => ({ error: { code: 402, message, status: 'LLM_BUDGET_REFUSED', reason: code } }),
    describe(path, method, body): WireCall | null {
      const match = method === 'POST' ? GENERATE.exec(path) : null
      if (match === null || typeof body !== 'string') return null
      const params = asObject(safeParse(body))
      if (params === undefined) return null
      const model = decodeURIComponent(match[1]!)
      const config = asObject(params['generationConfig'])
      const maxOutput = nonNegative(config?.['maxOutputTokens'])
      // A thinking budget is spent on top of the visible output: the worst case reserves both.
      const thinking = nonNegative(asObject(config?.['thinkingConfig'])?.['thinkingBudget'])
      const contents = Array.isArray(params['contents']) ? (params['contents'] as unknown[]) : []
      const messages = [
        { content: textOfContent(params['systemInstruction']) },
        ...contents.map((content) => ({ content: textOfContent(content) })),
      ]
      return {
        endpoint: match[2] === 'streamGenerateContent' ? 'generateContentStream' : 'generateContent',
        model,
        params,
        estimate: (m) => ({
          model: m,
          messages,
          ...(maxOutput !== undefined ? { maxOutputTokens: maxOutput + (thinking ?? 0) } : {}),
        }),
        body: () => body,
        url: (m, url) => url.replace(`/models/${match[1]!}:`, `/models/${encodeURIComponent(m)}:`),
        tracker: () => accumulatingTracker({ provider, model, text: candidateText }),
      }
    },
  }
}

/** The text parts of a `Content` (`{ role, parts: [{ text }] }`), for the estimate. */
function textOfContent(content: unknown): string {
  const parts = asObject(content)?.['parts']
  if (!Array.isArray(parts)) return typeof content === 'string' ? content : ''
  return parts
    .map((part) => asObject(part)?.['text'])
    .filter((text) => typeof text === 'string')
    .join('\n')
}

/** The parts of `@google/genai`'s internal API client this wrapper relies on. */
interface ApiClientLike {
  clientOptions: { httpOptions?: { fetch?: FetchLike } & Record<string, unknown> } & Record<string, unknown>
  request(request: unknown): Promise<unknown>
  requestStream(request: unknown): Promise<unknown>
  processStreamResponse(response: Response): AsyncGenerator<unknown>
}

/** The parts of a `GoogleGenAI` client this wrapper relies on. */
interface GoogleClientLike {
  apiClient: ApiClientLike
  vertexai: boolean
  models: object
  chats: object
}

/** The budget error behind an SDK `ApiError` raised from a refusal response (its message is the response body). */
function unrefuse(refusals: RefusalRegistry, error: unknown): unknown {
  const message = error instanceof Error ? error.message : ''
  const id = /"refusal":"([^"]+)"/.exec(message)?.[1]
  if (id === undefined) return error
  const probe = { headers: new Headers({ [REFUSAL_HEADER]: id }) }
  const original = refusals.map(probe)
  return original === probe ? error : original
}

/**
 * A stream whose consumer stopped early (`break`) has its response body cancelled: the SDK only releases its
 * reader, which would leave the attempt open and unsettled.
 */
function cancelOnReturn(chunks: AsyncGenerator<unknown>, response: Response): AsyncGenerator<unknown> {
  const cancel = async () => {
    await response.body?.cancel().catch(() => undefined)
  }
  const wrapped: AsyncGenerator<unknown> = {
    next: (...args) => chunks.next(...args),
    async return(value) {
      try {
        return await chunks.return(value)
      } finally {
        await cancel()
      }
    },
    async throw(error) {
      try {
        return await chunks.throw(error)
      } finally {
        await cancel()
      }
    },
    [Symbol.asyncIterator]: () => wrapped,
  }
  return wrapped
}

/**
 * Wrap a Google Gen AI client so that every `generateContent` / `generateContentStream` call (directly or through
 * a chat session) is admitted against the budget before it is sent and charged from the `usageMetadata` the provider
 * reports, at the model version it served.
 *
 * Returns a client of the same type; the original is untouched. Each HTTP attempt is admitted separately (the SDK's
 * `retryOptions` retries included) and only attempts the provider answered successfully are charged. A refused call
 * throws `BudgetExceededError` (or `RateLimitError`) and sends nothing. The other modules (`files`, `caches`,
 * `batches`, `live`, ...) are the original client's and are not budgeted.
 *
 * @example
 * ```ts
 * const ai = withGoogleBudget(new GoogleGenAI({ apiKey }), { manager, context: { user: 'alice' } })
 * const response = await ai.models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hello' })
 * ```
 */
export function withGoogleBudget<T extends GoogleGenAI>(ai: T, options: GoogleBudgetOptions): T {
  validateOptions('withGoogleBudget(ai, options)', CLIENT_WRAPPER_OPTIONS, options)
  const source = ai as unknown as GoogleClientLike
  const base = source.apiClient
  const provider = options.provider ?? (source.vertexai ? 'vertex_ai' : 'gemini')
  const refusals = new RefusalRegistry()
  const baseFetch = base.clientOptions.httpOptions?.fetch ?? globalThis.fetch
  refuseBudgetedTwice('withGoogleBudget(ai, options)', baseFetch)
  const budgetFetch = createBudgetFetch(
    googleAdapter(provider),
    options,
    (input, init) => baseFetch.call(undefined, input, init),
    refusals,
  )
  // A view of the API client with the budgeted fetch (read per request from its options) and the refusal mapping.
  const api = Object.create(base) as ApiClientLike
  api.clientOptions = {
    ...base.clientOptions,
    httpOptions: { ...base.clientOptions.httpOptions, fetch: markBudgeted(markRefusals(budgetFetch)) },
  }
  api.request = (request) =>
    base.request.call(api, request).catch((error: unknown) => {
      throw unrefuse(refusals, error)
    })
  api.requestStream = (request) =>
    base.requestStream.call(api, request).catch((error: unknown) => {
      throw unrefuse(refusals, error)
    })
  api.processStreamResponse = (response) => cancelOnReturn(base.processStreamResponse.call(api, response), response)

  const clone = Object.create(Object.getPrototypeOf(ai) as object) as GoogleClientLike & Record<string, unknown>
  for (const key of Object.keys(ai)) {
    // Lazily built modules (`_interactions`, ...) are built again from the budgeted API client when first used.
    clone[key] = key.startsWith('_') ? undefined : (ai as unknown as Record<string, unknown>)[key]
  }
  clone.apiClient = api
  const Models = source.models.constructor as new (apiClient: ApiClientLike) => object
  const Chats = source.chats.constructor as new (models: object, apiClient: ApiClientLike) => object
  clone.models = new Models(api)
  clone.chats = new Chats(clone.models, api)
  return clone as unknown as T
}

/** The refusal response's body names its refusal id, so the SDK error raised from it (message = body) can be mapped. */
function markRefusals(fetch: FetchLike): FetchLike {
  return async (input, init) => {
    const response = await fetch(input, init)
    const id = response.headers.get(REFUSAL_HEADER)
    if (id === null) return response
    const body = asObject(await response.json()) ?? {}
    return new Response(JSON.stringify({ ...body, refusal: id }), {
      status: response.status,
      headers: response.headers,
    })
  }
}
