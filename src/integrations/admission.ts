/**
 * Admission and the response cache for every integration, in one place: a call is admitted with an ordinary
 * reservation, or routed among the options' `deployments` (`selectDeployment`: the choice and the reservation are
 * one atomic step); a response body is captured as the caller reads it, so that a completed one can be kept in the
 * options' `cache`.
 *
 * @packageDocumentation
 */
import type { Estimate, Reservation } from '../budget/manager.js'
import { routeCall } from '../budget/routed-call.js'
import type { Deployment } from '../budget/routing.js'
import type { CallContext } from '../budget/scopes.js'
import { type BudgetIntegrationOptions, checkedOptions } from './options.js'

/** An admitted call: its reservation, and the deployment it was routed to (when the options route). */
export interface AdmittedCall {
  reservation: Reservation
  deployment: Deployment | undefined
}

/**
 * Admits one call: routed when the options have `deployments` (the estimate's token counts priced per deployment),
 * else `manager.reserve` (where a budget's `onExceeded: { fallbackModel }` may admit another model).
 */
export async function admitCall<TRequest>(
  options: BudgetIntegrationOptions<TRequest>,
  context: CallContext,
  estimate: Estimate,
): Promise<AdmittedCall> {
  const { routing } = checkedOptions(options as BudgetIntegrationOptions<never>)
  if (routing === undefined)
    return { reservation: await options.manager.reserve(context, estimate), deployment: undefined }
  return routeCall(options.manager, routing, context, estimate)
}

/**
 * A response whose body is passed through as it is read, and handed to `done` whole (as text) when it was read to its
 * end, or `null` when it was cancelled or failed. `done` runs before the reader sees the end.
 */
export function captureBody(response: Response, done: (text: string | null) => Promise<void>): Response {
  const body = response.body
  if (body === null) {
    void done('')
    return response
  }
  const reader = body.getReader()
  const parts: Uint8Array[] = []
  let finished = false
  const finish = async (text: string | null): Promise<void> => {
    if (finished) return
    finished = true
    await done(text)
  }
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let step: ReadableStreamReadResult<Uint8Array>
      try {
        step = await reader.read()
      } catch (error) {
        await finish(null)
        controller.error(error)
        return
      }
      if (step.done) {
        const decoder = new TextDecoder()
        await finish(parts.map((p) => decoder.decode(p, { stream: true })).join('') + decoder.decode())
        controller.close()
        return
      }
      parts.push(step.value)
      controller.enqueue(step.value)
    },
    async cancel(reason) {
      try {
        await reader.cancel(reason)
      } finally {
        await finish(null)
      }
    },
  })
  return new Response(stream, { status: response.status, statusText: response.statusText, headers: response.headers })
}
