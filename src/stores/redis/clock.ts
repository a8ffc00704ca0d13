/**
 * The Redis server's clock as seen from this process: the local clock plus an offset measured from the
 * server time that every script returns (and from the store's first contact with Redis).
 *
 * @internal
 */

/** The server clock of one store. */
export interface ServerClock {
  /** Server time estimate (local clock plus the offset); the local clock alone with `time: 'client'`. */
  now(): number
  /** True once a server time sample has been taken (always true with `time: 'client'`). */
  readonly synced: boolean
  /** The current offset, server minus local, in ms. */
  readonly offset: number
  /** Takes a sample: the server's time in ms, and the local instants the request was sent and answered. */
  sample(serverMs: number, sentAt: number, receivedAt: number, fresh?: boolean): void
}

/** A clock that follows the server (`follow`) or the local clock only. */
export function serverClock(local: { now(): number }, follow: boolean): ServerClock {
  let offset = 0
  let synced = !follow
  let bestRoundTrip = Number.POSITIVE_INFINITY
  let lastSampleAt = Number.NEGATIVE_INFINITY
  return {
    now: follow ? () => local.now() + offset : () => local.now(),
    get synced() {
      return synced
    },
    get offset() {
      return offset
    },
    /** Keeps a sample when its round trip is short (queueing delay makes it noisy), or when the last is old. */
    sample(serverMs, sentAt, receivedAt, fresh = false) {
      if (!follow || !Number.isFinite(serverMs)) return
      const roundTrip = Math.max(0, receivedAt - sentAt)
      const stale = fresh || !synced || receivedAt - lastSampleAt > 5_000
      if (!stale && roundTrip > bestRoundTrip * 2 + 2) return
      bestRoundTrip = stale ? roundTrip : Math.min(bestRoundTrip, roundTrip)
      lastSampleAt = receivedAt
      // whole milliseconds: instants computed from the clock stay integers, which the scripts format and parse
      // on their cheap integer path (the offset is only accurate to half a round trip anyway)
      offset = Math.round(serverMs - (sentAt + receivedAt) / 2)
      synced = true
    },
  }
}
