/**
 * What every SDK integration shares: context resolution, the once-only settlement of a reservation, an SSE
 * parser, metered response bodies that commit exactly once (on end, error, `break`/cancel or abort), and a
 * budgeted `fetch` that admits each HTTP attempt separately (so SDK retries are each admitted and only billed
 * attempts are charged).
 *
 * Imports nothing from `node:`: runs on edge runtimes.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { estimateCost, type EstimateMessage } from '../cost/index.js'
import { InvalidInputError, isBudgetError } from '../errors.js'

/** The call context: who a call counts against (SPEC 4.1). */
export interface BudgetCallContext {
  user?: string
  team?: string
  org?: string
  key?: string
  endUser?: string
  tags?: string[]
  [field: string]: unknown
}

/** What the budget manager needs to estimate a call's worst-case cost. */
export interface EstimateRequest {
  model: string
  provider?: string
  inputTokens?: number
  messages?: unknown
  maxOutputTokens?: number
}

/** What a reservation is committed with (SPEC 5.5). */
export interface CommitInput {
  cost?: number
  usage?: unknown
  model?: string
  provider?: string
  status?: 'success' | 'failure' | 'aborted' | 'estimated' | 'cache_hit'
  estimated?: boolean
  metadata?: Record<string, string | number | boolean | null>
}

/** The reservation handle returned by `manager.reserve()`. Commit and release are idempotent. */
export interface ReservationLike {
  readonly callId: string
  readonly estimateUsd: number
  /** The model to call: the requested one, or a budget's `fallbackModel` that replaced it. */
  readonly model?: string | undefined
  commit(input: number | CommitInput): Promise<unknown>
  release(): Promise<unknown>
}

/**
 * The part of `BudgetManager` the integrations use. A structural type, so a `BudgetManager` from another copy
 * of the package works too.
 */
export interface BudgetManagerLike {
  reserve(context: any, estimate: number | EstimateRequest): Promise<ReservationLike>
}

/** A context, or a function of the request that returns one. */
export type ContextOption<TRequest> =
  | BudgetCallContext
  | ((request: TRequest) => BudgetCallContext | Promise<BudgetCallContext>)

/** A USD estimate, an estimate request, or a function of the request that returns either. */
export type EstimateOption<TRequest> =
  | number
  | EstimateRequest
  | ((request: TRequest, defaults: EstimateRequest) => number | EstimateRequest | Promise<number | EstimateRequest>)

/** Options every integration takes. */
export interface BudgetIntegrationOptions<TRequest> {
  /** The budget manager that admits and records calls. */
  manager: BudgetManagerLike
  /** Who the call counts against: a context object or a function of the request. */
  context: ContextOption<TRequest>
  /**
   * The worst-case estimate to reserve. Default: from the request's model, input and output cap
   * (`max_tokens`, `max_completion_tokens`, `max_output_tokens`, `maxOutputTokens`).
   */
  estimate?: EstimateOption<TRequest>
  /**
   * Called when recording a call's cost fails after the call ran (for example the served model has no price).
   * The hold is then committed at its estimate, flagged `estimated: true`; it is never leaked.
   */
  onRecordError?: (error: unknown, info: { callId: string; model: string | undefined }) => void
}

/** Resolve the context option for one request. */
export async function resolveContext<TRequest>(context: ContextOption<TRequest>, request: TRequest): Promise<BudgetCallContext> {
  return typeof context === 'function' ? await context(request) : context
}

/** Resolve the estimate option for one request. */
export async function resolveEstimate<TRequest>(
  estimate: EstimateOption<TRequest> | undefined,
  request: TRequest,
  defaults: EstimateRequest,
): Promise<number | EstimateRequest> {
  if (estimate === undefined) return defaults
  if (typeof estimate === 'function') return await estimate(request, defaults)
  return estimate
}

/** The ways a call or stream can end. */
export type Outcome = { kind: 'end' } | { kind: 'cancel' } | { kind: 'abort' } | { kind: 'error'; error: unknown }

/**
 * Commits or releases a reservation exactly once. Whatever happens first wins; later calls get the same
 * promise. If the commit itself fails (e.g. the served model has no price), the hold is committed at its
 * estimate, flagged `estimated: true`, and the error goes to `onRecordError`.
 */
export class Settlement {
  private done: Promise<void> | undefined

  constructor(
    readonly reservation: ReservationLike,
    private readonly onRecordError?: BudgetIntegrationOptions<unknown>['onRecordError'],
  ) {}

  /** True once commit or release has started. */
  get settled(): boolean {
    return this.done !== undefined
  }

  /** Commit once. */
  commit(input: CommitInput): Promise<void> {
    this.done ??= this.reservation.commit(input).then(
      () => undefined,
      async (error: unknown) => {
        this.onRecordError?.(error, { callId: this.reservation.callId, model: input.model })
        await this.reservation.commit({
          cost: this.reservation.estimateUsd,
          estimated: true,
          status: 'estimated',
          ...(input.model !== undefined ? { model: input.model } : {}),
          ...(input.provider !== undefined ? { provider: input.provider } : {}),
          metadata: { ...input.metadata, recordError: error instanceof Error ? error.message : String(error) },
        })
      },
    )
    return this.done
  }

  /** Release once (the call was not billed). */
  release(): Promise<void> {
    this.done ??= this.reservation.release().then(() => undefined)
    return this.done
  }
}

/** One server-sent event. */
export interface SseEvent {
  event: string | undefined
  data: string
}

/** Parse one SSE block (the lines between blank lines). */
export function parseSseBlock(block: string): SseEvent | null {
  let event: string | undefined
  const data: string[] = []
  for (const line of block.split(/\r\n|\r|\n/)) {
    if (line === '' || line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') event = value
    else if (field === 'data') data.push(value)
  }
  if (data.length === 0 && event === undefined) return null
  return { event, data: data.join('\n') }
}

/** Observes a metered body. */
export interface BodyObserver {
  /** For SSE bodies: each event; return `false` to drop it from what the SDK sees. */
  onEvent?(event: SseEvent): boolean | void
  /** For other bodies: the whole text at the end. */
  onText?(text: string): void
  /** Called exactly once when the body ends, errors, is cancelled or aborted. Awaited before the SDK sees the end. */
  finish(outcome: Outcome): Promise<void>
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/

/**
 * Wrap a response so that its body is observed as it is read and `finish` runs exactly once: when the body
 * ends (before the reader sees the end), errors, is cancelled (a `break` out of the SDK's stream) or the
 * request's signal aborts.
 */
export function meterResponse(response: Response, observer: BodyObserver, mode: 'sse' | 'text', signal?: AbortSignal | null): Response {
  const upstream = response.body
  let finished: Promise<void> | undefined
  const finish = (outcome: Outcome): Promise<void> => (finished ??= observer.finish(outcome).catch(() => undefined))
  if (upstream === null) {
    void finish({ kind: 'end' })
    return response
  }
  const reader = upstream.getReader()
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''
  const onAbort = () => {
    void finish({ kind: 'abort' })
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  const cleanup = () => signal?.removeEventListener('abort', onAbort)

  const drain = (controller: ReadableStreamDefaultController<Uint8Array>, final: boolean) => {
    for (;;) {
      const match = BOUNDARY.exec(buffer)
      if (match === null) break
      const block = buffer.slice(0, match.index)
      buffer = buffer.slice(match.index + match[0].length)
      const event = parseSseBlock(block)
      const keep = event === null ? true : observer.onEvent?.(event) !== false
      if (keep) controller.enqueue(encoder.encode(`${block}\n\n`))
    }
    if (final && buffer.length > 0) {
      const event = parseSseBlock(buffer)
      const keep = event === null ? true : observer.onEvent?.(event) !== false
      if (keep) controller.enqueue(encoder.encode(buffer))
      buffer = ''
    }
  }

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>
      try {
        result = await reader.read()
      } catch (error) {
        cleanup()
        await finish(signal?.aborted ? { kind: 'abort' } : { kind: 'error', error })
        controller.error(error)
        return
      }
      if (result.done) {
        if (mode === 'sse') {
          buffer += decoder.decode()
          drain(controller, true)
        } else {
          buffer += decoder.decode()
          observer.onText?.(buffer)
        }
        cleanup()
        await finish({ kind: 'end' })
        controller.close()
        return
      }
      if (mode === 'sse') {
        buffer += decoder.decode(result.value, { stream: true })
        drain(controller, false)
      } else {
        buffer += decoder.decode(result.value, { stream: true })
        controller.enqueue(result.value)
      }
    },
    async cancel(reason) {
      cleanup()
      await finish({ kind: 'cancel' })
      await reader.cancel(reason).catch(() => undefined)
    },
  })
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

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
export function parseContextHeader(value: string | null): BudgetCallContext | undefined {
  if (value === null) return undefined
  let json: unknown
  try {
    json = JSON.parse(value)
  } catch (error) {
    throw new InvalidInputError(CONTEXT_HEADER, `\`${CONTEXT_HEADER}\` must be JSON of a context object, e.g. {"user":"alice"}`, { cause: error })
  }
  const parsed = contextHeaderSchema.safeParse(json)
  if (!parsed.success) throw new InvalidInputError(CONTEXT_HEADER, `\`${CONTEXT_HEADER}\` is not a valid context: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`)
  const out: BudgetCallContext = {}
  for (const [k, v] of Object.entries(parsed.data)) if (v !== undefined) out[k] = v
  return out
}

/** Tracks what a streamed or JSON body says about usage. */
export interface UsageTracker {
  /** SSE: observe one parsed event. Return `false` to hide it from the SDK. */
  onEvent(event: SseEvent): boolean
  /** JSON / text: observe the whole body. */
  onText(text: string): void
  /** The final usage and model, when the provider sent it. */
  final(): { usage: unknown; model?: string } | undefined
  /** What is known when the body ended early: partial provider usage, served model, output tokens seen. */
  partial(): { usage?: unknown; model?: string; outputTokensSeen: number }
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

type FetchLike = (input: string | URL | Request, init?: RequestInit) => Promise<Response>

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

  /** The original error for an SDK error raised from a refusal response, or the error itself. */
  map(error: unknown): unknown {
    const headers = (error as { headers?: unknown } | null)?.headers
    let id: string | null | undefined
    if (headers instanceof Headers) id = headers.get(REFUSAL_HEADER)
    else if (headers !== null && typeof headers === 'object') id = (headers as Record<string, string | undefined>)[REFUSAL_HEADER]
    if (id === null || id === undefined) return error
    const original = this.errors.get(id)
    if (original === undefined) return error
    this.errors.delete(id)
    return original
  }
}

function isAbortLike(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError'
}

/** Rough output tokens from streamed text: one per chunk or four characters, whichever is more. */
export function outputTokensFromText(characters: number, chunks: number): number {
  return Math.max(chunks, Math.ceil(characters / 4))
}

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
  return async (input, init) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase()
    const path = new URL(url).pathname
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : undefined))
    const headerContext = headers.get(CONTEXT_HEADER)
    headers.delete(CONTEXT_HEADER)
    const call = adapter.describe(path, method, init?.body)
    if (call === null) return baseFetch(input, { ...init, headers })

    let settlement: Settlement
    let model = call.model
    try {
      const request: WireRequest = { endpoint: call.endpoint, model: call.model, params: call.params, headers }
      const context = { ...(await resolveContext(options.context, request)), ...parseContextHeader(headerContext) }
      if (context['provider'] === undefined) context['provider'] = adapter.provider
      const defaults = { ...call.estimate(call.model), provider: adapter.provider }
      const reservation = await options.manager.reserve(context, await resolveEstimate(options.estimate, request, defaults))
      // A budget's `onExceeded: { fallbackModel }` may have admitted a cheaper model instead: send that one.
      if (typeof reservation.model === 'string' && reservation.model.length > 0) model = reservation.model
      settlement = new Settlement(reservation, options.onRecordError)
    } catch (error) {
      const id = refusals.add(error)
      const message = error instanceof Error ? error.message : String(error)
      const code = isBudgetError(error) ? error.code : 'LLM_BUDGET_ERROR'
      return new Response(JSON.stringify(adapter.refusalBody(`llm-budget refused the call: ${message}`, code)), {
        status: 402,
        headers: { 'content-type': 'application/json', 'x-should-retry': 'false', [REFUSAL_HEADER]: id },
      })
    }

    const metadata: Record<string, string | number | boolean | null> = { endpoint: call.endpoint }
    if (model !== call.model) metadata['requestedModel'] = call.model
    const signal = init?.signal ?? null
    let response: Response
    try {
      const body = call.body(model)
      response = await baseFetch(input, { ...init, headers, ...(body !== undefined ? { body } : {}) })
    } catch (error) {
      // No response: nothing was billed that we can know of (connection refused, DNS, aborted before headers).
      await settlement.release()
      throw error
    }
    if (!response.ok) {
      // 4xx/5xx before any token: not billed. The SDK may retry; the retry is admitted again.
      await settlement.release()
      return response
    }
    const fromRequest = call.usageFromRequest?.(model)
    if (fromRequest !== undefined) {
      await settlement.commit({ usage: fromRequest, model, provider: adapter.provider, status: 'success', metadata })
      return response
    }
    const tracker = call.tracker()
    const contentType = response.headers.get('content-type') ?? ''
    const sse = contentType.includes('text/event-stream')
    return meterResponse(
      response,
      {
        onEvent: (event) => tracker.onEvent(event),
        onText: (text) => tracker.onText(text),
        finish: async (outcome) => {
          const final = tracker.final()
          if (final !== undefined) {
            const complete = outcome.kind === 'end'
            await settlement.commit({
              usage: final.usage,
              model: final.model ?? model,
              provider: adapter.provider,
              status: complete ? 'success' : 'aborted',
              metadata: complete ? metadata : { ...metadata, ended: outcome.kind },
            })
            return
          }
          const partial = tracker.partial()
          const aborted = outcome.kind === 'abort' || (outcome.kind === 'error' && isAbortLike(outcome.error))
          await settlement.commit(
            incompleteCommit(settlement.reservation, {
              model: partial.model ?? model,
              provider: adapter.provider,
              estimate: call.estimate(partial.model ?? model),
              partialUsage: partial.usage,
              outputTokensSeen: partial.outputTokensSeen,
              status: outcome.kind === 'end' ? 'estimated' : aborted || outcome.kind === 'cancel' ? 'aborted' : 'failure',
              metadata: { ...metadata, ended: outcome.kind },
            }),
          )
        },
      },
      sse ? 'sse' : 'text',
      signal,
    )
  }
}

/** Hook so the cost module can price partial streams; set by each integration entry. */
export interface IncompleteInput {
  model: string
  provider: string
  estimate: EstimateRequest
  partialUsage: unknown
  outputTokensSeen: number
  status: 'aborted' | 'failure' | 'estimated'
  metadata: Record<string, string | number | boolean | null>
}

/**
 * What to commit for a call whose final usage never arrived: the provider's partial usage with the output
 * seen so far, or the request's estimate with the output seen so far; always flagged `estimated: true`.
 */
export function incompleteCommit(reservation: ReservationLike, input: IncompleteInput): CommitInput {
  if (input.partialUsage !== undefined) {
    return {
      usage: input.partialUsage,
      model: input.model,
      provider: input.provider,
      status: input.status,
      estimated: true,
      metadata: { ...input.metadata, outputTokensSeen: input.outputTokensSeen },
    }
  }
  const cost = estimateUsd({ ...input.estimate, model: input.model, maxOutputTokens: input.outputTokensSeen })
  return {
    cost: cost ?? reservation.estimateUsd,
    model: input.model,
    provider: input.provider,
    status: input.status,
    estimated: true,
    metadata: { ...input.metadata, outputTokensSeen: input.outputTokensSeen, ...(cost === undefined ? { chargedAt: 'reservation' } : {}) },
  }
}

function estimateUsd(request: EstimateRequest): number | undefined {
  try {
    const messages = request.messages
    return estimateCost({
      model: request.model,
      ...(request.provider !== undefined ? { provider: request.provider } : {}),
      ...(request.inputTokens !== undefined ? { inputTokens: request.inputTokens } : {}),
      ...(messages !== undefined && request.inputTokens === undefined ? { messages: messages as readonly EstimateMessage[] | string } : {}),
      maxOutputTokens: request.maxOutputTokens ?? 0,
    }).totalCost
  } catch {
    return undefined
  }
}

/**
 * Install the refusal mapping on a Stainless-generated SDK client (openai, @anthropic-ai/sdk): errors raised
 * from a refusal response become the original budget error again. Also applies to clients derived with
 * `withOptions()`.
 */
export function installRefusalMapping<T extends object>(client: T, refusals: RefusalRegistry): T {
  const target = client as unknown as {
    makeRequest?: (...args: unknown[]) => Promise<unknown>
    withOptions?: (...args: unknown[]) => object
  }
  const makeRequest = target.makeRequest
  if (typeof makeRequest === 'function') {
    target.makeRequest = function (this: unknown, ...args: unknown[]) {
      return makeRequest.apply(this, args).catch((error: unknown) => {
        throw refusals.map(error)
      })
    }
  }
  const withOptions = target.withOptions
  if (typeof withOptions === 'function') {
    target.withOptions = function (this: unknown, ...args: unknown[]) {
      return installRefusalMapping(withOptions.apply(this, args), refusals)
    }
  }
  return client
}

/**
 * A budgeted clone of a Stainless-generated SDK client (openai, @anthropic-ai/sdk): `client.withOptions({ fetch })`
 * with the budgeted fetch for `adapter`, and the refusal mapping installed. The original client is untouched.
 */
export function budgetClient<T extends { withOptions(options: { fetch: FetchLike }): unknown }>(
  client: T,
  adapter: WireAdapter,
  options: BudgetIntegrationOptions<WireRequest>,
): T {
  const refusals = new RefusalRegistry()
  const baseFetch = (client as unknown as { fetch?: FetchLike }).fetch ?? globalThis.fetch
  const budgetFetch = createBudgetFetch(adapter, options, (input, init) => baseFetch.call(undefined, input, init), refusals)
  return installRefusalMapping(client.withOptions({ fetch: budgetFetch }) as T, refusals)
}

/** Total characters of the text in a message list or prompt (for estimates when no tokenizer applies). */
export function textLength(value: unknown, depth = 0): number {
  if (depth > 8) return 0
  if (typeof value === 'string') return value.length
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + textLength(item, depth + 1), 0)
  if (value !== null && typeof value === 'object') {
    let sum = 0
    for (const [k, v] of Object.entries(value)) {
      if (k === 'image_url' || k === 'source' || k === 'data' || k === 'file_data') continue
      sum += textLength(v, depth + 1)
    }
    return sum
  }
  return 0
}

/** @internal Validate the options every integration takes, when they are given. */
export function validateOptions(options: BudgetIntegrationOptions<never>, where: string): void {
  if (options === null || typeof options !== 'object') throw new InvalidInputError('options', `${where}: \`options\` must be an object with \`manager\` and \`context\``)
  if (options.manager === null || typeof options.manager !== 'object' || typeof options.manager.reserve !== 'function') {
    throw new InvalidInputError('manager', `${where}: \`manager\` must be a BudgetManager (an object with reserve()), got ${String(options.manager)}`)
  }
  const context = options.context as unknown
  if (context === null || (typeof context !== 'object' && typeof context !== 'function')) {
    throw new InvalidInputError('context', `${where}: \`context\` must be a context object (e.g. { user: 'alice' }) or a function of the request, got ${String(context)}`)
  }
  const estimate = options.estimate as unknown
  if (estimate !== undefined && typeof estimate !== 'function' && typeof estimate !== 'object' && !(typeof estimate === 'number' && Number.isFinite(estimate) && estimate >= 0)) {
    throw new InvalidInputError('estimate', `${where}: \`estimate\` must be a USD number >= 0, an estimate request or a function, got ${String(estimate)}`)
  }
}

/** A JSON object as parsed from a wire body. */
export type Json = Record<string, unknown>

/** The value as a plain object, or `undefined` for anything else (arrays, null, primitives). */
export function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined
}

/** `JSON.parse`, or `undefined` for text that is not JSON. */
export function safeParse(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}
