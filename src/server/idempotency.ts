/**
 * The server's idempotency cache: `Idempotency-Key` answers per tenant, bounded in entries, bytes and age.
 *
 * A first request with a key is marked in flight; a concurrent request with the same key gets 409; when the
 * first finishes, its answer is stored and replays with the same payload get it back, while the same key
 * with another payload gets 422. Answers that say "try again" (5xx) are not stored, so a retry runs again.
 *
 * Tenants share the bounds fairly: when the cache is full, the tenant holding the most entries (or bytes)
 * loses its own oldest answer, so one tenant's traffic never evicts another tenant's remembered answers while
 * that tenant holds no more than its share.
 *
 * @internal Used by the handler.
 */
import { sha256Hex } from '../internal/sha256.js'

/** A stored answer. */
export interface CachedAnswer {
  status: number
  body: string
}

/** Bodies up to this length are their own idempotency fingerprint; longer ones are hashed. */
const PLAIN_FINGERPRINT_MAX = 600

/** The fingerprint of a request: its method, path and body text (hashed when long). */
export function fingerprintOf(method: string, path: string, text: string): string {
  const plain = `${method} ${path}\n${text}`
  return plain.length <= PLAIN_FINGERPRINT_MAX ? plain : sha256Hex(plain)
}

/**
 * The fingerprint of a batch operation, computed only when its key is seen again: serialising every body again
 * only to compare it with a key that is almost never reused cost more than the rest of the server's work on it.
 * It holds the parsed body meanwhile (counted as `bytes`); one object per operation, no closure.
 */
export class DeferredFingerprint {
  constructor(
    readonly bytes: number,
    readonly method: string,
    readonly path: string,
    readonly value: unknown,
  ) {}

  /** The fingerprint the body would have had as a lone request's JSON text. */
  text(): string {
    return fingerprintOf(this.method, this.path, JSON.stringify(this.value))
  }
}

/** What identifies a request's payload: a string, or a deferred one. */
export type Fingerprint = string | DeferredFingerprint

const fingerprintText = (fingerprint: Fingerprint): string =>
  typeof fingerprint === 'string' ? fingerprint : fingerprint.text()

interface Entry {
  fingerprint: Fingerprint
  answer: CachedAnswer | null // null while in flight
  bytes: number
  expiresAt: number
}

/** One tenant's keys, oldest first (Map iteration order is insertion order, refreshed on use). */
interface Share {
  entries: Map<string, Entry>
  bytes: number
}

/** Limits of the cache. */
export interface IdempotencyCacheOptions {
  /** Most remembered keys, all tenants together. */
  maxEntries: number
  /** Most bytes of stored answers, all tenants together. */
  maxBytes: number
  /** How long an answer is remembered, ms. */
  ttlMs: number
}

/** What {@link IdempotencyCache.begin} found. */
export type BeginResult =
  { kind: 'new' } | { kind: 'replay'; answer: CachedAnswer } | { kind: 'in-flight' } | { kind: 'mismatch' }

/** Per-tenant LRU maps of idempotency keys with a TTL and a shared, fairly divided entry and byte budget. */
export class IdempotencyCache {
  readonly #shares = new Map<string, Share>()
  readonly #options: IdempotencyCacheOptions
  readonly #now: () => number
  #size = 0
  #bytes = 0

  constructor(options: IdempotencyCacheOptions, now: () => number) {
    this.#options = options
    this.#now = now
  }

  /** Number of remembered keys. */
  get size(): number {
    return this.#size
  }

  /** Bytes of remembered answers. */
  get byteSize(): number {
    return this.#bytes
  }

  /** Looks the tenant's key up; when it is new, marks it in flight. */
  begin(tenant: string, key: string, fingerprint: Fingerprint): BeginResult {
    const now = this.#now()
    let share = this.#shares.get(tenant)
    const entry = share?.entries.get(key)
    if (share !== undefined && entry !== undefined) {
      if (entry.expiresAt > now) {
        // A deferred fingerprint is worked out once, when the key is first seen again; the text replaces it.
        if (typeof entry.fingerprint !== 'string') entry.fingerprint = entry.fingerprint.text()
        if (entry.fingerprint !== fingerprintText(fingerprint)) return { kind: 'mismatch' }
        if (entry.answer === null) return { kind: 'in-flight' }
        share.entries.delete(key) // refresh recency
        share.entries.set(key, entry)
        return { kind: 'replay', answer: entry.answer }
      }
      this.#remove(tenant, share, key, entry)
    }
    if (share === undefined || !this.#shares.has(tenant)) {
      share = { entries: new Map(), bytes: 0 }
      this.#shares.set(tenant, share)
    }
    const bytes = key.length * 2 + (typeof fingerprint === 'string' ? fingerprint.length * 2 : fingerprint.bytes) + 64
    share.entries.set(key, { fingerprint, answer: null, bytes, expiresAt: now + this.#options.ttlMs })
    share.bytes += bytes
    this.#size++
    this.#bytes += bytes
    this.#evict(now)
    return { kind: 'new' }
  }

  /** Stores the answer of a request begun with {@link begin}, or forgets the key when it should run again. */
  finish(tenant: string, key: string, answer: CachedAnswer, store: boolean): void {
    const share = this.#shares.get(tenant)
    const entry = share?.entries.get(key)
    if (share === undefined || entry === undefined || entry.answer !== null) return
    if (!store) {
      this.#remove(tenant, share, key, entry)
      return
    }
    const now = this.#now()
    const extra = answer.body.length * 2
    entry.answer = answer
    entry.bytes += extra
    entry.expiresAt = now + this.#options.ttlMs
    share.bytes += extra
    this.#bytes += extra
    this.#evict(now)
  }

  #remove(tenant: string, share: Share, key: string, entry: Entry): void {
    share.entries.delete(key)
    share.bytes -= entry.bytes
    this.#size--
    this.#bytes -= entry.bytes
    if (share.entries.size === 0) this.#shares.delete(tenant)
  }

  #full(): boolean {
    return this.#size > this.#options.maxEntries || this.#bytes > this.#options.maxBytes
  }

  #evict(now: number): void {
    if (!this.#full()) return
    // Expired answers first. In-flight entries are kept: they are bounded by the number of concurrent requests.
    for (const [tenant, share] of this.#shares) {
      for (const [key, entry] of share.entries) {
        if (entry.expiresAt > now) break
        if (entry.answer !== null) this.#remove(tenant, share, key, entry)
      }
    }
    // Then the oldest answers of the largest share, down to 1/16 below the bounds at once: one pass over a share
    // per eviction round instead of one scan per request (a Map iterated from its start walks its deleted slots).
    const { maxEntries, maxBytes } = this.#options
    const lowEntries = maxEntries - Math.floor(maxEntries / 16)
    const lowBytes = maxBytes - Math.floor(maxBytes / 16)
    const over = (): boolean => this.#size > lowEntries || this.#bytes > lowBytes
    const exhausted = new Set<Share>()
    while (over()) {
      const byBytes = this.#bytes > lowBytes
      const weight = (share: Share): number => (byBytes ? share.bytes : share.entries.size)
      let largest: [string, Share] | undefined
      let second = 0
      for (const item of this.#shares) {
        if (exhausted.has(item[1])) continue
        if (largest === undefined || weight(item[1]) > weight(largest[1])) {
          if (largest !== undefined) second = Math.max(second, weight(largest[1]))
          largest = item
        } else second = Math.max(second, weight(item[1]))
      }
      if (largest === undefined) return
      const [tenant, share] = largest
      let removed = false
      for (const [key, entry] of share.entries) {
        if (removed && (!over() || weight(share) < second)) break
        if (entry.answer === null) continue
        this.#remove(tenant, share, key, entry)
        removed = true
      }
      if (!removed) exhausted.add(share)
    }
  }
}
