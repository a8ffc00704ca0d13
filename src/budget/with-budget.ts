/**
 * `withBudget(fn, options)`: wraps any function that calls an LLM so that every call reserves its
 * worst case first, then commits the actual cost or releases the hold, on every exit path.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { InvalidInputError } from '../errors.js'
import { parseOptions } from '../internal/options.js'
import { estimateOption } from './estimate-option.js'
import { type BudgetManager, type Estimate, type Reservation, reserveResolved } from './manager.js'
import type { EstimateRequest } from './pricing.js'
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
   * `messages` and `max_tokens` (OpenAI/Anthropic request shape).
   */
  estimate?: Estimate | ((...args: Args) => Estimate | Promise<Estimate>) | undefined
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
   * @example
   * ```ts
   * applyModel: (args, model) => [{ ...args[0], model }, ...args.slice(1)]
   * ```
   */
  applyModel?: ((args: Args, model: string) => Args | unknown[]) | undefined
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

/** The default estimate from an OpenAI- or Anthropic-shaped request. */
function defaultEstimate(args: readonly unknown[]): EstimateRequest {
  const request = args[0]
  if (!isObject(request) || typeof request.model !== 'string') {
    throw new InvalidInputError(
      'estimate',
      'withBudget needs `estimate` (USD or `{ model, inputTokens | messages, maxOutputTokens }`) when the first argument has no `model`',
    )
  }
  const out: EstimateRequest = { model: request.model }
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
  const onCommitError = options.onCommitError
  const reportError = onCommitError === undefined ? undefined : (error: unknown) => onCommitError(error)
  // A static context is validated once, here, so a bad one fails at wrap time and calls skip the work.
  const staticContext = typeof options.context === 'function' ? undefined : resolveContext(options.context)

  /** How the call ended, as the settlement core reads it: the caller's cost or the result's usage, at the served model. */
  const endingOf = (
    reservation: Reservation,
    result: SettledResult<Result>,
    args: Args,
    exit: CallExit,
  ): CallEnding => {
    try {
      if (options.cacheHit?.(result, args) === true) return { exit, cacheHit: true }
      const served =
        options.model?.(args, result) ??
        (isObject(result) && typeof result.model === 'string' ? result.model : undefined) ??
        reservation.model
      const ending: CallEnding = { exit, model: served }
      if (options.provider !== undefined) ending.provider = options.provider
      if (options.cost !== undefined) ending.cost = options.cost(result, args)
      else ending.usage = options.usage === undefined ? result : options.usage(result, args)
      return ending
    } catch {
      // A callback that cannot read the result: settled as a call without usage.
      return { exit, model: reservation.model, provider: options.provider }
    }
  }

  /** Settles a stream once, when it ends or stops early: the chunks read so far, or no usage if none. */
  const streamFinisher = (
    settlement: Settlement,
    chunks: unknown[],
    args: Args,
  ): ((how: 'end' | 'stop' | 'error') => Promise<void>) => {
    const signal = signalOf(args)
    return (how) => {
      if (settlement.settled) return Promise.resolve()
      const exit: CallExit =
        signal?.aborted === true ? 'aborted' : how === 'end' ? 'completed' : how === 'stop' ? 'cancelled' : 'failed'
      if (chunks.length === 0)
        return settlement.end({ exit, model: settlement.reservation.model, provider: options.provider })
      return settlement.end(endingOf(settlement.reservation, chunks as unknown as SettledResult<Result>, args, exit))
    }
  }

  const wrapAsyncIterable = (
    settlement: Settlement,
    source: AsyncIterable<unknown>,
    args: Args,
  ): AsyncIterable<unknown> => {
    const chunks: unknown[] = []
    const finish = streamFinisher(settlement, chunks, args)
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
  ): ReadableStream<unknown> => {
    const chunks: unknown[] = []
    let reader: ReadableStreamDefaultReader<unknown> | undefined
    const finish = streamFinisher(settlement, chunks, args)
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

  const wrapped = async function (this: ThisParameterType<F>, ...args: Args): Promise<Result> {
    const estimate =
      options.estimate === undefined
        ? defaultEstimate(args)
        : typeof options.estimate === 'function'
          ? await options.estimate(...args)
          : options.estimate
    // A fallback is taken only when the function can be told about it; otherwise the call is refused.
    const reserveOptions = { allowFallback: applyModel !== undefined }
    const reservation =
      staticContext !== undefined
        ? await reserveResolved(manager, staticContext, estimate, reserveOptions)
        : await manager.reserve(
            await (options.context as (...a: Args) => CallContext | Promise<CallContext>)(...args),
            estimate,
            reserveOptions,
          )
    const requested = typeof estimate === 'object' ? estimate.model : undefined
    if (applyModel !== undefined && reservation.model !== undefined && reservation.model !== requested) {
      try {
        const next = applyModel(args, reservation.model)
        if (!Array.isArray(next))
          throw new InvalidInputError(
            'applyModel',
            `withBudget: \`applyModel\` must return the argument list (an array), got ${next === null ? 'null' : typeof next}`,
          )
        args = next as Args
      } catch (error) {
        await reservation.release().catch((releaseError: unknown) => options.onCommitError?.(releaseError))
        throw error
      }
    }
    let result: Result
    try {
      result = (await fn.apply(this, args)) as Result
    } catch (error) {
      // The provider did not answer (or answered with an error we cannot price): release the hold.
      try {
        await reservation.release()
      } catch (releaseError) {
        options.onCommitError?.(releaseError)
      }
      throw error
    }
    const settlement = new Settlement(reservation, reportError)
    if (isReadableStream(result)) return wrapReadableStream(settlement, result, args) as Result
    if (isAsyncIterable(result)) return wrapAsyncIterable(settlement, result, args) as Result
    await settlement.end(endingOf(reservation, result as SettledResult<Result>, args, 'completed'))
    return result
  }
  return wrapped as BudgetedFunction<F>
}
