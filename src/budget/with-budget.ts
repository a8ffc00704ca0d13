/**
 * `withBudget(fn, options)`: wraps any function that calls an LLM so that every call reserves its
 * worst case first, then commits the actual cost or releases the hold, on every exit path.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { InvalidInputError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
import { type CacheFlow, checkCache, recordHit, replayEntry, throughCache } from './cached-call.js'
import { estimateOption } from './estimate-option.js'
import { type BudgetManager, type Estimate, type Reservation, reserveResolved } from './manager.js'
import type { EstimateRequest } from './pricing.js'
import { type CachedResponse, defaultCacheKey, type ResponseCache } from './response-cache.js'
import { applyModelToRequest, routeCall, type WrapperRouting, wrapperRouting } from './routed-call.js'
import type { Deployment, RoutingEstimate, RoutingStrategy } from './routing.js'
import { type CallEnding, type CallExit, Settlement } from './settlement.js'
import { type CallContext, resolveContext } from './scopes.js'

/**
 * What the `cost`, `usage`, `model` and `cacheHit` callbacks receive: the resolved result, or for a stream
 * (a `ReadableStream` or an async iterable) the array of chunks it produced.
 */
export type SettledResult<R> = R extends ReadableStream<infer C> ? C[] : R extends AsyncIterable<infer C> ? C[] : R

/** Options of {@link withBudget}. `Args` are the wrapped function's parameters, `Result` its resolved result. */
export interface WithBudgetOptions<Args extends unknown[], Result> {
  /** The manager that admits and records calls. */
  manager: BudgetManager
  /** Who the call counts against, or a function of the call's arguments that returns it. */
  context: CallContext | ((...args: Args) => CallContext | Promise<CallContext>)
  /**
   * Worst-case cost: USD, an estimate request (`{ model, inputTokens | messages, maxOutputTokens }`), or a
   * function of the arguments returning either. Default: estimated from the first argument's `model`,
   * `messages` and `max_tokens` (OpenAI/Anthropic request shape). With `deployments`, token counts without a model
   * (`{ inputTokens | messages, maxOutputTokens }`), priced per deployment.
   */
  estimate?:
    | Estimate
    | RoutingEstimate
    | ((...args: Args) => Estimate | RoutingEstimate | Promise<Estimate | RoutingEstimate>)
    | undefined
  /** Actual cost in USD, when you know it (wins over `usage`). For streams, `result` is the array of chunks seen. */
  cost?: ((result: SettledResult<Result>, args: Args) => number) | undefined
  /** Usage of the result in any shape `normalizeUsage` accepts. Default: the result itself (or the stream's chunks). */
  usage?: ((result: SettledResult<Result>, args: Args) => unknown) | undefined
  /** Model that served the call. Default: the result's `model`, else the request's. */
  model?: ((args: Args, result: SettledResult<Result>) => string | undefined) | undefined
  /** Provider of the call (LiteLLM names), for pricing. */
  provider?: string | undefined
  /** True when the result came from a local cache: recorded at $0 with status `cache_hit`. */
  cacheHit?: ((result: SettledResult<Result>, args: Args) => boolean) | undefined
  /** Called when the commit after a successful call could not be written (the result is still returned). */
  onCommitError?: ((error: unknown) => void) | undefined
  /**
   * Lets a budget's `onExceeded: { fallbackModel }` switch the call to its fallback: receives the call's argument
   * list and the admitted model, and returns the argument list to call `fn` with. Without it, `withBudget` never
   * takes a fallback (the call is refused), so the model called is always the model charged.
   *
   * With `deployments`, it also tells the function which deployment was chosen (`deployment` is then given); the
   * default there sets `model` on the first argument (`[{ ...args[0], model }, ...args.slice(1)]`).
   *
   * @example
   * ```ts
   * applyModel: (args, model) => [{ ...args[0], model }, ...args.slice(1)]
   * ```
   */
  applyModel?: ((args: Args, model: string, deployment?: Deployment) => Args | unknown[]) | undefined
  /**
   * Budget-aware routing: the places the call can go. Each call picks one with `manager.selectDeployment` (the choice
   * and the reservation are one atomic step), is called with that deployment's model (see `applyModel`) and is
   * charged to it (`provider:`, `deployment:`, `model:` and `tag:` budgets). The estimate must be token counts.
   */
  deployments?: readonly Deployment[] | undefined
  /** How `deployments` are ordered before they are tried. Default `lowest-cost`. */
  strategy?: RoutingStrategy | undefined
  /**
   * A response cache (`responseCache({ max, ttlMs })`): a hit does not call `fn`, and is recorded at $0 with
   * `cacheHit: true` and `saved`; identical concurrent misses call `fn` once; streams are kept and replayed.
   */
  cache?: ResponseCache | undefined
  /** The cache key of a call. Default: a SHA-256 of the arguments as stable JSON (functions and `undefined` left out). */
  cacheKey?: ((...args: Args) => string) | undefined
}

const isFunction = (value: unknown): boolean => typeof value === 'function'
const optionalFunction = z
  .custom<(...args: never[]) => unknown>(isFunction, { message: 'must be a function' })
  .optional()

/** The options of {@link withBudget}, checked when it wraps (unknown keys refused). */
const WITH_BUDGET_OPTIONS = z.object({
  manager: z.custom(
    (value) =>
      typeof value === 'object' && value !== null && typeof (value as { reserve?: unknown }).reserve === 'function',
    {
      message: 'must be a BudgetManager',
    },
  ),
  context: z.custom(
    (value) => isFunction(value) || (typeof value === 'object' && value !== null && !Array.isArray(value)),
    {
      message: 'must be a call context (e.g. `{ user: "alice" }`) or a function of the arguments',
    },
  ),
  estimate: estimateOption(' of the arguments'),
  cost: optionalFunction,
  usage: optionalFunction,
  model: optionalFunction,
  provider: z.string().min(1).optional(),
  cacheHit: optionalFunction,
  onCommitError: optionalFunction,
  applyModel: optionalFunction,
  deployments: z.unknown().optional(),
  strategy: z.unknown().optional(),
  cache: z.unknown().optional(),
  cacheKey: optionalFunction,
})

/** The wrapped function: same parameters, and a promise of the same result. */
export type BudgetedFunction<F extends (...args: never[]) => unknown> = (
  this: ThisParameterType<F>,
  ...args: Parameters<F>
) => Promise<Awaited<ReturnType<F>>>

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/** The call's `AbortSignal`, when an argument carries one (`{ signal }` or `{ abortSignal }`), to tell an abort from an end. */
function signalOf(args: readonly unknown[]): AbortSignal | undefined {
  for (const arg of args) {
    if (!isObject(arg)) continue
    const signal = arg.signal ?? arg.abortSignal
    if (typeof AbortSignal !== 'undefined' && signal instanceof AbortSignal) return signal
  }
  return undefined
}

function isReadableStream(value: unknown): value is ReadableStream<unknown> {
  return (
    isObject(value) &&
    typeof (value as { getReader?: unknown }).getReader === 'function' &&
    typeof (value as { tee?: unknown }).tee === 'function'
  )
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return isObject(value) && typeof (value as Record<symbol, unknown>)[Symbol.asyncIterator] === 'function'
}

/** The default estimate from an OpenAI- or Anthropic-shaped request (without `model` when routing chooses it). */
function defaultEstimate(args: readonly unknown[], routed: boolean): EstimateRequest {
  const request = args[0]
  if (!isObject(request) || (typeof request.model !== 'string' && !routed)) {
    throw new InvalidInputError(
      'estimate',
      'withBudget needs `estimate` (USD or `{ model, inputTokens | messages, maxOutputTokens }`) when the first argument has no `model`',
    )
  }
  const out: EstimateRequest = { model: typeof request.model === 'string' ? request.model : '' }
  const messages = request.messages ?? request.input ?? request.prompt
  if (messages !== undefined) out.messages = messages
  const cap =
    request.max_tokens ?? request.max_completion_tokens ?? request.max_output_tokens ?? request.maxOutputTokens
  if (typeof cap === 'number') out.maxOutputTokens = cap
  return out
}

/**
 * Wraps `fn` so that each call is admitted by the budgets of its context before it runs, and its cost is
 * recorded after: success commits; a throw releases the hold; a stream (async iterable or ReadableStream)
 * commits when it ends, throws or is abandoned (`break`, `return()`, `cancel()`), with the usage seen so far
 * or the estimate flagged `estimated: true`. Exactly once per call.
 *
 * @throws BudgetExceededError / RateLimitError before `fn` runs when a budget refuses the call.
 *
 * @example
 * ```ts
 * const chat = withBudget((req: ChatRequest) => client.chat.completions.create(req), {
 *   manager: budgets,
 *   context: (req) => ({ user: req.user, team: 'search' }),
 * })
 * const reply = await chat({ model: 'gpt-4o', messages, max_tokens: 500 })
 * ```
 */
export function withBudget<F extends (...args: never[]) => unknown>(
  fn: F,
  options: WithBudgetOptions<Parameters<F>, Awaited<ReturnType<F>>>,
): BudgetedFunction<F> {
  if (typeof fn !== 'function') throw new InvalidInputError('fn', 'withBudget(fn, options): `fn` must be a function')
  parseOptions('withBudget(fn, options)', WITH_BUDGET_OPTIONS, options)
  type Args = Parameters<F>
  type Result = Awaited<ReturnType<F>>
  const { manager, applyModel } = options
  const routing = wrapperRouting('withBudget(fn, options)', manager, options.deployments, options.strategy)
  const cache = checkCache('withBudget(fn, options)', options.cache, manager)
  const onCommitError = options.onCommitError
  const reportError = onCommitError === undefined ? undefined : (error: unknown) => onCommitError(error)
  const reportPlain = reportError
  // A fallback is taken only when the function can be told about it; otherwise the call is refused.
  const reserveOptions = { allowFallback: applyModel !== undefined }
  // A static context is validated once, here, so a bad one fails at wrap time and calls skip the work.
  const staticContext = typeof options.context === 'function' ? undefined : resolveContext(options.context)

  /** How the call ended, as the settlement core reads it: the caller's cost or the result's usage, at the served model. */
  const endingOf = (
    reservation: Reservation,
    result: SettledResult<Result>,
    args: Args,
    exit: CallExit,
    provider: string | undefined,
  ): CallEnding => {
    try {
      if (options.cacheHit?.(result, args) === true) return { exit, cacheHit: true }
      const served =
        options.model?.(args, result) ??
        (isObject(result) && typeof result.model === 'string' ? result.model : undefined) ??
        reservation.model
      const ending: CallEnding = { exit, model: served }
      if (provider !== undefined) ending.provider = provider
      if (options.cost !== undefined) ending.cost = options.cost(result, args)
      else ending.usage = options.usage === undefined ? result : options.usage(result, args)
      return ending
    } catch {
      // A callback that cannot read the result: settled as a call without usage.
      return { exit, model: reservation.model, provider }
    }
  }

  /** Where a routed call goes, and how a cached call keeps its result; `undefined` fields when not used. */
  interface CallPlan {
    provider: string | undefined
    fill: ((entry: CachedResponse | null) => Promise<void>) | undefined
  }

  /** The entry a completed call leaves in the cache, or `null` when its commit did not go through. */
  const entryOf = (
    settlement: Settlement,
    value: unknown,
    kind: 'readable' | 'iterable' | undefined,
  ): CachedResponse | null => {
    const outcome = settlement.outcome
    if (outcome === undefined || outcome.status === 'failure') return null
    const served = outcome.record?.modelServed
    const model = typeof served === 'string' ? served : settlement.reservation.model
    const entry: CachedResponse = {
      value,
      stream: kind !== undefined,
      cost: outcome.exact.cost,
      storedAt: manager.clock.now(),
    }
    if (kind !== undefined) entry.kind = kind
    if (model !== undefined) entry.model = model
    return entry
  }

  /** Settles a stream once, when it ends or stops early: the chunks read so far, or no usage if none. */
  const streamFinisher = (
    settlement: Settlement,
    chunks: unknown[],
    args: Args,
    plan: CallPlan,
    kind: 'readable' | 'iterable',
  ): ((how: 'end' | 'stop' | 'error') => Promise<void>) => {
    const signal = signalOf(args)
    return async (how) => {
      if (settlement.settled) return
      const exit: CallExit =
        signal?.aborted === true ? 'aborted' : how === 'end' ? 'completed' : how === 'stop' ? 'cancelled' : 'failed'
      if (chunks.length === 0)
        await settlement.end({ exit, model: settlement.reservation.model, provider: plan.provider })
      else
        await settlement.end(
          endingOf(settlement.reservation, chunks as unknown as SettledResult<Result>, args, exit, plan.provider),
        )
      // Only a stream read to its end is kept; it is stored before the reader sees the end.
      await plan.fill?.(exit === 'completed' ? entryOf(settlement, [...chunks], kind) : null)
    }
  }

  const wrapAsyncIterable = (
    settlement: Settlement,
    source: AsyncIterable<unknown>,
    args: Args,
    plan: CallPlan,
  ): AsyncIterable<unknown> => {
    const chunks: unknown[] = []
    const finish = streamFinisher(settlement, chunks, args, plan, 'iterable')
    const meter = (iterator: AsyncIterator<unknown>): AsyncIterator<unknown> => {
      return {
        async next(...nextArgs: [] | [unknown]) {
          let step: IteratorResult<unknown>
          try {
            step = await iterator.next(...nextArgs)
          } catch (error) {
            await finish('error')
            throw error
          }
          if (step.done === true) await finish('end')
          else chunks.push(step.value)
          return step
        },
        async return(value?: unknown) {
          try {
            return typeof iterator.return === 'function' ? await iterator.return(value) : { done: true, value }
          } finally {
            await finish('stop')
          }
        },
        async throw(error?: unknown) {
          try {
            if (typeof iterator.throw === 'function') return await iterator.throw(error)
            throw error
          } finally {
            await finish('error')
          }
        },
      }
    }
    // Meter the stream in place, so that its own helpers that iterate `this` (the OpenAI and Anthropic SDKs'
    // `toReadableStream()`, `tee()`) read the metered iterator too. SDK `Stream` objects produce their iterator
    // in `iterator()` and delegate `[Symbol.asyncIterator]` to it: patch that one method, or the two would meter
    // each other. Anything else gets its `[Symbol.asyncIterator]` patched.
    const target = source as unknown as Record<PropertyKey, unknown>
    const name: PropertyKey = typeof target.iterator === 'function' ? 'iterator' : Symbol.asyncIterator
    const original = target[name] as (this: unknown) => AsyncIterator<unknown>
    try {
      Object.defineProperty(source, name, {
        value: () => meter(original.call(source)),
        configurable: true,
        writable: true,
      })
      return source
    } catch {
      // A frozen object: hand back a view of it whose iterator is metered.
      return new Proxy(source as object, {
        get(object, property) {
          if (property === Symbol.asyncIterator)
            return () => meter((source as AsyncIterable<unknown>)[Symbol.asyncIterator]())
          const value: unknown = Reflect.get(object, property, object)
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(object) : value
        },
      }) as AsyncIterable<unknown>
    }
  }

  const wrapReadableStream = (
    settlement: Settlement,
    source: ReadableStream<unknown>,
    args: Args,
    plan: CallPlan,
  ): ReadableStream<unknown> => {
    const chunks: unknown[] = []
    let reader: ReadableStreamDefaultReader<unknown> | undefined
    const finish = streamFinisher(settlement, chunks, args, plan, 'readable')
    return new ReadableStream<unknown>({
      async pull(controller) {
        reader ??= source.getReader()
        let step: ReadableStreamReadResult<unknown>
        try {
          step = await reader.read()
        } catch (error) {
          await finish('error')
          controller.error(error)
          return
        }
        if (step.done) {
          await finish('end')
          controller.close()
          return
        }
        chunks.push(step.value)
        controller.enqueue(step.value)
      },
      async cancel(reason) {
        try {
          await (reader ?? source).cancel(reason)
        } finally {
          await finish('stop')
        }
      },
    })
  }

  const contextOf = async (args: Args): Promise<CallContext> =>
    staticContext !== undefined
      ? staticContext.context
      : await (options.context as (...a: Args) => CallContext | Promise<CallContext>)(...args)

  /** Swaps the arguments for the admitted model (a fallback or a routed deployment), releasing the hold on a throw. */
  const swapModel = async (
    reservation: Reservation,
    args: Args,
    apply: (args: Args) => Args | unknown[],
  ): Promise<Args> => {
    try {
      const next = apply(args)
      if (!Array.isArray(next))
        throw new InvalidInputError(
          'applyModel',
          `withBudget: \`applyModel\` must return the argument list (an array), got ${next === null ? 'null' : typeof next}`,
        )
      return next as Args
    } catch (error) {
      await reservation.release().catch((releaseError: unknown) => options.onCommitError?.(releaseError))
      throw error
    }
  }

  /** A routed call: picks the deployment and holds its budgets, then calls `fn` with the deployment's model. */
  const admitRouted = async (
    args: Args,
    estimate: Estimate | RoutingEstimate,
    chosen: WrapperRouting,
  ): Promise<{ reservation: Reservation; args: Args; provider: string | undefined }> => {
    const { reservation, deployment } = await routeCall(manager, chosen, await contextOf(args), estimate)
    const swapped = await swapModel(reservation, args, (current) =>
      applyModel === undefined
        ? applyModelToRequest(current, deployment.model)
        : applyModel(current, deployment.model, deployment),
    )
    return { reservation, args: swapped, provider: deployment.provider ?? options.provider }
  }

  /** The arguments for a budget's fallback model, when `applyModel` can tell `fn` and the admitted model is not the requested one. */
  const argsForAdmitted = (reservation: Reservation, estimate: Estimate, args: Args): Args | Promise<Args> => {
    const requested = typeof estimate === 'object' ? estimate.model : undefined
    const admitted = reservation.model
    if (applyModel === undefined || admitted === undefined || admitted === requested) return args
    return swapModel(reservation, args, (current) => applyModel(current, admitted))
  }

  /** The provider did not answer (or answered with an error we cannot price): the hold is released. */
  const releaseAfterThrow = async (reservation: Reservation): Promise<void> => {
    try {
      await reservation.release()
    } catch (releaseError) {
      options.onCommitError?.(releaseError)
    }
  }

  /**
   * Admits the call (routed or not), calls `fn` and settles; `fill` keeps the result when a cache is used. The rarer
   * steps (routing, a fallback's arguments, a throw, a stream) are functions of their own: this one's frame is
   * suspended while `fn` runs, once per call, and is smaller without their variables.
   */
  const call = async (self: ThisParameterType<F>, args: Args, fill: CallPlan['fill']): Promise<Result> => {
    const estimate =
      options.estimate === undefined
        ? defaultEstimate(args, routing !== undefined)
        : typeof options.estimate === 'function'
          ? await options.estimate(...args)
          : options.estimate
    let provider = options.provider
    let reservation: Reservation
    if (routing !== undefined) {
      const routed = await admitRouted(args, estimate, routing)
      reservation = routed.reservation
      args = routed.args
      provider = routed.provider
    } else {
      // Token counts without a model reach reserve() as they are, which refuses them with the reason.
      // Against the memory store the reservation comes back without a promise: no wait for it.
      const admitted =
        staticContext !== undefined
          ? reserveResolved(manager, staticContext, estimate as Estimate, reserveOptions)
          : manager.reserve(await contextOf(args), estimate as Estimate, reserveOptions)
      reservation = admitted instanceof Promise ? await admitted : admitted
      if (applyModel !== undefined) args = await argsForAdmitted(reservation, estimate as Estimate, args)
    }
    let result: Result
    try {
      result = (await fn.apply(self, args)) as Result
    } catch (error) {
      await releaseAfterThrow(reservation)
      throw error
    }
    const settlement = new Settlement(reservation, reportError)
    if (isReadableStream(result)) return wrapReadableStream(settlement, result, args, { provider, fill }) as Result
    if (isAsyncIterable(result)) return wrapAsyncIterable(settlement, result, args, { provider, fill }) as Result
    // Against the memory store the commit is written synchronously: nothing to wait for.
    const ended = settlement.endNow(endingOf(reservation, result as SettledResult<Result>, args, 'completed', provider))
    if (ended !== undefined) await ended
    if (fill !== undefined) await fill(entryOf(settlement, result, undefined))
    return result
  }

  const wrapped = function (this: ThisParameterType<F>, ...args: Args): Promise<Result> {
    return cache === undefined ? call(this, args, undefined) : throughTheCache(this, args, cache)
  }

  /** A call with a response cache: a hit is answered from it, a miss calls `fn` and fills it. */
  const throughTheCache = async (self: ThisParameterType<F>, args: Args, responses: ResponseCache): Promise<Result> => {
    const key = options.cacheKey === undefined ? defaultCacheKey(args) : options.cacheKey(...args)
    if (typeof key !== 'string' || key.length === 0)
      throw new InvalidInputError(
        'cacheKey',
        `withBudget: \`cacheKey\` must return a non-empty string, got ${typeof key}`,
      )
    const flow: CacheFlow<Result> = {
      hit: async (entry): Promise<Result> => {
        await recordHit(manager, await contextOf(args), entry, options.provider, reportPlain)
        return replayEntry(entry) as Result
      },
      miss: (fill) => call(self, args, fill),
    }
    return throughCache(responses, key, flow, reportPlain)
  }
  return wrapped as BudgetedFunction<F>
}
