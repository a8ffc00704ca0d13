/**
 * `llm-budget/langchain`: a LangChain callback handler that admits and records chat model and LLM calls.
 *
 * `handleChatModelStart` / `handleLLMStart` reserve (and throw `BudgetExceededError` before the request is sent:
 * the handler sets `raiseError` and `awaitHandlers`), `handleLLMEnd` commits the usage LangChain reports
 * (`usage_metadata`, else `llmOutput.tokenUsage`) at the model the response names, and `handleLLMError`
 * releases the hold, or commits the output seen so far (flagged `estimated: true`) when tokens had streamed.
 * The call's `signal` (from the run's call options) settles the run when it aborts: LangChain fires no callback
 * for an aborted `stream()`. A `break` out of `model.stream()` fires none either; {@link BudgetCallbackHandler.stream}
 * streams through a signal of its own that it aborts on `break`, so that run is settled too (ADR 0073).
 *
 * The handler is duck-typed (LangChain accepts any object with the handler fields), so `@langchain/core` is
 * not imported at run time.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import type { EstimateRequest } from '../budget/pricing.js'
import type { CallContext } from '../budget/scopes.js'
import { type CallExit, Settlement, tokensFromText } from '../budget/settlement.js'
import { BudgetConfigError, InvalidInputError } from '../errors.js'
import { asObject, type Json } from './json.js'
import {
  INTEGRATION_OPTIONS,
  resolveContext,
  resolveEstimate,
  validateOptions,
  type BudgetIntegrationOptions,
  type ContextOption,
} from './options.js'
import { claimRun, endClaim, refuseBudgetedLangChainModel, refusedRun, type RunClaim } from './single-layer.js'

export type { BudgetManagerLike, CallContext } from './options.js'

/** What the `context` and `estimate` functions of {@link BudgetCallbackHandler} receive. */
export interface LangChainRequest {
  /** The run id LangChain gave the call. */
  runId: string
  /** Requested model (`invocation_params.model`, else `metadata.ls_model_name`). */
  model: string
  /** Provider (`metadata.ls_provider`), e.g. `openai`, `anthropic`. */
  provider: string | undefined
  /** Invocation params of the model (max_tokens, temperature, ...). */
  invocationParams: Record<string, unknown>
  /** Tags of the run. */
  tags: string[]
  /** Metadata of the run (put per-call context here, e.g. `{ user: 'alice' }`). */
  metadata: Record<string, unknown>
}

/** Options of {@link BudgetCallbackHandler}. */
export interface BudgetCallbackHandlerOptions extends Omit<
  BudgetIntegrationOptions<LangChainRequest>,
  'context' | 'deployments' | 'strategy' | 'cache' | 'cacheKey'
> {
  /**
   * Who a run counts against: a context object or a function of the {@link LangChainRequest}. Default: the run's
   * metadata fields `user`, `team`, `org`, `key`, `endUser` and `tags` (strings), e.g.
   * `model.invoke(input, { metadata: { user: 'alice' } })`; a run without them counts only against `global` and
   * its model and provider.
   */
  context?: ContextOption<LangChainRequest> | undefined
  /** Provider name for pricing when the run does not say (`ls_provider`). */
  provider?: string
}

/** A callback handler observes calls: it can neither change the model called nor answer from a cache. */
const notHere = z
  .custom<never>((value) => value === undefined, {
    message:
      'is not supported by the LangChain callback handler (it observes calls; it cannot change the model or answer from a cache): route or cache with withBudget or an SDK integration',
  })
  .optional()

const HANDLER_OPTIONS = z.object({
  ...INTEGRATION_OPTIONS,
  context: INTEGRATION_OPTIONS.context.optional(),
  provider: z.string().min(1).optional(),
  deployments: notHere,
  strategy: notHere,
  cache: notHere,
  cacheKey: notHere,
})

const CONTEXT_FIELDS = ['user', 'team', 'org', 'key', 'endUser'] as const

/** The default context: the scope fields of the run's metadata that are strings. */
function contextFromMetadata(request: LangChainRequest): CallContext {
  const context: CallContext = {}
  for (const field of CONTEXT_FIELDS) {
    const value = request.metadata[field]
    if (typeof value === 'string' && value.length > 0) context[field] = value
  }
  const tags = request.metadata['tags']
  if (Array.isArray(tags) && tags.every((tag) => typeof tag === 'string')) context.tags = tags
  return context
}

/** Refuses a scope id that is a stringified missing value (`String(run.metadata.user)` of a run without one). */
function checkContext(context: CallContext): CallContext {
  for (const field of CONTEXT_FIELDS) {
    const value = context[field]
    if (value === 'undefined' || value === 'null') {
      throw new InvalidInputError(
        `context.${field}`,
        `BudgetCallbackHandler: the context names ${field} "${value}", which is a missing value turned into a string; pass it in the run's metadata (model.invoke(input, { metadata: { ${field}: 'alice' } })) or omit \`context\` to read the run's metadata`,
      )
    }
  }
  return context
}

interface Run {
  settlement: Settlement
  model: string
  provider: string | undefined
  estimate: EstimateRequest
  characters: number
  tokens: number
  /** Removes the abort listener from the call's signal. */
  detach: () => void
}

/** The part of a LangChain runnable {@link BudgetCallbackHandler.stream} uses. */
export interface StreamableRunnable<TInput, TChunk> {
  // LangChain's RunnableConfig: typed loosely so any runnable (its options are invariant) fits.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  stream(input: TInput, options?: any): Promise<AsyncIterable<TChunk>>
}

/** A stream returned by {@link BudgetCallbackHandler.stream}: iterate it; `break` settles the call. */
export interface BudgetedStream<TChunk> extends AsyncIterableIterator<TChunk> {
  /** Stop the stream: aborts the request and settles its runs (what `break` does). */
  cancel(reason?: unknown): Promise<void>
}

function abortError(reason: unknown): Error {
  if (reason instanceof Error) return reason
  const error = new Error(typeof reason === 'string' ? reason : 'The stream was closed by its consumer')
  error.name = 'AbortError'
  return error
}

/** The usage object when it reports any token count above zero (some clients fill zeros when the provider sent none). */
function reported(usage: Json | undefined, ...fields: string[]): Json | undefined {
  if (usage === undefined) return undefined
  return fields.some((field) => typeof usage[field] === 'number' && usage[field] > 0) ? usage : undefined
}

/** Characters of text in LangChain generations (`text`, else the message content). */
function textOf(generations: unknown[][] | undefined): number {
  let characters = 0
  for (const generation of (generations ?? []).flat()) {
    const text = asObject(generation)?.['text']
    if (typeof text === 'string') characters += text.length
  }
  return characters
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

/** LangChain's `ls_provider` names, mapped to the catalog's provider names. */
function catalogProvider(provider: string | undefined): string | undefined {
  if (provider === undefined) return undefined
  if (provider === 'google_genai') return 'gemini'
  if (provider === 'google_vertexai') return 'vertex_ai'
  if (provider === 'azure_openai') return 'azure'
  return provider
}

/**
 * A LangChain callback handler that admits every chat model / LLM call against the budget and records its cost.
 * Pass it in `callbacks` of the model or of one call. One handler can serve many concurrent runs.
 *
 * @example
 * ```ts
 * const handler = new BudgetCallbackHandler({ manager }) // context from the run's metadata: user, team, org, key, endUser, tags
 * const model = new ChatOpenAI({ model: 'gpt-4o-mini', callbacks: [handler] })
 * await model.invoke('Hello', { metadata: { user: 'alice' } })
 * ```
 */
export class BudgetCallbackHandler {
  /** Handler name (LangChain uses it to recognise handler objects). */
  readonly name = 'llm-budget'
  /** Errors (a refused call) propagate to the caller. */
  readonly raiseError = true
  /** LangChain waits for the reservation before it sends the request. */
  readonly awaitHandlers = true
  readonly ignoreLLM = false
  readonly ignoreChain = true
  readonly ignoreAgent = true
  readonly ignoreRetriever = true
  readonly ignoreCustomEvent = true
  readonly lc_serializable = false

  private readonly options: BudgetCallbackHandlerOptions
  private readonly runs = new Map<string, Run>()

  constructor(options: BudgetCallbackHandlerOptions) {
    validateOptions('new BudgetCallbackHandler(options)', HANDLER_OPTIONS, options)
    this.options = options
  }

  /** LangChain copies handlers when it builds child managers; runs are keyed by id, so one instance serves all. */
  copy(): this {
    return this
  }

  /** Number of calls admitted and not yet committed or released. */
  get inFlight(): number {
    return this.runs.size
  }

  /** Reserve for a chat model call. */
  async handleChatModelStart(
    llm: unknown,
    messages: unknown[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    refuseBudgetedLangChainModel(llm)
    const flat = (messages[0] ?? []).map((m) => ({
      content: asObject(m)?.['content'] ?? asObject(asObject(m)?.['kwargs'])?.['content'] ?? '',
    }))
    await this.start(runId, flat, extraParams, tags, metadata)
  }

  /** Reserve for a text-completion LLM call. */
  async handleLLMStart(
    llm: unknown,
    prompts: string[],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    refuseBudgetedLangChainModel(llm)
    await this.start(
      runId,
      prompts.map((content) => ({ content })),
      extraParams,
      tags,
      metadata,
    )
  }

  /** Count streamed output, for the estimate if the stream fails. */
  handleLLMNewToken(token: string, _idx: unknown, runId: string): void {
    const run = this.runs.get(runId)
    if (run === undefined) return
    run.characters += token.length
    run.tokens++
  }

  /** Commit the usage LangChain reports, at the model the response names. */
  async handleLLMEnd(
    output: { generations?: unknown[][]; llmOutput?: Record<string, unknown> | null },
    runId: string,
  ): Promise<void> {
    const run = this.take(runId)
    if (run === undefined) return
    let message: Json | undefined
    for (const generation of (output.generations ?? []).flat()) {
      const candidate = asObject(asObject(generation)?.['message'])
      if (candidate !== undefined && asObject(candidate['usage_metadata']) !== undefined) {
        message = candidate
        break
      }
      message ??= candidate
    }
    const responseMetadata = asObject(message?.['response_metadata'])
    const served =
      str(responseMetadata?.['model_name']) ??
      str(responseMetadata?.['model']) ??
      str(asObject(message?.['additional_kwargs'])?.['model']) ??
      str(output.llmOutput?.['model_name']) ??
      run.model
    const usageMetadata = reported(asObject(message?.['usage_metadata']), 'input_tokens', 'output_tokens')
    const tokenUsage = reported(
      asObject(output.llmOutput?.['tokenUsage']) ?? asObject(output.llmOutput?.['usage']),
      'promptTokens',
      'completionTokens',
      'prompt_tokens',
      'completion_tokens',
    )
    const provider = run.provider ?? this.options.provider
    let usage: unknown
    let partialUsage: unknown
    // Without usage: the output returned (streamed tokens, else the generations' text) is what the estimate counts.
    const returned = run.characters > 0 ? run.characters : textOf(output.generations)
    const seen = tokensFromText({ characters: returned, pieces: run.tokens })
    const reportedOutput = num(usageMetadata?.['output_tokens']) ?? 0
    if (usageMetadata !== undefined && reportedOutput <= 1 && seen > 1) {
      // Only the input side arrived (a stream whose final usage never came): an estimate with the output seen.
      partialUsage = {
        usage_metadata: {
          ...usageMetadata,
          output_tokens: seen,
          total_tokens: (num(usageMetadata['input_tokens']) ?? 0) + seen,
        },
        response_metadata: { model_name: served },
      }
    } else if (usageMetadata !== undefined)
      usage = { usage_metadata: usageMetadata, response_metadata: { model_name: served } }
    else if (tokenUsage !== undefined) {
      usage = {
        model: served,
        usage: {
          prompt_tokens: num(tokenUsage['promptTokens'] ?? tokenUsage['prompt_tokens']) ?? 0,
          completion_tokens: num(tokenUsage['completionTokens'] ?? tokenUsage['completion_tokens']) ?? 0,
        },
      }
    }
    await run.settlement.end({
      exit: 'completed',
      usage,
      partialUsage,
      model: served,
      provider,
      request: run.estimate,
      output: { characters: returned, pieces: Math.max(run.tokens, returned > 0 ? 1 : 0) },
      metadata: { endpoint: 'langchain' },
    })
  }

  /** Release the hold, or commit the output seen so far when tokens had streamed before the error. */
  async handleLLMError(error: unknown, runId: string): Promise<void> {
    const run = this.take(runId)
    if (run === undefined) return
    const aborted =
      asObject(error)?.['name'] === 'AbortError' || /abort/i.test(String(asObject(error)?.['message'] ?? ''))
    await this.interrupted(run, aborted ? 'aborted' : 'failed')
  }

  /**
   * Stream a runnable (a chat model, or a chain that calls one) so that leaving the loop early settles the call.
   *
   * LangChain fires neither `handleLLMEnd` nor `handleLLMError` when a consumer `break`s out of
   * `for await (const chunk of await model.stream(input))`, so the hold would stay until the manager's hold TTL.
   * This helper calls `runnable.stream(input, options)` with a signal of its own (linked to `options.signal`) and
   * aborts it when the loop ends early (`break`, `return`, a thrown error) or {@link BudgetedStream.cancel} is called:
   * the request is aborted and every run of this handler under that call is committed at the output seen so far
   * (flagged `estimated: true`, status `aborted`), or released when no token had arrived. A stream read to its end
   * is committed from the usage LangChain reports, as with `model.stream()`.
   *
   * @example
   * ```ts
   * for await (const chunk of await handler.stream(model, 'Count to 100.', { metadata: { user: 'alice' } })) {
   *   if (String(chunk.content).includes('10')) break // charged once, hold released
   * }
   * ```
   */
  async stream<TInput, TChunk>(
    runnable: StreamableRunnable<TInput, TChunk>,
    input: TInput,
    options: Record<string, unknown> = {},
  ): Promise<BudgetedStream<TChunk>> {
    const controller = new AbortController()
    const outer = options['signal']
    const onOuterAbort = () => controller.abort((outer as AbortSignal).reason)
    if (outer instanceof AbortSignal) {
      if (outer.aborted) controller.abort(outer.reason)
      else outer.addEventListener('abort', onOuterAbort, { once: true })
    }
    const unlink = () => {
      if (outer instanceof AbortSignal) outer.removeEventListener('abort', onOuterAbort)
    }
    let iterator: AsyncIterator<TChunk>
    try {
      iterator = (await runnable.stream(input, { ...options, signal: controller.signal }))[Symbol.asyncIterator]()
    } catch (error) {
      unlink()
      throw error
    }
    let closed = false
    const close = async (reason: unknown): Promise<void> => {
      if (closed) return
      closed = true
      unlink()
      // Abort first: the request stops and the runs under this signal settle (their abort listeners) without waiting
      // for the next chunk; then let LangChain unwind its generators.
      if (!controller.signal.aborted) controller.abort(abortError(reason))
      await iterator.return?.().catch(() => undefined)
    }
    const stream: BudgetedStream<TChunk> = {
      async next() {
        if (closed) return { done: true, value: undefined }
        try {
          const next = await iterator.next()
          if (next.done === true) {
            closed = true
            unlink()
          }
          return next
        } catch (error) {
          await close(error)
          throw error
        }
      },
      async return(value?: unknown) {
        await close(undefined)
        return { done: true, value: value as TChunk }
      },
      async throw(error?: unknown) {
        await close(error)
        throw error
      },
      cancel: (reason?: unknown) => close(reason),
      [Symbol.asyncIterator]() {
        return stream
      },
    }
    return stream
  }

  /** Remove a run from the open runs (and its abort listener). */
  private take(runId: string): Run | undefined {
    const run = this.runs.get(runId)
    if (run === undefined) return undefined
    this.runs.delete(runId)
    endClaim(runId)
    run.detach()
    return run
  }

  /** A run that ended without usage: release when no token had arrived, else commit the output seen so far. */
  private async interrupted(run: Run, exit: CallExit): Promise<void> {
    if (run.tokens === 0) {
      await run.settlement.release()
      return
    }
    await run.settlement.end({
      exit,
      model: run.model,
      provider: run.provider ?? this.options.provider,
      request: run.estimate,
      output: { characters: run.characters, pieces: run.tokens },
      metadata: { endpoint: 'langchain' },
    })
  }

  private async start(
    runId: string,
    messages: { content: unknown }[],
    extraParams: Record<string, unknown> | undefined,
    tags: string[] | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    // First, before any await: a run another budget handler is on is refused for both (ADR 0078).
    const claim = await claimRun(runId)
    try {
      await this.admit(claim, runId, messages, extraParams, tags, metadata)
    } catch (error) {
      if (!this.runs.has(runId)) endClaim(runId, claim)
      throw error
    }
  }

  private async admit(
    claim: RunClaim,
    runId: string,
    messages: { content: unknown }[],
    extraParams: Record<string, unknown> | undefined,
    tags: string[] | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    const invocationParams = asObject(extraParams?.['invocation_params']) ?? {}
    const meta = metadata ?? {}
    const model =
      str(invocationParams['model']) ??
      str(invocationParams['model_name']) ??
      str(invocationParams['modelName']) ??
      str(meta['ls_model_name']) ??
      'unknown'
    const provider = catalogProvider(str(meta['ls_provider'])) ?? this.options.provider
    const maxOutput =
      num(invocationParams['max_completion_tokens']) ??
      num(invocationParams['max_tokens']) ??
      num(invocationParams['maxOutputTokens']) ??
      num(meta['ls_max_tokens'])
    const request: LangChainRequest = { runId, model, provider, invocationParams, tags: tags ?? [], metadata: meta }
    const context: CallContext = {
      ...checkContext(
        this.options.context === undefined
          ? contextFromMetadata(request)
          : await resolveContext(this.options.context, request),
      ),
    }
    if (context.provider === undefined && provider !== undefined) context.provider = provider
    const estimate: EstimateRequest = {
      model,
      ...(provider !== undefined ? { provider } : {}),
      messages: messages as EstimateRequest['messages'],
      ...(maxOutput !== undefined ? { maxOutputTokens: maxOutput } : {}),
    }
    const resolved = await resolveEstimate(this.options.estimate, request, estimate)
    const reservation = await this.options.manager.reserve(context, resolved)
    if (typeof resolved === 'object' && typeof reservation.model === 'string' && reservation.model !== resolved.model) {
      // A budget's `onExceeded: { fallbackModel }` admitted another model. A callback cannot change the model
      // LangChain is about to call, and running the requested one on the fallback's (smaller) hold would overshoot
      // the budget that refused it: release and refuse instead (ADR 0073).
      await reservation.release()
      throw new BudgetConfigError(
        'onExceeded',
        `BudgetCallbackHandler: a budget refused ${resolved.model} and admitted its fallbackModel ${reservation.model}, but a LangChain callback cannot switch the model; use onExceeded: 'block' and choose the model in your chain (e.g. model.withFallbacks()), or budget the provider client with withOpenAIBudget / withAnthropicBudget`,
      )
    }
    if (claim.refused) {
      // Another budget handler started on this run while this one reserved: neither charges it.
      await reservation.release()
      throw refusedRun()
    }
    const run: Run = {
      settlement: new Settlement(reservation, this.options.onCommitError),
      model,
      provider,
      estimate,
      characters: 0,
      tokens: 0,
      detach: () => undefined,
    }
    this.runs.set(runId, run)
    claim.release = async () => {
      const open = this.take(runId)
      if (open !== undefined) await open.settlement.release()
    }
    // LangChain fires no callback when a stream's signal aborts (it rejects the consumer's next() and leaves its
    // generator suspended), so the handler listens to the call's signal itself.
    const signal = asObject(extraParams?.['options'])?.['signal']
    if (signal instanceof AbortSignal) {
      const onAbort = () => {
        const open = this.take(runId)
        if (open !== undefined) void this.interrupted(open, 'aborted').catch(() => undefined)
      }
      if (signal.aborted) onAbort()
      else {
        signal.addEventListener('abort', onAbort, { once: true })
        run.detach = () => signal.removeEventListener('abort', onAbort)
      }
    }
  }
}
