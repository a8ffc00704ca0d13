/**
 * One budget layer per LLM call (ADR 0078): how the AI SDK middleware and the LangChain callback handler notice a
 * second budget layer over the same call, and refuse it with a `BudgetConfigError` before anything is reserved or
 * sent. (The fetch-based wrappers and `withBedrockBudget` refuse a budgeted client when wrapping it.)
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../errors.js'
import { isBudgeted } from './budget-fetch.js'

const TWICE = 'a second budget layer would reserve and charge every call twice'

/** The `supportedUrls` objects of models wrapped with `budgetMiddleware`: how a wrapped model is recognised. */
const budgetedUrls = new WeakSet<object>()

/** Set on the call options a budget middleware passes down: a budget middleware below it sees it. */
const BUDGETED_CALL = Symbol.for('llm-budget.budgeted-call')

/**
 * At `wrapLanguageModel` time: throws when `model` is already budgeted (wrapped with `budgetMiddleware`, or built on
 * a budgeted fetch); else returns the `supportedUrls` the wrapped model will carry, marked as budgeted.
 */
export function budgetedSupportedUrls(model: { supportedUrls?: unknown }): unknown {
  const urls = model.supportedUrls
  if (typeof urls === 'object' && urls !== null && budgetedUrls.has(urls))
    throw new BudgetConfigError(
      'middleware',
      `budgetMiddleware: this model is already wrapped with budgetMiddleware, and ${TWICE}; ` +
        'wrap the original model once (once per context if you need several)',
    )
  const fetch = (model as { config?: { fetch?: unknown } }).config?.fetch
  if (isBudgeted(fetch))
    throw new BudgetConfigError(
      'middleware',
      `budgetMiddleware: this model's provider sends through a budgeted fetch (an llm-budget client wrapper), and ` +
        `${TWICE}; use the middleware or the client wrapper, not both`,
    )
  if (typeof urls !== 'object' || urls === null) return urls
  const marked: object =
    typeof (urls as { then?: unknown }).then === 'function'
      ? Promise.resolve(urls as PromiseLike<unknown>)
      : { ...(urls as Record<string, unknown>) }
  budgetedUrls.add(marked)
  return marked
}

/**
 * At call time (call options that reach a budget middleware through another one, however composed): throws when
 * `params` come from a budget middleware above; else returns them marked for the layers below.
 */
export function budgetedCall<T extends object>(params: T): T {
  if ((params as Record<symbol, unknown>)[BUDGETED_CALL] === true)
    throw new BudgetConfigError(
      'middleware',
      `budgetMiddleware: this call already went through another budgetMiddleware, and ${TWICE}; ` +
        'keep one budgetMiddleware per model',
    )
  return { ...params, [BUDGETED_CALL]: true }
}

/** A LangChain run claimed by the first budget handler that saw it start. */
export interface RunClaim {
  /** A second handler saw the run: the first must release what it reserved and refuse too. */
  refused: boolean
  /** Set once the first handler holds a reservation for the run: releases it. */
  release: (() => Promise<void>) | undefined
}

/** Open LangChain runs by run id, across every handler instance. */
const claims = new Map<string, RunClaim>()

/**
 * Claims `runId` for a budget handler. Synchronous up to its first `await` (call it before any other), so that two
 * handlers LangChain starts together see each other. A run another handler already claimed is refused for both: the
 * first's hold is released (now, or when its reservation arrives) and this throws a `BudgetConfigError`.
 */
export async function claimRun(runId: string): Promise<RunClaim> {
  const prior = claims.get(runId)
  if (prior === undefined) {
    const claim: RunClaim = { refused: false, release: undefined }
    claims.set(runId, claim)
    return claim
  }
  prior.refused = true
  if (prior.release !== undefined) {
    claims.delete(runId)
    await prior.release()
  }
  throw refusedRun()
}

/** The error both handlers of a doubly budgeted run raise. */
export function refusedRun(): BudgetConfigError {
  return new BudgetConfigError(
    'callbacks',
    `BudgetCallbackHandler: two budget callback handlers are on this run (e.g. one on the model and another in ` +
      `invoke's callbacks), and ${TWICE}; attach one handler and pass per-call context in the run's metadata`,
  )
}

/** Forget a run's claim (it ended, or its start failed). */
export function endClaim(runId: string, claim?: RunClaim): void {
  if (claim === undefined || claims.get(runId) === claim) claims.delete(runId)
}
