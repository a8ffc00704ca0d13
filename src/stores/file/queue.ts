/**
 * The group-commit queue of the file store: requests issued while a batch is running wait here and run together in
 * the next batch (one lock, one frame, one `fdatasync`). The queue knows nothing of files; the store gives it the
 * function that runs a batch.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import { StorageError } from '../../errors.js'
import type { LedgerState } from '../ledger/ledger.js'
import type { Operation } from './operations.js'

/** One request waiting in the queue. */
export interface Pending {
  /** The journal line of a state-changing request. */
  line?: string
  operation?: Operation
  /** A read, answered from the caught-up state. */
  read?: (state: LedgerState) => unknown
  /** Compact after this batch. */
  compact?: boolean
  resolve(value: unknown): void
  reject(error: unknown): void
  /** Set by the batch: how to answer once the batch is durable. */
  outcome?: { ok: true; value: unknown } | { ok: false; error: unknown }
}

/** Runs one batch; puts requests it could not take back at the front of the queue with `requeue`. */
export type BatchRunner = (batch: Pending[], requeue: (rest: Pending[]) => void) => Promise<void>

/** Requests in arrival order, run in batches of at most `maxBatch`, one batch at a time. */
export class GroupCommitQueue {
  readonly #queue: Pending[] = []
  readonly #run: BatchRunner
  readonly #maxBatch: number
  #draining: Promise<void> | null = null
  #closed = false

  constructor(run: BatchRunner, maxBatch: number) {
    this.#run = run
    this.#maxBatch = maxBatch
  }

  /** Queues a request; resolves with its answer once its batch is durable. */
  enqueue<T>(pending: Omit<Pending, 'resolve' | 'reject'>): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError('file', 'the store is closed', { retryable: false }))
    return new Promise<T>((resolve, reject) => {
      const entry = pending as Pending
      entry.resolve = resolve as (value: unknown) => void
      entry.reject = reject
      this.#queue.push(entry)
      this.#draining ??= this.#drain()
    })
  }

  /** Refuses new requests and waits for the queued ones. */
  async close(): Promise<void> {
    this.#closed = true
    while (this.#draining !== null) await this.#draining
  }

  async #drain(): Promise<void> {
    await Promise.resolve() // let the caller's synchronous burst queue up: it becomes one group commit
    const requeue = (rest: Pending[]): void => {
      this.#queue.unshift(...rest)
    }
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#maxBatch)
      try {
        await this.#run(batch, requeue)
      } catch (error) {
        // The runner answers every request itself; this only guards the queue against a bug in it.
        for (const p of batch) p.reject(new StorageError('file', `internal error: ${String(error)}`, { cause: error }))
      }
    }
    this.#draining = null // synchronously after the last check of the queue, so no request is left behind
  }
}
