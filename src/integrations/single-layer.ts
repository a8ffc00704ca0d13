/**
 * One budget layer per LLM call (ADR 0078): how the AI SDK middleware and the LangChain callback handler notice a
 * second budget layer over the same call, and refuse it with a `BudgetConfigError` before anything is reserved or
 * sent; and how the fetch-based wrappers mark what they budget, to refuse a budgeted client when wrapping it.
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../errors.js'

const TWICE = 'a second budget layer would reserve and charge every call twice'

/** The budgeted fetches (and HTTP clients built on them) handed to SDK clients: how a second wrapper is noticed. */
const budgeted = new WeakSet<object>()

/** Marks `transport` (a fetch or an SDK HTTP client) as budgeted, for {@link refuseBudgetedTwice}. */
export function markBudgeted<T extends object>(transport: T): T {
  budgeted.add(transport)
  return transport
}

/** True when `transport` (a fetch or an SDK HTTP client) is one of the budgeted ones. */
export function isBudgeted(transport: unknown): boolean {
  if ((typeof transport !== 'object' && typeof transport !== 'function') || transport === null) return false
  return budgeted.has(transport)
}

/**
 * Throws a `BudgetConfigError` when the transport of the client being wrapped is already budgeted: a second wrapper
 * would reserve and charge every call twice.
 */
export function refuseBudgetedTwice(where: string, transport: unknown): void {
  if (!isBudgeted(transport)) return
  throw new BudgetConfigError(
    'client',
    `${where}: this client is already budgeted, and a second wrapper would reserve and charge every call twice; ` +
      'wrap the original client (wrap it once per context if you need several)',
  )
}

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

/**
 * Throws when a LangChain model, as its callbacks see it (`model.toJSON()`), sends through a budgeted fetch: its
 * `configuration.fetch` (ChatOpenAI) or `clientOptions.fetch` (ChatAnthropic) is an llm-budget wrapper's fetch.
 */
export function refuseBudgetedLangChainModel(serialized: unknown): void {
  const kwargs = field(serialized, 'kwargs')
  const fetch =
    field(field(kwargs, 'configuration'), 'fetch') ??
    field(field(kwargs, 'client_options'), 'fetch') ??
    field(field(kwargs, 'clientOptions'), 'fetch')
  if (!isBudgeted(fetch)) return
  throw new BudgetConfigError(
    'callbacks',
    `BudgetCallbackHandler: this model's client sends through a budgeted fetch (an llm-budget client wrapper), and ` +
      `${TWICE}; use the handler or the client wrapper, not both`,
  )
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined
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
