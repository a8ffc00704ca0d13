/**
 * The options every integration takes (`manager`, `context`, `estimate`, `onCommitError`), their validation, and
 * how they resolve for one request. The types are the core's: an integration budgets calls exactly as `withBudget`.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import type { Estimate, ReserveOptions, Reservation } from '../budget/manager.js'
import { estimateOption } from '../budget/estimate-option.js'
import type { EstimateRequest } from '../budget/pricing.js'
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
}

/** Validates an integration's options: unknown keys refused with the closest known one, each value checked. */
export function validateOptions(where: string, schema: z.ZodObject, options: unknown): void {
  parseOptions(where, schema, options)
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
