/**
 * The server's idempotency cache: `Idempotency-Key` answers per tenant, bounded in entries, bytes and age.
 *
 * A first request with a key is marked in flight; a concurrent request with the same key gets 409; when the
 * first finishes, its answer is stored and replays with the same payload get it back, while the same key
 * with another payload gets 422. Answers that say "try again" (5xx) are not stored, so a retry runs again.
 *
 * @internal Used by the handler.
 */

/** A stored answer. */
export interface CachedAnswer {
  status: number
  body: string
}

interface Entry {
  fingerprint: string
  answer: CachedAnswer | null // null while in flight
  bytes: number
  expiresAt: number
}

/** Limits of the cache. */
export interface IdempotencyCacheOptions {
  /** Most remembered keys. */
  maxEntries: number
  /** Most bytes of stored answers. */
  maxBytes: number
  /** How long an answer is remembered, ms. */
  ttlMs: number
}

/** What {@link IdempotencyCache.begin} found. */
export type BeginResult =
  | { kind: 'new' }
  | { kind: 'replay'; answer: CachedAnswer }
  | { kind: 'in-flight' }
  | { kind: 'mismatch' }

/** An LRU map of idempotency keys with a TTL and a byte budget. */
export class IdempotencyCache {
  private readonly entries = new Map<string, Entry>()
  private bytes = 0

  constructor(
    private readonly options: IdempotencyCacheOptions,
    private readonly now: () => number,
  ) {}

  /** Number of remembered keys. */
  get size(): number {
    return this.entries.size
  }

  /** Bytes of remembered answers. */
  get byteSize(): number {
    return this.bytes
  }

  /** Looks the key up; when it is new, marks it in flight. */
  begin(key: string, fingerprint: string): BeginResult {
    const now = this.now()
    const entry = this.entries.get(key)
    if (entry !== undefined && entry.expiresAt > now) {
      if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' }
      if (entry.answer === null) return { kind: 'in-flight' }
      this.entries.delete(key) // refresh recency
      this.entries.set(key, entry)
      return { kind: 'replay', answer: entry.answer }
    }
    if (entry !== undefined) this.remove(key, entry)
    const bytes = key.length * 2 + fingerprint.length * 2 + 64
    this.entries.set(key, { fingerprint, answer: null, bytes, expiresAt: now + this.options.ttlMs })
    this.bytes += bytes
    this.evict()
    return { kind: 'new' }
  }

  /** Stores the answer of a request begun with {@link begin}, or forgets the key when it should run again. */
  finish(key: string, answer: CachedAnswer, store: boolean): void {
    const entry = this.entries.get(key)
    if (entry === undefined || entry.answer !== null) return
    if (!store) {
      this.remove(key, entry)
      return
    }
    const extra = answer.body.length * 2
    entry.answer = answer
    entry.bytes += extra
    entry.expiresAt = this.now() + this.options.ttlMs
    this.bytes += extra
    this.evict()
  }

  private remove(key: string, entry: Entry): void {
    this.entries.delete(key)
    this.bytes -= entry.bytes
  }

  private evict(): void {
    if (this.entries.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) return
    const now = this.now()
    // Oldest first (Map iteration order is insertion order, refreshed on use). In-flight entries are kept:
    // they are bounded by the number of concurrent requests.
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= this.options.maxEntries && this.bytes <= this.options.maxBytes) {
        if (entry.expiresAt > now) break
      }
      if (entry.answer !== null || entry.expiresAt <= now) this.remove(key, entry)
    }
  }
}
