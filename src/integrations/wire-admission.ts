/**
 * Admission and settlement of one provider attempt, whatever carries it: the budgeted `fetch` under an SDK that
 * takes one, or a hook inside an SDK's own pipeline (the AWS SDK's middleware stack). Admission resolves the
 * context and the estimate, reserves, and names the model to send (a budget's fallback may replace it); settlement
 * charges the attempt from what its usage tracker saw when the body ended, however it ended.
 *
 * Imports nothing from `node:`: runs on edge runtimes.
 *
 * @packageDocumentation
 */
import type { EstimateRequest } from '../budget/pricing.js'
import type { CallContext } from '../budget/scopes.js'
import { type CallExit, type OutputSeen, Settlement } from '../budget/settlement.js'
import { admitCall } from './admission.js'
import type { WireRequest } from './budget-fetch.js'
import type { Outcome } from './metered-response.js'
import { resolveContext, resolveEstimate, type BudgetIntegrationOptions } from './options.js'

/** What a provider description says about one billable request, before it is sent. */
export interface BillableRequest {
  /** Endpoint name, e.g. `chat.completions`, `messages`, `converse`. */
  endpoint: string
  /** The request's model. */
  model: string
  /** The request params. */
  params: Record<string, unknown>
  /** Default estimate for this request at a model. */
  estimate(model: string): EstimateRequest
}

/** Tracks what a response says about usage: its JSON or text body, or its stream's events. */
export interface UsageTrackerView {
  /** The final usage and model, when the provider sent it. */
  final(): { usage: unknown; model?: string } | undefined
  /** What is known when the body ended without final usage: partial provider usage, served model, output seen. */
  partial(): { usage?: unknown; model?: string; output: OutputSeen }
  /**
   * True once the stream's terminal event went by: the call is complete even when the SDK stops reading there and
   * cancels the rest of the body.
   */
  done?(): boolean
}

/** One admitted attempt. */
export interface Admitted {
  settlement: Settlement
  /** The model to send: the requested one, the routed deployment's, or the fallback a budget admitted instead. */
  model: string
  /** The provider to record: the routed deployment's, else the SDK's. */
  provider: string
  /** Record metadata of the attempt (endpoint, and the requested model when a fallback replaced it). */
  metadata: Record<string, string | number | boolean | null>
}

/**
 * Admit one attempt: resolve the context (the option, then `extraContext` on top) and the estimate, and reserve, or
 * route among the options' `deployments` (see `admission.ts`). Throws what `reserve` throws (`BudgetExceededError`,
 * `RateLimitError`, ...): nothing was sent.
 */
export async function admitWireCall(
  provider: string,
  call: BillableRequest,
  options: BudgetIntegrationOptions<WireRequest>,
  headers: Headers,
  extraContext?: CallContext,
): Promise<Admitted> {
  const request: WireRequest = { endpoint: call.endpoint, model: call.model, params: call.params, headers }
  const context: CallContext = { ...(await resolveContext(options.context, request)), ...extraContext }
  if (context.provider === undefined) context.provider = provider
  const defaults = { ...call.estimate(call.model), provider }
  const { reservation, deployment } = await admitCall(
    options,
    context,
    await resolveEstimate(options.estimate, request, defaults),
  )
  // Routed: the chosen deployment's model; else a budget's `onExceeded: { fallbackModel }` may have admitted a
  // cheaper model instead: send that one.
  let model = typeof reservation.model === 'string' && reservation.model.length > 0 ? reservation.model : call.model
  if (deployment !== undefined) model = deployment.model
  const metadata: Admitted['metadata'] = { endpoint: call.endpoint }
  if (model !== call.model) metadata['requestedModel'] = call.model
  return {
    settlement: new Settlement(reservation, options.onCommitError),
    model,
    provider: deployment?.provider ?? provider,
    metadata,
  }
}

function isAbortLike(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError'
}

/** How a metered body's end reads for the settlement core. */
export function exitOf(outcome: Outcome): CallExit {
  if (outcome.kind === 'end') return 'completed'
  if (outcome.kind === 'cancel') return 'cancelled'
  if (outcome.kind === 'abort' || isAbortLike(outcome.error)) return 'aborted'
  return 'failed'
}

/** Settle an admitted attempt from what its tracker saw, once its body ended as `outcome`. */
export async function settleTracked(
  admitted: Admitted,
  call: BillableRequest,
  tracker: UsageTrackerView,
  outcome: Outcome,
): Promise<void> {
  const final = tracker.final()
  const partial = tracker.partial()
  const served = final?.model ?? partial.model ?? admitted.model
  const complete = outcome.kind !== 'error' && tracker.done?.() === true
  await admitted.settlement.end({
    exit: complete ? 'completed' : exitOf(outcome),
    usage: final?.usage,
    partialUsage: partial.usage,
    model: served,
    provider: admitted.provider,
    request: call.estimate(served),
    output: partial.output,
    metadata: admitted.metadata,
  })
}
