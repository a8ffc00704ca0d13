/**
 * `httpStore`'s circuit breaker: after `failureThreshold` consecutive failed attempts, attempts are refused for
 * `cooldownMs`; then one probe is let through, and its outcome closes or reopens the circuit.
 *
 * @internal Used by `httpStore`.
 */

/** The breaker's state as `HttpStore.circuit` shows it. */
export type CircuitState = 'closed' | 'open' | 'half-open'

export class CircuitBreaker {
  #failures = 0
  #openUntil = 0
  #probing = false
  readonly #threshold: number
  readonly #cooldownMs: number
  readonly #onSuccess: () => void

  /** `options` `null` disables the breaker (every attempt goes out). `onSuccess` runs after every success. */
  constructor(options: { failureThreshold: number; cooldownMs: number } | null, onSuccess: () => void) {
    this.#threshold = options?.failureThreshold ?? Number.POSITIVE_INFINITY
    this.#cooldownMs = options?.cooldownMs ?? 0
    this.#onSuccess = onSuccess
  }

  /** Consecutive failed attempts. */
  get failures(): number {
    return this.#failures
  }

  get cooldownMs(): number {
    return this.#cooldownMs
  }

  get state(): CircuitState {
    if (this.#failures < this.#threshold) return 'closed'
    return Date.now() < this.#openUntil ? 'open' : 'half-open'
  }

  /** Whether an attempt may go out now; takes the half-open probe slot when it does. */
  admit(): boolean {
    const state = this.state
    if (state === 'closed') return true
    if (state === 'open' || this.#probing) return false
    this.#probing = true
    return true
  }

  /** The server answered (whatever it said). */
  succeeded(): void {
    this.#failures = 0
    this.#probing = false
    this.#onSuccess()
  }

  /** The attempt got no usable answer. */
  failed(): void {
    this.#probing = false
    this.#failures++
    if (this.#failures >= this.#threshold) this.#openUntil = Date.now() + this.#cooldownMs
  }
}
