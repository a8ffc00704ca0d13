/**
 * The held reservation: the object `reserve()` returns. It commits the actual cost or releases the holds exactly once
 * (both idempotent), through the manager's writer.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import type { PricedCommit } from './commit-pricing.js'
import type { CommitInput, CommitOutcome, Reservation } from './manager-types.js'
import { nanoToUsd } from './money.js'
import type { CallContext } from './scopes.js'

/** A commit to write: for a reservation or a direct record. */
export interface CommitWrite<P> {
  callId: string
  context: CallContext
  plan: P
  startedAt: number
  priced: PricedCommit
  modelRequested: string | undefined
  estimateNano: number | null
  guarded: boolean
  /** The all-time keys of the scopes the call names (spend tracked budget or not). */
  tracked: readonly string[]
}

/** What a held reservation needs from its manager. */
export interface ReservationWriter<P> {
  price(
    input: CommitInput | undefined,
    fallback: { nano: number; tokens: number; model: string | undefined; provider: string | undefined },
  ): PricedCommit
  /** The outcome itself when the store wrote it synchronously, else a promise of it; a failure may be thrown. */
  commit(write: CommitWrite<P>): CommitOutcome | Promise<CommitOutcome>
  release(callId: string): Promise<void>
}

/** The first outcome again, as a repeated commit sees it. */
function repeated(first: CommitOutcome): CommitOutcome {
  return { ...first, duplicate: true, overshoot: [], record: null }
}

export class HeldReservation<P extends { entries: readonly unknown[] }> implements Reservation {
  /** The first commit's outcome: itself when the store wrote it synchronously, else a promise of it. */
  private outcome: CommitOutcome | Promise<CommitOutcome> | undefined
  private released = false

  constructor(
    private readonly writer: ReservationWriter<P>,
    readonly callId: string,
    readonly context: CallContext,
    private readonly estimateNano: number,
    private readonly estimateTokens: number,
    readonly model: string | undefined,
    private readonly startedAt: number,
    readonly holdExpiresAt: number,
    private readonly plan: P,
    readonly guarded: boolean,
    private readonly unguarded: boolean,
    private readonly tracked: readonly string[],
  ) {}

  get estimateUsd(): number {
    return nanoToUsd(this.estimateNano)
  }

  commit(input?: CommitInput): Promise<CommitOutcome> {
    try {
      const outcome = this.commitNow(input)
      return outcome instanceof Promise ? outcome : Promise.resolve(outcome)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * {@link commit}, answered without a promise when the store wrote it synchronously (the memory store); a failure
   * is thrown. Internal: `Settlement` uses it so a call against the memory store waits for nothing.
   */
  commitNow(input?: CommitInput): CommitOutcome | Promise<CommitOutcome> {
    const first = this.outcome
    if (first !== undefined) return first instanceof Promise ? first.then(repeated) : repeated(first)
    const priced = this.writer.price(input, {
      nano: this.estimateNano,
      tokens: this.estimateTokens,
      model: this.model,
      provider: this.context.provider,
    })
    if (this.released) {
      throw new InvalidInputError(
        'reservation',
        `reservation ${this.callId} was released; it cannot be committed (use manager.record() for spend without a reservation)`,
      )
    }
    const outcome = this.writer.commit({
      callId: this.callId,
      context: this.context,
      plan: this.plan,
      startedAt: this.startedAt,
      priced,
      modelRequested: this.model,
      estimateNano: this.estimateNano,
      guarded: !this.unguarded,
      tracked: this.tracked,
    })
    this.outcome = outcome
    // A failed write can be retried: the store is idempotent by call id.
    if (outcome instanceof Promise)
      outcome.catch(() => {
        if (this.outcome === outcome) this.outcome = undefined
      })
    return outcome
  }

  async release(): Promise<void> {
    if (this.outcome !== undefined || this.released) return
    this.released = true
    if (this.plan.entries.length === 0) return
    await this.writer.release(this.callId)
  }
}
