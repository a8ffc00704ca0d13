/**
 * `llm-budget/ai-sdk`: a language model middleware for the Vercel AI SDK (`wrapLanguageModel`).
 *
 * Every `doGenerate` / `doStream` call (what `generateText`, `streamText`, `generateObject` and `streamObject`
 * run, once per step and once per retry) is admitted against the budget first and charged from the usage the
 * provider reports, at the model id it reports (`response.modelId`, the dated snapshot). Streams are charged
 * when they finish, or at the usage seen so far (flagged `estimated: true`) when they are cancelled, aborted or
 * fail. The optional `capOutputTokens` lowers `maxOutputTokens` to what the remaining budget can pay for. A budget's
 * `onExceeded: { fallbackModel }` runs on the model `resolveModel` builds (ADR 0072).
 *
 * The `ai` package is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type { LanguageModelMiddleware } from 'ai'
import { z } from 'zod'
import type { EstimateRequest } from '../budget/pricing.js'
import type { CallContext } from '../budget/scopes.js'
import { type CallExit, Settlement, textLength } from '../budget/settlement.js'
import { estimateCost } from '../cost/index.js'
import type { Deployment } from '../budget/routing.js'
import { BudgetConfigError } from '../errors.js'
import { recordHit, replayEntry, throughCache } from '../budget/cached-call.js'
import { type CachedResponse, defaultCacheKey } from '../budget/response-cache.js'
import { admitCall } from './admission.js'
import { budgetedCall, budgetedSupportedUrls } from './single-layer.js'
import {
  checkedOptions,
  INTEGRATION_OPTIONS,
  resolveContext,
  resolveEstimate,
  validateOptions,
  type BudgetIntegrationOptions,
} from './options.js'

export type { BudgetManagerLike, CallContext } from './options.js'

type CallOptions = Parameters<NonNullable<LanguageModelMiddleware['transformParams']>>[0]['params']
type Model = Parameters<NonNullable<LanguageModelMiddleware['transformParams']>>[0]['model']

/** What the `context` and `estimate` functions of {@link budgetMiddleware} receive. */
export interface AiSdkRequest {
  /** `generate` (generateText, generateObject) or `stream` (streamText, streamObject). */
  type: 'generate' | 'stream'
  /** Provider id of the model, e.g. `openai.responses`, `anthropic.messages`. */
  provider: string
  /** Requested model id. */
  modelId: string
  /** The call options (prompt, maxOutputTokens, ...). */
  params: CallOptions
}

/** Options of {@link budgetMiddleware}. */
export interface BudgetMiddlewareOptions extends BudgetIntegrationOptions<AiSdkRequest> {
  /**
   * Lower `maxOutputTokens` to what the remaining budget can pay for after the input (default `false`).
   * Needs `manager.getStatus()`; looks at the budgets of the context's user, team, org, key, end user and tags.
   */
  capOutputTokens?: boolean
  /** Provider name for pricing. Default: the model's provider id before the dot (`openai.chat` -> `openai`). */
  provider?: string
  /**
   * Builds the model a budget's `onExceeded: { fallbackModel }` names, e.g. `(id) => openai.chat(id)`. When a
   * budget cannot admit the requested model but admits its fallback, the middleware runs the call on the model
   * this returns (the hold and the charge are at the fallback's prices). Without it, the middleware cannot
   * switch models (`doGenerate` / `doStream` are bound to the wrapped model): it releases the fallback's hold
   * and throws a `BudgetConfigError` naming this option, and nothing is sent. With `deployments`, it builds the
   * chosen deployment's model (given as `deployment`) when that is not the wrapped model.
   */
  resolveModel?: (modelId: string, requested: Model, deployment?: Deployment) => Model
}

/** The manager methods `capOutputTokens` needs. */
interface StatusReader {
  getStatus(scope: string): Promise<{ remaining: number | null; usd?: { remaining: number | null } }>
}

function providerOf(model: Model, override: string | undefined): string {
  if (override !== undefined) return override
  const id = model.provider.split('.')[0] ?? model.provider
  return id === 'google' ? 'gemini' : id === 'google-vertex' ? 'vertex_ai' : id
}

function defaultEstimate(model: Model, params: CallOptions, provider: string): EstimateRequest {
  return {
    model: model.modelId,
    provider,
    messages: params.prompt as unknown as EstimateRequest['messages'],
    ...(params.maxOutputTokens !== undefined ? { maxOutputTokens: params.maxOutputTokens } : {}),
  }
}

/**
 * True when a V3 usage object reports token counts. A provider that got no usage leaves every total undefined, or
 * (`@openrouter/ai-sdk-provider`) reports zeros without any raw usage: no call that was sent has zero input tokens.
 */
function hasUsage(usage: unknown): boolean {
  if (usage === null || typeof usage !== 'object') return false
  const { inputTokens, outputTokens, raw } = usage as { inputTokens?: unknown; outputTokens?: unknown; raw?: unknown }
  const total = (count: unknown): unknown =>
    count !== null && typeof count === 'object' ? (count as { total?: unknown }).total : count
  const input = total(inputTokens)
  const output = total(outputTokens)
  if (input === 0 && (output === 0 || output === undefined) && (raw === undefined || raw === null)) return false
  return typeof input === 'number' || typeof output === 'number'
}

/** Usage to commit from a V3 usage object (`undefined` when it reports none): Anthropic's raw usage keeps the 1h cache split and web searches. */
function usageToCommit(
  usage: unknown,
  modelId: string | undefined,
  provider: string,
  providerMetadata?: unknown,
): unknown {
  if (!hasUsage(usage)) return undefined
  const raw = (usage as { raw?: unknown } | undefined)?.raw
  if (provider === 'anthropic' && raw !== null && typeof raw === 'object')
    return { type: 'message', model: modelId, usage: raw }
  // Provider metadata carries what a gateway reported beyond tokens (OpenRouter: `openrouter.usage.cost`).
  return { usage, response: { modelId }, ...(providerMetadata !== undefined ? { providerMetadata } : {}) }
}

const SCOPE_FIELDS = ['user', 'team', 'org', 'key', 'endUser'] as const

const MIDDLEWARE_OPTIONS = z.object({
  ...INTEGRATION_OPTIONS,
  capOutputTokens: z.boolean().optional(),
  provider: z.string().min(1).optional(),
  resolveModel: z
    .custom<(...args: never[]) => unknown>((value) => typeof value === 'function', { message: 'must be a function' })
    .optional(),
})

async function remainingBudget(manager: unknown, context: CallContext): Promise<number | null> {
  const reader = manager as Partial<StatusReader>
  if (typeof reader.getStatus !== 'function') return null
  const scopes: string[] = []
  for (const field of SCOPE_FIELDS) if (typeof context[field] === 'string') scopes.push(`${field}:${context[field]}`)
  for (const tag of context.tags ?? []) scopes.push(`tag:${tag}`)
  let min: number | null = null
  for (const scope of scopes) {
    const status = await reader.getStatus(scope).catch(() => null)
    // In USD (budgets may be declared in other currencies); `usd` is absent only from older managers.
    const remaining = status?.usd === undefined ? status?.remaining : status.usd.remaining
    if (remaining !== null && remaining !== undefined) min = min === null ? remaining : Math.min(min, remaining)
  }
  return min
}

/**
 * A language model middleware that admits and charges every model call against the budget.
 *
 * @example
 * ```ts
 * const model = wrapLanguageModel({
 *   model: openai('gpt-4o-mini'),
 *   middleware: budgetMiddleware({ manager, context: { user: 'alice' }, capOutputTokens: true }),
 * })
 * const { text } = await generateText({ model, prompt: 'Hello' })
 * ```
 */
export function budgetMiddleware(options: BudgetMiddlewareOptions): LanguageModelMiddleware {
  validateOptions('budgetMiddleware(options)', MIDDLEWARE_OPTIONS, options)
  const { cache } = checkedOptions(options as BudgetIntegrationOptions<never>)
  type Fill = ((entry: CachedResponse | null) => Promise<void>) | undefined
  const reportCacheError = (error: unknown) => options.onCommitError?.(error, { callId: 'cache', model: undefined })
  /** The entry a completed call leaves in the cache, or `null` when its commit did not go through. */
  const entryOf = (settlement: Settlement, value: unknown, stream: boolean): CachedResponse | null => {
    const outcome = settlement.outcome
    if (outcome === undefined || outcome.status !== 'success') return null
    const served = outcome.record?.modelServed
    return {
      value,
      stream,
      ...(stream ? { kind: 'readable' as const } : {}),
      cost: outcome.exact.cost,
      storedAt: Date.now(),
      ...(typeof served === 'string' ? { model: served } : {}),
    }
  }
  /** Runs a call through the cache when there is one (key: type, provider, model and call options). */
  const cached = async <T>(
    type: 'generate' | 'stream',
    model: Model,
    params: CallOptions,
    run: (fill: Fill) => Promise<T>,
    answer: (entry: CachedResponse) => T,
  ): Promise<T> => {
    if (cache === undefined) return run(undefined)
    const req = request(type, model, params)
    const key =
      options.cacheKey === undefined
        ? defaultCacheKey([type, model.provider, model.modelId, params])
        : options.cacheKey(req)
    if (typeof key !== 'string' || key.length === 0)
      throw new BudgetConfigError('cacheKey', `budgetMiddleware: \`cacheKey\` must return a non-empty string`)
    const context: CallContext = { ...(await resolveContext(options.context, req)) }
    const provider = providerOf(model, options.provider)
    if (context.provider === undefined) context.provider = provider
    return throughCache(
      cache,
      key,
      {
        hit: async (entry) => {
          await recordHit(options.manager, context, entry, provider, reportCacheError)
          return answer(entry)
        },
        miss: run,
      },
      reportCacheError,
    )
  }
  const request = (type: 'generate' | 'stream', model: Model, params: CallOptions): AiSdkRequest => ({
    type,
    provider: model.provider,
    modelId: model.modelId,
    params,
  })

  async function admit(type: 'generate' | 'stream', model: Model, params: CallOptions) {
    const provider = providerOf(model, options.provider)
    const req = request(type, model, params)
    const context: CallContext = { ...(await resolveContext(options.context, req)) }
    if (context.provider === undefined) context.provider = provider
    const defaults = defaultEstimate(model, params, provider)
    const estimate = await resolveEstimate(options.estimate, req, defaults)
    const { reservation, deployment } = await admitCall(options, context, estimate)
    const settlement = new Settlement(reservation, options.onCommitError)
    // Routed to a deployment of another model, or a budget's `onExceeded: { fallbackModel }` admitted another model
    // than the one requested.
    const fallback =
      deployment !== undefined
        ? deployment.model !== model.modelId
          ? deployment.model
          : undefined
        : typeof estimate === 'object' && typeof reservation.model === 'string' && reservation.model !== estimate.model
          ? reservation.model
          : undefined
    const routedProvider = deployment?.provider
    if (fallback === undefined)
      return {
        settlement,
        provider: routedProvider ?? provider,
        defaults,
        target: undefined,
        metadata: {} as Record<string, string>,
      }
    let target: Model | undefined
    try {
      target = options.resolveModel?.(fallback, model, ...(deployment !== undefined ? [deployment] : []))
    } catch (error) {
      await settlement.release()
      throw error
    }
    if (
      target === undefined ||
      target === null ||
      typeof target.doGenerate !== 'function' ||
      typeof target.doStream !== 'function'
    ) {
      await settlement.release()
      throw new BudgetConfigError(
        'resolveModel',
        deployment !== undefined
          ? `budgetMiddleware: routed to deployment ${deployment.id} (${fallback}), but the middleware cannot build that model; pass \`resolveModel: (id) => provider(id)\` to budgetMiddleware`
          : `budgetMiddleware: a budget refused ${model.modelId} and admitted its fallbackModel ${fallback}, but the middleware cannot build that model; pass \`resolveModel: (id) => provider(id)\` to budgetMiddleware, or use onExceeded: 'block'`,
      )
    }
    return {
      settlement,
      provider: routedProvider ?? providerOf(target, options.provider),
      defaults: { ...defaults, model: fallback },
      target,
      metadata: { requestedModel: model.modelId },
    }
  }

  const middleware: LanguageModelMiddleware = {
    specificationVersion: 'v3',

    // Called by wrapLanguageModel when it wraps a model: a model already budgeted is refused there (ADR 0078).
    overrideSupportedUrls: ({ model }) => budgetedSupportedUrls(model) as Model['supportedUrls'],

    wrapGenerate({ doGenerate, params, model }) {
      type Generated = Awaited<ReturnType<typeof doGenerate>>
      return cached<Generated>(
        'generate',
        model,
        params,
        (fill) => generateCall(doGenerate, params, model, fill),
        (entry) => replayEntry(entry) as Generated,
      )
    },

    wrapStream({ doStream, params, model }) {
      type Streamed = Awaited<ReturnType<typeof doStream>>
      return cached<Streamed>(
        'stream',
        model,
        params,
        (fill) => streamCall(doStream, params, model, fill),
        (entry) => ({
          stream: replayEntry(entry) as Streamed['stream'],
        }),
      )
    },
  }

  async function generateCall(
    doGenerate: Parameters<NonNullable<LanguageModelMiddleware['wrapGenerate']>>[0]['doGenerate'],
    params: CallOptions,
    model: Model,
    fill: Fill,
  ) {
    const { settlement, provider, defaults, target, metadata } = await admit('generate', model, params)
    let result: Awaited<ReturnType<typeof doGenerate>>
    try {
      result = target === undefined ? await doGenerate() : await target.doGenerate(params)
    } catch (error) {
      await settlement.release()
      throw error
    }
    const served = result.response?.modelId ?? (target ?? model).modelId
    const characters = textLength(result.content.map((part) => ('text' in part ? part.text : '')))
    await settlement.end({
      exit: 'completed',
      usage: usageToCommit(result.usage, served, provider, result.providerMetadata),
      model: served,
      provider,
      request: { ...defaults, model: served },
      output: { characters, pieces: characters > 0 ? 1 : 0 },
      metadata: { endpoint: 'generate', ...metadata },
    })
    await fill?.(entryOf(settlement, result, false))
    return result
  }

  async function streamCall(
    doStream: Parameters<NonNullable<LanguageModelMiddleware['wrapStream']>>[0]['doStream'],
    params: CallOptions,
    model: Model,
    fill: Fill,
  ) {
    const { settlement, provider, defaults, target, metadata } = await admit('stream', model, params)
    const runModel = target ?? model
    let result: Awaited<ReturnType<typeof doStream>>
    try {
      result = target === undefined ? await doStream() : await target.doStream(params)
    } catch (error) {
      await settlement.release()
      throw error
    }
    type Part = Awaited<ReturnType<typeof doStream>>['stream'] extends ReadableStream<infer P> ? P : never
    let served: string | undefined
    let finishUsage: unknown
    let finishMetadata: unknown
    let characters = 0
    let chunks = 0
    const parts: Part[] = []
    const finish = async (exit: CallExit): Promise<void> => {
      const servedModel = served ?? runModel.modelId
      await settlement.end({
        exit,
        usage: usageToCommit(finishUsage, servedModel, provider, finishMetadata),
        model: servedModel,
        provider,
        request: { ...defaults, model: servedModel },
        output: { characters, pieces: chunks },
        metadata: { endpoint: 'stream', ...metadata },
      })
      // Only a stream read to its end is kept.
      await fill?.(exit === 'completed' ? entryOf(settlement, [...parts], true) : null)
    }
    const signal = params.abortSignal
    const onAbort = () => void finish('aborted')
    signal?.addEventListener('abort', onAbort, { once: true })
    const reader = result.stream.getReader()
    const stream = new ReadableStream<Part>({
      async pull(controller) {
        let next: ReadableStreamReadResult<Part>
        try {
          next = await reader.read()
        } catch (error) {
          signal?.removeEventListener('abort', onAbort)
          await finish(signal?.aborted ? 'aborted' : 'failed')
          controller.error(error)
          return
        }
        if (next.done) {
          signal?.removeEventListener('abort', onAbort)
          await finish('completed')
          controller.close()
          return
        }
        const part = next.value as {
          type: string
          modelId?: string
          usage?: unknown
          delta?: string
          providerMetadata?: unknown
        }
        if (part.type === 'response-metadata' && typeof part.modelId === 'string') served = part.modelId
        else if (part.type === 'finish') {
          finishUsage = part.usage
          finishMetadata = part.providerMetadata
        } else if (typeof part.delta === 'string') {
          characters += part.delta.length
          chunks++
        }
        if (fill !== undefined) parts.push(next.value)
        controller.enqueue(next.value)
      },
      async cancel(reason) {
        signal?.removeEventListener('abort', onAbort)
        await finish('cancelled')
        await reader.cancel(reason).catch(() => undefined)
      },
    })
    return { ...result, stream }
  }

  type TransformArgs = Parameters<NonNullable<LanguageModelMiddleware['transformParams']>>[0]
  const capParams = async ({ type, params, model }: TransformArgs): Promise<CallOptions> => {
    const provider = providerOf(model, options.provider)
    const context = await resolveContext(options.context, request(type, model, params))
    const remaining = await remainingBudget(options.manager, context)
    if (remaining === null) return params
    try {
      const input = estimateCost({
        model: model.modelId,
        provider,
        messages: params.prompt as never,
        maxOutputTokens: 0,
      }).totalCost
      const perMillion = estimateCost({
        model: model.modelId,
        provider,
        inputTokens: 0,
        maxOutputTokens: 1_000_000,
      }).totalCost
      if (perMillion <= 0) return params
      const affordable = Math.floor(((remaining - input) * 1_000_000) / perMillion)
      // Below one token the call cannot be paid for: leave it to reserve() to refuse it with the reason.
      if (affordable < 1) return params
      const cap = params.maxOutputTokens === undefined ? affordable : Math.min(params.maxOutputTokens, affordable)
      return { ...params, maxOutputTokens: cap }
    } catch {
      return params
    }
  }
  // Every call is marked for the layers below (a second budget middleware refuses it), then capped if asked.
  middleware.transformParams = async (args) => {
    const params = budgetedCall(args.params)
    return options.capOutputTokens === true ? capParams({ ...args, params }) : params
  }
  return middleware
}
