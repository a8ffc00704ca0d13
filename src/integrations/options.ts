/**
 * The options every integration takes (`manager`, `context`, `estimate`, `onCommitError`), their validation, and
 * how they resolve for one request. The types are the core's: an integration budgets calls exactly as `withBudget`.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { checkCache } from '../budget/cached-call.js'
import type { Estimate, ReserveOptions, Reservation } from '../budget/manager.js'
import { estimateOption } from '../budget/estimate-option.js'
import type { EstimateRequest } from '../budget/pricing.js'
import type { ResponseCache } from '../budget/response-cache.js'
import { type WrapperRouting, wrapperRouting } from '../budget/routed-call.js'
import type { Deployment, RoutingStrategy } from '../budget/routing.js'
import type { CallContext } from '../budget/scopes.js'
import type { SettlementErrorHandler } from '../budget/settlement.js'
import { parseOptions } from '../internal/options.js'

export type { CallContext } from '../budget/scopes.js'

/**
 * The part of `BudgetManager` the integrations use: `reserve`. A structural type, so a `BudgetManager` from another
 * copy of the package works too.
 */
export interface BudgetManagerLike {
  reserve(context: CallContext, estimate: Estimate, options?: ReserveOptions): Promise<Reservation>
}

/** A context, or a function of the request that returns one. */
export type ContextOption<TRequest> = CallContext | ((request: TRequest) => CallContext | Promise<CallContext>)

/** A USD estimate, an estimate request, or a function of the request (and the default estimate) that returns either. */
export type EstimateOption<TRequest> =
  Estimate | ((request: TRequest, defaults: EstimateRequest) => Estimate | Promise<Estimate>)

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
  estimate?: EstimateOption<TRequest> | undefined
  /**
   * Called when recording a call's cost fails after the call ran (for example the served model has no price).
   * The hold is then committed at its estimate, flagged `estimated: true`; it is never leaked.
   */
  onCommitError?: SettlementErrorHandler | undefined
  /**
   * Budget-aware routing: each call picks one of these with `manager.selectDeployment` (the choice and the
   * reservation are one atomic step) and is sent with that deployment's model, charged to the deployment. The
   * request still goes through the wrapped client, so list deployments that client serves (its models, or its
   * Azure deployments).
   */
  deployments?: readonly Deployment[] | undefined
  /** How `deployments` are ordered before they are tried. Default `lowest-cost`. */
  strategy?: RoutingStrategy | undefined
  /**
   * A response cache (`responseCache({ max, ttlMs })`): a hit is answered without a request and recorded at $0 with
   * `cacheHit: true` and `saved`; identical concurrent misses send one request; streams are kept and replayed.
   */
  cache?: ResponseCache | undefined
  /** The cache key of a request. Default: a SHA-256 of the provider, endpoint and request body as stable JSON. */
  cacheKey?: ((request: TRequest) => string) | undefined
}

const isFunction = (value: unknown): boolean => typeof value === 'function'

/** The zod shape of {@link BudgetIntegrationOptions}; each integration extends it with its own options. */
export const INTEGRATION_OPTIONS = {
  manager: z.custom(
    (value) => typeof value === 'object' && value !== null && isFunction((value as { reserve?: unknown }).reserve),
    {
      message: 'must be a BudgetManager (an object with reserve())',
    },
  ),
  context: z.custom(
    (value) => isFunction(value) || (typeof value === 'object' && value !== null && !Array.isArray(value)),
    {
      message: "must be a context object (e.g. { user: 'alice' }) or a function of the request",
    },
  ),
  estimate: estimateOption(''),
  onCommitError: z.custom<SettlementErrorHandler>(isFunction, { message: 'must be a function' }).optional(),
  deployments: z.unknown().optional(),
  strategy: z.unknown().optional(),
  cache: z.unknown().optional(),
  cacheKey: z.custom<(...args: never[]) => unknown>(isFunction, { message: 'must be a function' }).optional(),
}

/** The options schema of an SDK client wrapper: the shared options and the `provider` name used for pricing. */
export const CLIENT_WRAPPER_OPTIONS = z.object({ ...INTEGRATION_OPTIONS, provider: z.string().min(1).optional() })

/** What the shared options resolve to once checked: the routing and the cache, when given. */
export interface CheckedIntegration {
  routing: WrapperRouting | undefined
  cache: ResponseCache | undefined
}

const checked = new WeakMap<object, CheckedIntegration>()

/**
 * Validates an integration's options: unknown keys refused with the closest known one, each value checked, and the
 * shared `deployments`/`strategy`/`cache` options checked once (see {@link checkedOptions}).
 */
export function validateOptions(where: string, schema: z.ZodObject, options: unknown): void {
  parseOptions(where, schema, options)
  const o = options as BudgetIntegrationOptions<unknown>
  checked.set(o, {
    routing: wrapperRouting(where, o.manager, o.deployments, o.strategy),
    cache: checkCache(where, o.cache, o.manager),
  })
}

/** The routing and cache of validated options (checked again when the options were not validated first). */
export function checkedOptions(options: BudgetIntegrationOptions<never>): CheckedIntegration {
  const known = checked.get(options)
  if (known !== undefined) return known
  const fresh = {
    routing: wrapperRouting('integration options', options.manager, options.deployments, options.strategy),
    cache: checkCache('integration options', options.cache, options.manager),
  }
  checked.set(options, fresh)
  return fresh
}

/** Resolves the context option for one request. */
export async function resolveContext<TRequest>(
  context: ContextOption<TRequest>,
  request: TRequest,
): Promise<CallContext> {
  return typeof context === 'function' ? await context(request) : context
}

/** Resolves the estimate option for one request. */
export async function resolveEstimate<TRequest>(
  estimate: EstimateOption<TRequest> | undefined,
  request: TRequest,
  defaults: EstimateRequest,
): Promise<Estimate> {
  if (estimate === undefined) return defaults
  if (typeof estimate === 'function') return await estimate(request, defaults)
  return estimate
}
