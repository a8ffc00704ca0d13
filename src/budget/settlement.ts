/**
 * Settlement: how a call that was admitted ends up in the ledger. One policy for every path (`withBudget`, the
 * OpenAI, Anthropic, AI SDK and LangChain integrations, and any SDK wrapper added later): a wrapper says how the
 * call ended ({@link CallEnding}) and {@link Settlement} commits or releases the reservation exactly once.
 *
 * - Usage reported: charged from it (`success`, or `aborted` when the caller stopped reading after it arrived).
 * - No usage: never a silent $0. An estimate flagged `estimated: true`: the provider's partial usage when there is
 *   some, else the request's input plus the output actually returned, else the reservation. Status `estimated`
 *   when the call completed, `aborted` when it was cancelled or aborted, `failure` when it broke.
 * - The commit itself fails (a served model without a price): the reservation is committed, flagged, and the error
 *   is reported; a store failure is reported and not retried.
 * - The provider never answered: {@link Settlement.release}.
 *
 * @packageDocumentation
 */
import { estimateCost, type EstimateMessage } from '../cost/index.js'
import { isBudgetError } from '../errors.js'
import { HeldReservation } from './held-reservation.js'
import { EMPTY_METADATA } from './scopes.js'
import type { CommitInput, CommitOutcome, Reservation } from './manager.js'
import type { EstimateRequest } from './pricing.js'

/** How a call ended: read to its end, stopped by its consumer (`break`, `cancel()`), aborted by a signal, or broken. */
export type CallExit = 'completed' | 'cancelled' | 'aborted' | 'failed'

/** Record metadata: numbers and ids, never content. */
export type SettlementMetadata = Record<string, string | number | boolean | null>

/** Output a call returned, counted as it went by: characters of text and the pieces they came in. */
export interface OutputSeen {
  characters: number
  pieces: number
}

/** Everything a wrapper knows when a call ends. */
export interface CallEnding {
  exit: CallExit
  /** Usage the provider reported for the whole call, in any shape `normalizeUsage` accepts. */
  usage?: unknown
  /** Usage known before the end (e.g. the input side of Anthropic's `message_start`), used when `usage` is absent. */
  partialUsage?: unknown
  /** The actual cost in USD, when the caller knows it (wins over usage). */
  cost?: number
  /** True for a local cache hit: recorded at $0. */
  cacheHit?: boolean
  /** Model that served the call. */
  model?: string | undefined
  /** Provider that served the call. */
  provider?: string | undefined
  /** The request, to price its input when no usage came back. */
  request?: EstimateRequest | undefined
  /** Output returned before the end; `undefined` when the wrapper cannot tell. */
  output?: OutputSeen | undefined
  metadata?: SettlementMetadata | undefined
}

/** The end of a settlement written synchronously. */
const SETTLED: Promise<void> = Promise.resolve()

/** What a {@link Settlement} reports when recording a call failed. */
export type SettlementErrorHandler = (error: unknown, info: { callId: string; model: string | undefined }) => void

/** Rough tokens in streamed or returned text: one per piece or four characters, whichever is more. */
export function tokensFromText(output: OutputSeen): number {
  return Math.max(output.pieces, Math.ceil(output.characters / 4))
}

/** Characters of the text in a message list, prompt or response part (images, files and raw data skipped). */
export function textLength(value: unknown, depth = 0): number {
  if (depth > 8) return 0
  if (typeof value === 'string') return value.length
  if (Array.isArray(value)) return value.reduce<number>((sum, item) => sum + textLength(item, depth + 1), 0)
  if (value !== null && typeof value === 'object') {
    let sum = 0
    for (const [key, inner] of Object.entries(value)) {
      if (key === 'image_url' || key === 'source' || key === 'data' || key === 'file_data' || key === 'b64_json')
        continue
      sum += textLength(inner, depth + 1)
    }
    return sum
  }
  return 0
}

/** The request's input plus `outputTokens` of output, USD, or `undefined` when the model has no price. */
function requestCost(
  request: EstimateRequest,
  model: string,
  provider: string | undefined,
  outputTokens: number,
): number | undefined {
  try {
    const priced = estimateCost({
      model,
      ...(provider !== undefined ? { provider } : {}),
      ...(request.inputTokens !== undefined ? { inputTokens: request.inputTokens } : {}),
      ...(request.messages !== undefined && request.inputTokens === undefined
        ? { messages: request.messages as readonly EstimateMessage[] | string }
        : {}),
      ...(request.messages === undefined && request.inputTokens === undefined ? { inputTokens: 0 } : {}),
      maxOutputTokens: outputTokens,
    })
    return priced.priced && priced.totalCost > 0 ? priced.totalCost : undefined
  } catch {
    return undefined
  }
}

/** The commit for a call that ended as `ending` (the policy described at the top of this module). */
export function commitFor(reservation: Pick<Reservation, 'estimateUsd' | 'model'>, ending: CallEnding): CommitInput {
  const model = ending.model ?? reservation.model
  const base: Exclude<CommitInput, number> = {}
  if (model !== undefined) base.model = model
  if (ending.provider !== undefined) base.provider = ending.provider
  // A completed call without metadata passes the shared empty object (nothing to copy or validate); any other gets a
  // copy of its own, never changed in place.
  let metadata: Readonly<SettlementMetadata> =
    ending.exit !== 'completed'
      ? { ...ending.metadata, ended: ending.exit }
      : ending.metadata === undefined
        ? EMPTY_METADATA
        : { ...ending.metadata }
  if (ending.cacheHit === true) return { ...base, status: 'cache_hit', cost: 0 }
  const reported = ending.exit === 'completed' ? 'success' : 'aborted'
  // The two common endings fill `base` in place (the same fields, in the same order, as a copy of it would have).
  if (ending.cost !== undefined) {
    base.cost = ending.cost
    base.status = reported
    base.metadata = metadata
    return base
  }
  if (ending.usage !== undefined && ending.usage !== null) {
    base.usage = ending.usage
    base.status = reported
    base.metadata = metadata
    return base
  }
  const status = ending.exit === 'completed' ? 'estimated' : ending.exit === 'failed' ? 'failure' : 'aborted'
  if (ending.output !== undefined) metadata = { ...metadata, outputTokensSeen: tokensFromText(ending.output) }
  if (ending.partialUsage !== undefined && ending.partialUsage !== null)
    return { ...base, usage: ending.partialUsage, status, estimated: true, metadata }
  if (ending.request !== undefined && ending.output !== undefined && model !== undefined) {
    const cost = requestCost(
      ending.request,
      model,
      ending.provider ?? ending.request.provider,
      tokensFromText(ending.output),
    )
    if (cost !== undefined) return { ...base, cost, status, estimated: true, metadata }
  }
  return {
    ...base,
    cost: reservation.estimateUsd,
    status,
    estimated: true,
    metadata: { ...metadata, chargedAt: 'reservation' },
  }
}

/**
 * Commits or releases one reservation, exactly once: whatever happens first wins and later calls get the same
 * promise. Never rejects: failures go to the error handler.
 */
export class Settlement {
  #done: Promise<void> | undefined
  #outcome: CommitOutcome | undefined
  readonly #onError: SettlementErrorHandler | undefined

  constructor(
    /** The reservation being settled. */
    readonly reservation: Reservation,
    onError?: SettlementErrorHandler,
  ) {
    this.#onError = onError
  }

  /** True once commit or release has started. */
  get settled(): boolean {
    return this.#done !== undefined
  }

  /** What the commit recorded, once `end` has resolved with a commit (`undefined` before, or after a release). */
  get outcome(): CommitOutcome | undefined {
    return this.#outcome
  }

  /** Commits the call as it ended (once). */
  end(ending: CallEnding): Promise<void> {
    return this.endNow(ending) ?? SETTLED
  }

  /**
   * {@link end}, but `undefined` when the commit was written synchronously (the memory store): nothing to wait for.
   * Internal to the wrappers.
   */
  endNow(ending: CallEnding): Promise<void> | undefined {
    if (this.#done !== undefined) return this.#done
    const pending = this.#commit(ending)
    this.#done = pending ?? SETTLED
    return pending
  }

  /** Releases the hold (once): the provider never answered, so nothing was billed. */
  release(): Promise<void> {
    this.#done ??= this.reservation.release().catch((error: unknown) => this.#report(error, undefined))
    return this.#done
  }

  /** Writes the commit; `undefined` when it was written synchronously, else a promise of its end. */
  #commit(ending: CallEnding): Promise<void> | undefined {
    let input: CommitInput
    try {
      input = commitFor(this.reservation, ending)
    } catch (error) {
      this.#report(error, ending.model)
      input = { cost: this.reservation.estimateUsd, status: 'estimated', estimated: true }
    }
    let written: CommitOutcome | Promise<CommitOutcome>
    try {
      const reservation = this.reservation
      written = reservation instanceof HeldReservation ? reservation.commitNow(input) : reservation.commit(input)
    } catch (error) {
      return this.#failed(ending, input, error)
    }
    if (!(written instanceof Promise)) {
      this.#outcome = written
      return undefined
    }
    return written.then(
      (outcome) => void (this.#outcome = outcome),
      (error: unknown) => this.#failed(ending, input, error),
    )
  }

  /** A commit that failed: retried without usage, or charged the hold (flagged); reported either way. */
  async #failed(ending: CallEnding, input: CommitInput, error: unknown): Promise<void> {
    // What looked like a response held no usage after all: settle it as a call without usage.
    if (isBudgetError(error) && error.code === 'MISSING_USAGE' && ending.usage !== undefined)
      return this.#commit({ ...ending, usage: undefined })
    this.#report(error, ending.model)
    if (isBudgetError(error) && error.code === 'STORAGE') return
    // The usage could not be priced (a served model without a price): the hold is charged, flagged; never leaked.
    const fallback: Exclude<CommitInput, number> = {
      cost: this.reservation.estimateUsd,
      status: ending.exit === 'completed' ? 'estimated' : ending.exit === 'failed' ? 'failure' : 'aborted',
      estimated: true,
      metadata: {
        ...ending.metadata,
        recordError: (error instanceof Error ? error.message : String(error)).slice(0, 200),
      },
    }
    if (typeof input === 'object' && input.model !== undefined) fallback.model = input.model
    if (typeof input === 'object' && input.provider !== undefined) fallback.provider = input.provider
    await this.reservation.commit(fallback).then(
      (outcome) => void (this.#outcome = outcome),
      (second: unknown) => this.#report(second, ending.model),
    )
  }

  #report(error: unknown, model: string | undefined): void {
    try {
      this.#onError?.(error, { callId: this.reservation.callId, model })
    } catch {
      // A throwing error handler must not turn a settled call into a failed one.
    }
  }
}
