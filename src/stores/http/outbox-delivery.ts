/**
 * Delivery of `httpStore`'s outbox: commits the server could not take wait in the outbox, oldest first, and are
 * sent again (each with its entry id as `Idempotency-Key`, and idempotent by call id on the server) when the
 * server answers again, while new commits queue behind them to keep the order.
 *
 * @internal Used by `httpStore`.
 */
import { isBudgetError, type StorageError } from '../../errors.js'
import type { HttpOutbox, HttpOutboxEntry } from '../http-outbox.js'
import type { CommitRequest } from '../types.js'
import { randomId, type Call } from './caller.js'

export class OutboxDelivery {
  // Unknown at start: a previous process may have left entries.
  #hasEntries = true
  #draining: Promise<number> | null = null
  #timer: ReturnType<typeof setTimeout> | null = null
  // Bumped on every enqueue, so that a drain or a commit that read the outbox as empty can tell whether an entry
  // was added meanwhile.
  #version = 0
  #closed = false

  constructor(
    readonly outbox: HttpOutbox,
    private readonly call: Call,
    private readonly retryMs: number,
    private readonly onUndeliverable: (entry: HttpOutboxEntry, error: unknown) => void,
  ) {}

  /** Whether the outbox may hold entries (cheap check before reading it). */
  get mayHaveEntries(): boolean {
    return this.#hasEntries
  }

  /** Tries a delivery after `delayMs`, unless one is already due or running. */
  schedule(delayMs: number): void {
    if (this.#closed || this.#timer !== null || this.#draining !== null) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      void this.drain().catch(() => undefined)
    }, delayMs)
    ;(this.#timer as { unref?: () => void }).unref?.()
  }

  /** The entries now (and notes when the outbox is known to be empty). */
  async read(): Promise<HttpOutboxEntry[]> {
    const version = this.#version
    const entries = await this.outbox.entries()
    if (entries.length === 0 && version === this.#version) this.#hasEntries = false
    return entries
  }

  /** Delivers what it can, in order; resolves with the number of commits still waiting. */
  drain(): Promise<number> {
    if (this.#draining !== null) return this.#draining
    this.#draining = (async () => {
      let left = 0
      try {
        let pending = await this.read()
        while (pending.length > 0 && !this.#closed) {
          for (const entry of pending) {
            try {
              await this.call('commit', entry.request, entry.id, 0)
            } catch (error) {
              if (isBudgetError(error) && error.code === 'STORAGE' && (error as StorageError).retryable) {
                left = (await this.outbox.entries()).length
                return left
              }
              this.onUndeliverable(entry, error)
            }
            await this.outbox.remove(entry.id)
          }
          pending = await this.read()
        }
        left = pending.length
        return left
      } finally {
        this.#draining = null
        if (this.#hasEntries) this.schedule(left === 0 ? 0 : this.retryMs)
      }
    })()
    return this.#draining
  }

  /** Puts a commit in the outbox; `serverUp` says whether to try delivering it at once. */
  async enqueue(request: CommitRequest, serverUp: boolean): Promise<void> {
    await this.outbox.add({ id: randomId(), request: structuredClone(request), queuedAt: Date.now() })
    this.#version++
    this.#hasEntries = true
    this.schedule(serverUp ? 0 : this.retryMs)
  }

  /** One last delivery attempt, then the outbox is closed (a durable one keeps what is left). */
  async close(): Promise<void> {
    if (this.#hasEntries) await this.drain().catch(() => undefined)
    this.#closed = true
    if (this.#timer !== null) clearTimeout(this.#timer)
    this.#timer = null
    await this.outbox.close()
  }
}
