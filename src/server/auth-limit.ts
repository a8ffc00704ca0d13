/**
 * A per-client limit on failed authentication attempts: after `max` failures from one client address within
 * `windowMs`, every request from that address that needs a token is answered 429 with `Retry-After` until the
 * window ends, whether its token is right or not (so guessing learns nothing more). Other clients are not
 * affected. At most {@link MAX_TRACKED_CLIENTS} addresses are tracked (the oldest are forgotten).
 *
 * @internal Used by the handler.
 */
import { HttpError } from './errors.js'

/** Most client addresses tracked at once. */
export const MAX_TRACKED_CLIENTS = 10_000

interface Window {
  failures: number
  endsAt: number
}

/** Counts failed attempts per client and refuses a client that has too many. */
export class AuthFailureLimit {
  readonly #windows = new Map<string, Window>()
  readonly #max: number
  readonly #windowMs: number
  readonly #now: () => number

  constructor(max: number, windowMs: number, now: () => number) {
    this.#max = max
    this.#windowMs = windowMs
    this.#now = now
  }

  /** Throws a 429 {@link HttpError} when `client` has used up its failed attempts. */
  check(client: string | null): void {
    if (client === null) return
    const window = this.#windows.get(client)
    if (window === undefined) return
    const now = this.#now()
    if (window.endsAt <= now) {
      this.#windows.delete(client)
      return
    }
    if (window.failures < this.#max) return
    const seconds = Math.max(1, Math.ceil((window.endsAt - now) / 1000))
    throw new HttpError(
      429,
      'TOO_MANY_FAILED_AUTHENTICATIONS',
      `too many failed authentication attempts from this client; retry in ${seconds} s`,
      undefined,
      {
        'retry-after': String(seconds),
      },
    )
  }

  /** Counts one failed attempt of `client`. */
  failed(client: string | null): void {
    if (client === null) return
    const now = this.#now()
    let window = this.#windows.get(client)
    if (window === undefined || window.endsAt <= now) {
      window = { failures: 0, endsAt: now + this.#windowMs }
      this.#windows.delete(client)
      this.#windows.set(client, window)
      if (this.#windows.size > MAX_TRACKED_CLIENTS) this.#windows.delete(this.#windows.keys().next().value!)
    }
    window.failures++
  }
}
