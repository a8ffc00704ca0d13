/**
 * Releases of reserves whose outcome `httpStore` does not know (the attempt timed out, the connection broke, the
 * server answered 5xx): the request may have been applied, or may still be applied later. Releasing the call id
 * removes its holds if they exist, and otherwise leaves a tombstone on the server until the hold would have
 * expired, so a reserve that arrives late changes nothing. Each release is retried in the background until it is
 * delivered, refused for good, or the hold would have expired anyway.
 *
 * @internal Used by `httpStore`.
 */
import { isBudgetError, type StorageError } from '../../errors.js'
import type { ReserveRequest } from '../types.js'
import type { Call } from './caller.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export class UnknownReserveReleases {
  readonly #pending = new Set<Promise<void>>()
  #closed = false

  constructor(
    private readonly call: Call,
    private readonly retryMs: number,
  ) {}

  /** Number of releases not yet delivered. */
  get size(): number {
    return this.#pending.size
  }

  /** Starts releasing `request`'s call id in the background. */
  add(request: ReserveRequest): void {
    const started = Date.now()
    const lifetime = Math.max(0, request.holdExpiresAt - request.now)
    const run = async (): Promise<void> => {
      for (let attempt = 0; !this.#closed && Date.now() - started <= lifetime; attempt++) {
        const elapsed = Date.now() - started
        try {
          await this.call(
            'release',
            { callId: request.callId, now: request.now + elapsed, holdExpiresAt: request.holdExpiresAt },
            undefined,
            0,
          )
          return
        } catch (error) {
          if (!(isBudgetError(error) && error.code === 'STORAGE' && (error as StorageError).retryable)) return
        }
        await sleep(Math.min(this.retryMs, 50 * 2 ** attempt))
      }
    }
    const promise = run().finally(() => this.#pending.delete(promise))
    this.#pending.add(promise)
  }

  /** Resolves when every release started so far is delivered (or given up). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending])
  }

  /** Stops retrying; a release not delivered by then leaves its hold to expire by itself. */
  close(): void {
    this.#closed = true
  }
}
