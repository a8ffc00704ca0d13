/**
 * The budgeted `fetch` under a Stainless-generated SDK client (openai, @anthropic-ai/sdk): each HTTP attempt is
 * admitted on its own, metered, and settled through the settlement core. A provider plugs in with a
 * {@link WireAdapter}: which requests are billable, their default estimate, and a usage tracker for the response.
 *
 * Imports nothing from `node:`: runs on edge runtimes.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { recordHit, throughCache } from '../budget/cached-call.js'
import type { EstimateRequest } from '../budget/pricing.js'
import { type CachedResponse, defaultCacheKey } from '../budget/response-cache.js'
import type { CallContext } from '../budget/scopes.js'
import { Settlement } from '../budget/settlement.js'
import { InvalidInputError, isBudgetError } from '../errors.js'
import { admitCall, captureBody } from './admission.js'
import { markBudgeted } from './single-layer.js'
import { meterResponse } from './metered-response.js'
import { type Admitted, type UsageTrackerView, settleTracked } from './wire-admission.js'
import { checkedOptions, resolveContext, resolveEstimate, type BudgetIntegrationOptions } from './options.js'
import type { SseEvent } from './sse.js'

/** Header through which one call can add to (or override) the client's context: JSON of a context object. */
export const CONTEXT_HEADER = 'x-llm-budget-context'
/** Header on a refusal response that links it to the error the budget raised. */
export const REFUSAL_HEADER = 'x-llm-budget-refusal'

const contextHeaderSchema = z
  .object({
    user: z.string().min(1).max(256).optional(),
    team: z.string().min(1).max(256).optional(),
    org: z.string().min(1).max(256).optional(),
    key: z.string().min(1).max(256).optional(),
    endUser: z.string().min(1).max(256).optional(),
    tags: z.array(z.string().min(1).max(256)).max(64).optional(),
  })
  .strict()

/** Parse the per-call context header (zod-validated). */
export function parseContextHeader(value: string | null): CallContext | undefined {
  if (value === null) return undefined
  let json: unknown
  try {
    json = JSON.parse(value)
  } catch (error) {
    throw new InvalidInputError(
      CONTEXT_HEADER,
      `\`${CONTEXT_HEADER}\` must be JSON of a context object, e.g. {"user":"alice"}`,
      { cause: error },
    )
  }
  const parsed = contextHeaderSchema.safeParse(json)
  if (!parsed.success)
    throw new InvalidInputError(
      CONTEXT_HEADER,
      `\`${CONTEXT_HEADER}\` is not a valid context: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    )
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(parsed.data)) if (v !== undefined) out[k] = v
  return out as CallContext
}

/** Tracks what a streamed or JSON body says about usage (the view settlement reads, plus how the body is fed in). */
export interface UsageTracker extends UsageTrackerView {
  /** SSE: observe one parsed event. Return `false` to hide it from the SDK. */
  onEvent(event: SseEvent): boolean
  /** JSON / text: observe the whole body. */
  onText(text: string): void
}

/** One request the adapter recognised as billable. */
export interface WireCall {
  /** Endpoint name, e.g. `chat.completions`, `messages`. */
  endpoint: string
  /** The request's model. */
  model: string
  /** The request params (JSON body, or the fields of a multipart body). */
  params: Record<string, unknown>
  /** Default estimate for this request. */
  estimate(model: string): EstimateRequest
  /** Body to send, for the given model (fallbacks rewrite the model). */
  body(model: string): BodyInit | null | undefined
  /** For APIs that name the model in the URL (Gemini): the request's URL rewritten for another model. */
  url?(model: string, url: string): string
  /** Usage tracker for the response. */
  tracker(): UsageTracker
  /** For calls whose response carries no usage (speech): usage from the request. */
  usageFromRequest?(model: string): unknown
}

/** The request as the `context` and `estimate` functions of an HTTP-level integration see it. */
export interface WireRequest {
  /** Endpoint name, e.g. `chat.completions`, `responses`, `embeddings`, `messages`. */
  endpoint: string
  /** The request's model. */
  model: string
  /** The request body's fields (what was passed to the SDK method). */
  params: Record<string, unknown>
  /** Request headers. */
  headers: Headers
}

/** Provider-specific parts of the budgeted fetch. */
export interface WireAdapter {
  provider: string
  /** Recognise a billable request, or return `null` to pass it through. */
  describe(path: string, method: string, body: BodyInit | null | undefined): WireCall | null
  /** Error body in the provider's format for a refused call. */
  refusalBody(message: string, code: string): unknown
}

/** A `fetch` function. */
export type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

/**
 * Map from refusal id to the budget error, shared between the fetch (which cannot throw without triggering
 * the SDK's connection retries) and the patched client (which turns the refusal response back into the error).
 */
export class RefusalRegistry {
  private readonly errors = new Map<string, unknown>()
  private next = 0

  add(error: unknown): string {
    const id = `r${++this.next}`
    this.errors.set(id, error)
    if (this.errors.size > 1000) {
      const oldest = this.errors.keys().next().value
      if (oldest !== undefined) this.errors.delete(oldest)
    }
    return id
  }

  /**
   * The original error for an SDK error raised from a refusal response, or the error itself. SDKs keep the response's
   * headers in different places (`headers`, `rawResponse.headers`, `response.headers`), some wrap it in `cause`.
   */
  map(error: unknown): unknown {
    const id = refusalId(error, 0)
    if (id === undefined) return error
    const original = this.errors.get(id)
    if (original === undefined) return error
    this.errors.delete(id)
    return original
  }
}

function headerValue(headers: unknown): string | undefined {
  if (headers instanceof Headers) return headers.get(REFUSAL_HEADER) ?? undefined
  if (headers !== null && typeof headers === 'object') {
    const value = (headers as Record<string, unknown>)[REFUSAL_HEADER]
    return typeof value === 'string' ? value : undefined
  }
  return undefined
}

/** The refusal id carried by an SDK error (or an error it wraps), if any. */
function refusalId(error: unknown, depth: number): string | undefined {
  if (error === null || typeof error !== 'object' || depth > 3) return undefined
  const e = error as { headers?: unknown; rawResponse?: { headers?: unknown }; response?: { headers?: unknown } }
  return (
    headerValue(e.headers) ??
    headerValue(e.rawResponse?.headers) ??
    headerValue(e.response?.headers) ??
    refusalId((error as { cause?: unknown }).cause, depth + 1)
  )
}

// The marking of budgeted transports lives with the other single-layer checks; re-exported for the wrappers.
export { isBudgeted, markBudgeted, refuseBudgetedTwice } from './single-layer.js'

/**
 * Build the budgeted `fetch` for an SDK client. Each HTTP attempt the SDK makes is admitted on its own
 * (reserve), then: a network error or a 4xx/5xx response releases the hold; a successful response is
 * metered and committed when its body ends, or at the usage seen so far when it is cut, cancelled or aborted.
 * A refused attempt answers with a local, non-retryable error response that the patched client turns back
 * into the {@link BudgetExceededError}; nothing is sent to the provider.
 */
export function createBudgetFetch(
  adapter: WireAdapter,
  options: BudgetIntegrationOptions<WireRequest>,
  baseFetch: FetchLike,
  refusals: RefusalRegistry,
): FetchLike {
  return markBudgeted(async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
    const path = new URL(url).pathname
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
    const headerContext = headers.get(CONTEXT_HEADER)
    headers.delete(CONTEXT_HEADER)
    // SDKs that hand fetch a whole `Request` (Speakeasy-generated ones): the body is read from a clone.
    const requestBody =
      init?.body === undefined && input instanceof Request && input.body !== null && method === 'POST'
        ? await input.clone().text()
        : init?.body
    const call = adapter.describe(path, method, requestBody)
    if (call === null) return baseFetch(input, { ...init, headers })

    const refuse = (error: unknown): Response => {
      const id = refusals.add(error)
      const message = error instanceof Error ? error.message : String(error)
      const code = isBudgetError(error) ? error.code : 'LLM_BUDGET_ERROR'
      return new Response(JSON.stringify(adapter.refusalBody(`llm-budget refused the call: ${message}`, code)), {
        status: 402,
        headers: { 'content-type': 'application/json', 'x-should-retry': 'false', [REFUSAL_HEADER]: id },
      })
    }
    const request: WireRequest = { endpoint: call.endpoint, model: call.model, params: call.params, headers }
    let context: CallContext
    let key: string | undefined
    const { cache } = checkedOptions(options as BudgetIntegrationOptions<never>)
    try {
      context = { ...(await resolveContext(options.context, request)), ...parseContextHeader(headerContext) }
      if (context.provider === undefined) context.provider = adapter.provider
      if (cache !== undefined) {
        key =
          options.cacheKey === undefined
            ? defaultCacheKey([adapter.provider, call.endpoint, call.params])
            : options.cacheKey(request)
        if (typeof key !== 'string' || key.length === 0)
          throw new InvalidInputError('cacheKey', `\`cacheKey\` must return a non-empty string, got ${typeof key}`)
      }
    } catch (error) {
      return refuse(error)
    }
    type Fill = ((entry: CachedResponse | null) => Promise<void>) | undefined
    const send = (fill: Fill) => sendCall(input, url, init, call, request, headers, context, refuse, fill)
    if (cache === undefined || key === undefined) return send(undefined)
    const onError = (error: unknown) => options.onCommitError?.(error, { callId: 'cache', model: call.model })
    return throughCache(
      cache,
      key,
      {
        hit: async (entry) => {
          await recordHit(options.manager, context, entry, adapter.provider, onError)
          const cached = entry.value as { body?: unknown; contentType?: unknown } | null
          return new Response(typeof cached?.body === 'string' ? cached.body : '', {
            status: 200,
            headers: {
              'content-type': typeof cached?.contentType === 'string' ? cached.contentType : 'application/json',
            },
          })
        },
        miss: (fill) => send(fill),
      },
      onError,
    )
  })

  /** Admits, sends, meters and settles one call; `fill` keeps a completed response in the cache. */
  async function sendCall(
    input: string | URL | Request,
    url: string,
    init: RequestInit | undefined,
    call: WireCall,
    request: WireRequest,
    headers: Headers,
    context: CallContext,
    refuse: (error: unknown) => Response,
    fill: ((entry: CachedResponse | null) => Promise<void>) | undefined,
  ): Promise<Response> {
    let settlement: Settlement
    let model = call.model
    let provider = adapter.provider
    try {
      const defaults = { ...call.estimate(call.model), provider: adapter.provider }
      const admitted = await admitCall(options, context, await resolveEstimate(options.estimate, request, defaults))
      const reservation = admitted.reservation
      // Routed: the chosen deployment's model; else a budget's `onExceeded: { fallbackModel }` may have admitted a
      // cheaper model instead: send that one.
      if (typeof reservation.model === 'string' && reservation.model.length > 0) model = reservation.model
      if (admitted.deployment !== undefined) {
        model = admitted.deployment.model
        provider = admitted.deployment.provider ?? provider
      }
      settlement = new Settlement(reservation, options.onCommitError)
    } catch (error) {
      await fill?.(null)
      return refuse(error)
    }

    const metadata: Record<string, string | number | boolean | null> = { endpoint: call.endpoint }
    if (model !== call.model) metadata['requestedModel'] = call.model
    const admitted: Admitted = { settlement, model, provider, metadata }
    const signal = init?.signal ?? (input instanceof Request ? input.signal : null)
    let response: Response
    try {
      const body = call.body(model)
      const target = model !== call.model && call.url !== undefined ? call.url(model, url) : input
      response = await baseFetch(target, { ...init, headers, ...(body !== undefined ? { body } : {}) })
    } catch (error) {
      // No response: nothing was billed that we can know of (connection refused, DNS, aborted before headers).
      await settlement.release()
      throw error
    }
    if (!response.ok) {
      // 4xx/5xx before any token: not billed. The SDK may retry; the retry is admitted again.
      await settlement.release()
      await fill?.(null)
      return response
    }
    const fromRequest = call.usageFromRequest?.(model)
    if (fromRequest !== undefined) {
      await settlement.end({ exit: 'completed', usage: fromRequest, model, provider, metadata })
      // Binary bodies (speech) are not kept.
      await fill?.(null)
      return response
    }
    const tracker = call.tracker()
    const contentType = response.headers.get('content-type') ?? ''
    const sse = contentType.includes('text/event-stream')
    const metered = meterResponse(
      response,
      {
        onEvent: (event) => tracker.onEvent(event),
        onText: (text) => tracker.onText(text),
        finish: (outcome) => settleTracked(admitted, call, tracker, outcome),
      },
      sse ? 'sse' : 'text',
      signal,
    )
    if (fill === undefined) return metered
    return captureBody(metered, async (text) => {
      const outcome = settlement.outcome
      if (text === null || outcome === undefined || outcome.status !== 'success') return fill(null)
      const served = outcome.record?.modelServed
      await fill({
        value: { body: text, contentType },
        stream: false,
        cost: outcome.exact.cost,
        storedAt: Date.now(),
        ...(typeof served === 'string' ? { model: served } : { model }),
      })
    })
  }
}
