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

/** Decodes what a batch holds as bytes (its request, its answer); both were valid UTF-8 when they were read. */
const utf8 = new TextDecoder()

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
 * The remembered answers of one batch's keyed operations: one object for the whole batch instead of an entry, a
 * deferred fingerprint and an answer per operation (what the cache keeps survives the collector's young
 * generation, so fewer objects per key is less work for every remembered operation). Each key of the batch maps to
 * this object. An operation's fingerprint is its parsed body as JSON (the text a lone request would send), worked
 * out only when its key is seen again, from the batch's request parsed again (one buffer held instead of every
 * parsed body; parsed again once per batch, the keyed operations' fingerprints kept); its answer is held on its own
 * until the batch is answered, then as a range of the batch's answer. The request and (when it is ASCII, as answers
 * of numbers and booleans are) the answer are held as the UTF-8 bytes received and sent: outside the JavaScript heap,
 * so the collector neither copies them out of the young generation nor marks them while the batch is remembered.
 * Byte accounting: each key counts its own bytes; what the batch holds for its keys (the request, the fingerprints
 * worked out, the answer; bytes as bytes, strings at two bytes a character) counts once, for as long as any key of
 * the batch is remembered (any one keeps all of it alive).
 */
export class BatchAnswers {
  /**
   * Per operation: its key when this batch stored it. A key stored again in the same batch (its first answer was
   * not kept, e.g. a 5xx) is at a later index, so the last occurrence is the remembered one.
   */
  readonly #keys: (string | undefined)[]
  /** Per operation: its status once answered (0 while in flight). */
  readonly #status: Uint16Array
  /**
   * Per operation: where its answer body starts and ends in the batch's answer (characters of its text, which are
   * also its bytes when it is held as bytes: ASCII only).
   */
  readonly #range: Int32Array
  /** Per operation: its answer body until the batch's answer text exists. */
  #answers: (string | undefined)[] | null
  /** The batch's answer text, when it is not held as {@link #bytes} (it has characters beyond ASCII). */
  #text: string | null = null
  /** The batch's answer as UTF-8 bytes, when it is ASCII (so a range of characters is the same range of bytes). */
  #bytes: Uint8Array | null = null
  /** Keys of this batch still in the cache. */
  live = 0
  /** Bytes of what the batch holds ({@link heldBytes}) counted in the cache: 0 once no key of it is left. */
  charged = 0
  expiresAt = 0

  /** The batch's request: an operation's body is read again from it when its key comes back. */
  readonly #request: Uint8Array
  /** Operation `j`'s body in the parsed request text (as the batch's version writes it). */
  readonly #bodyAt: (parsed: unknown, j: number) => unknown
  /** Per operation: its path (the route's own string). */
  readonly #paths: (string | undefined)[]
  /** Per keyed operation: its fingerprint, once a key of the batch has come back. */
  #fingerprints: (string | undefined)[] | null = null
  #fingerprintBytes = 0

  constructor(
    /** The number of operations in the batch. */
    count: number,
    /** The batch's request as received, its UTF-8 bytes (held instead of every parsed body). */
    request: Uint8Array,
    /** Operation `j`'s body (the request object it stands for) in the parsed request text. */
    bodyAt: (parsed: unknown, j: number) => unknown,
  ) {
    this.#request = request
    this.#bodyAt = bodyAt
    this.#paths = new Array<string | undefined>(count)
    this.#keys = new Array<string | undefined>(count)
    this.#status = new Uint16Array(count)
    this.#range = new Int32Array(count * 2)
    this.#answers = new Array<string | undefined>(count)
  }

  /** Operation `i` goes to `path`. */
  operation(i: number, path: string): void {
    this.#paths[i] = path
  }

  /** Whether the batch's answer exists (until then its keys count as in flight for eviction). */
  get answered(): boolean {
    return this.#text !== null || this.#bytes !== null
  }

  /** Marks `key` as operation `i`'s. */
  add(key: string, i: number): void {
    this.#keys[i] = key
  }

  /** Bytes of what the batch holds for its keys: the request, the fingerprints worked out, the answer. */
  get heldBytes(): number {
    const held = this.#request.byteLength
    return held + (this.#bytes?.byteLength ?? 0) + (this.#text?.length ?? 0) * 2 + this.#fingerprintBytes
  }

  /** The fingerprint of operation `i`, as a lone request with its body would have. */
  fingerprintAt(i: number): string {
    const known = this.#fingerprints?.[i]
    if (known !== undefined) return known
    // The request parsed again, exactly as the batch was, and every operation with a path so far fingerprinted
    // (kept for the keys that come back later; the parsed bodies are not).
    const parsed: unknown = JSON.parse(utf8.decode(this.#request))
    const fingerprints = (this.#fingerprints ??= new Array<string | undefined>(this.#paths.length))
    for (let j = 0; j < fingerprints.length; j++) {
      const path = this.#paths[j]
      if (path === undefined || fingerprints[j] !== undefined) continue
      const fingerprint = fingerprintOf('POST', path, JSON.stringify(this.#bodyAt(parsed, j)))
      fingerprints[j] = fingerprint
      this.#fingerprintBytes += fingerprint.length * 2
    }
    return fingerprints[i]!
  }

  /** The fingerprint of operation `i` whose parsed body is `body` (at hand while the batch runs: nothing parsed). */
  fingerprintOfBody(i: number, body: unknown): string {
    return fingerprintOf('POST', this.#paths[i]!, JSON.stringify(body))
  }

  /** The fingerprint of `key`'s operation. */
  fingerprint(key: string): string {
    return this.fingerprintAt(this.#keys.lastIndexOf(key))
  }

  /** Whether operation `i` is still waiting for its answer. */
  inFlight(i: number): boolean {
    return this.#status[i] === 0
  }

  /** Operation `i`'s answer, to be remembered. */
  answer(i: number, answer: CachedAnswer): void {
    this.#status[i] = answer.status
    this.#answers![i] = answer.body
  }

  /** The remembered answer of `key`'s operation; `null` while it is in flight. */
  replay(key: string): CachedAnswer | null {
    const i = this.#keys.lastIndexOf(key)
    const status = this.#status[i]!
    if (status === 0) return null
    const start = this.#range[2 * i]!
    const end = this.#range[2 * i + 1]!
    const body =
      this.#bytes !== null
        ? utf8.decode(this.#bytes.subarray(start, end))
        : this.#text !== null
          ? this.#text.slice(start, end)
          : this.#answers![i]!
    return { status, body }
  }

  /** Operation `i`'s answer body is at `start`..`end` of the batch's answer (see {@link #range}). */
  place(i: number, start: number, end: number): void {
    this.#range[2 * i] = start
    this.#range[2 * i + 1] = end
  }

  /**
   * Holds the batch's answer (placed with {@link place}) instead of the per-operation answers: as `bytes`, its
   * UTF-8 encoding, when that has one byte per character (ASCII), else as `text`.
   */
  complete(text: string, bytes: Uint8Array): void {
    if (bytes.byteLength === text.length) this.#bytes = bytes
    else this.#text = text
    this.#answers = null
  }
}

/** A lone request's remembered key. */
interface Entry {
  fingerprint: string
  answer: CachedAnswer | null // null while in flight
  bytes: number
  expiresAt: number
}

/** One tenant's keys, oldest first (Map iteration order is insertion order, refreshed on use). */
interface Share {
  entries: Map<string, Entry | BatchAnswers>
  bytes: number
}

/** Whether an entry's answer is known (a batch's keys count as in flight until the whole batch is answered). */
const answered = (entry: Entry | BatchAnswers): boolean =>
  entry instanceof BatchAnswers ? entry.answered : entry.answer !== null

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

/** The answers of {@link IdempotencyCache.begin} without data, shared (one is returned for every batch operation). */
const NEW: BeginResult = Object.freeze({ kind: 'new' })
const IN_FLIGHT: BeginResult = Object.freeze({ kind: 'in-flight' })
const MISMATCH: BeginResult = Object.freeze({ kind: 'mismatch' })

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

  /**
   * Looks the tenant's key up; when it is new, marks it in flight. `fingerprint` is a lone request's fingerprint,
   * or the batch whose operation `i`, with parsed body `body`, this is (its fingerprint is worked out only if the
   * key is known).
   */
  begin(tenant: string, key: string, fingerprint: string | BatchAnswers, i = -1, body?: unknown): BeginResult {
    const now = this.#now()
    let share = this.#shares.get(tenant)
    const found = share?.entries.get(key)
    if (share !== undefined && found !== undefined) {
      if (found.expiresAt > now) {
        const text = typeof fingerprint === 'string' ? fingerprint : fingerprint.fingerprintOfBody(i, body)
        let answer: CachedAnswer | null
        if (found instanceof BatchAnswers) {
          const mismatch = found.fingerprint(key) !== text
          this.#recharge(share, found)
          if (mismatch) return MISMATCH
          answer = found.replay(key)
        } else {
          if (found.fingerprint !== text) return MISMATCH
          answer = found.answer
        }
        if (answer === null) return IN_FLIGHT
        share.entries.delete(key) // refresh recency
        share.entries.set(key, found)
        return { kind: 'replay', answer }
      }
      this.#remove(tenant, share, key, found)
    }
    if (share === undefined || !this.#shares.has(tenant)) {
      share = { entries: new Map(), bytes: 0 }
      this.#shares.set(tenant, share)
    }
    let bytes: number
    if (typeof fingerprint === 'string') {
      bytes = key.length * 2 + fingerprint.length * 2 + 64
      share.entries.set(key, { fingerprint, answer: null, bytes, expiresAt: now + this.#options.ttlMs })
    } else {
      bytes = key.length * 2 + 64
      if (fingerprint.live === 0) {
        // (a batch begins its keys while it runs, before it is answered)
        fingerprint.expiresAt = now + this.#options.ttlMs
        // The first key of the batch in the cache: what the batch holds counts from now.
        fingerprint.charged = fingerprint.heldBytes
        bytes += fingerprint.charged
      }
      fingerprint.add(key, i)
      fingerprint.live++
      share.entries.set(key, fingerprint)
    }
    share.bytes += bytes
    this.#size++
    this.#bytes += bytes
    this.#evict(now)
    return NEW
  }

  /** Stores the answer of a request begun with {@link begin}, or forgets the key when it should run again. */
  finish(tenant: string, key: string, answer: CachedAnswer, store: boolean): void {
    const share = this.#shares.get(tenant)
    const entry = share?.entries.get(key)
    if (share === undefined || entry === undefined || entry instanceof BatchAnswers || entry.answer !== null) return
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

  /**
   * Stores the answer of operation `i` of `batch` (begun with {@link begin} for `key`), or forgets the key when it
   * should run again. The answer is held on its own until {@link completeBatch}.
   */
  finishBatch(tenant: string, key: string, batch: BatchAnswers, i: number, answer: CachedAnswer, store: boolean): void {
    const share = this.#shares.get(tenant)
    if (share === undefined || share.entries.get(key) !== batch || !batch.inFlight(i)) return
    if (store) batch.answer(i, answer)
    else this.#remove(tenant, share, key, batch)
  }

  /**
   * `batch` has been answered with `text` (its operations' answers placed in it), encoded as `bytes`: it now holds
   * only that answer.
   */
  completeBatch(tenant: string, batch: BatchAnswers, text: string, bytes: Uint8Array): void {
    const now = this.#now()
    batch.complete(text, bytes)
    batch.expiresAt = now + this.#options.ttlMs
    const share = this.#shares.get(tenant)
    if (share === undefined) return
    this.#recharge(share, batch)
    this.#evict(now)
  }

  /** Counts what `batch` holds now (its answer text, fingerprints worked out) while any key of it is remembered. */
  #recharge(share: Share, batch: BatchAnswers): void {
    if (batch.live === 0) return
    const delta = batch.heldBytes - batch.charged
    batch.charged += delta
    share.bytes += delta
    this.#bytes += delta
  }

  #remove(tenant: string, share: Share, key: string, entry: Entry | BatchAnswers): void {
    share.entries.delete(key)
    this.#size--
    let bytes: number
    if (entry instanceof BatchAnswers) {
      bytes = key.length * 2 + 64
      // What the batch holds stays while any key of the batch does.
      if (--entry.live === 0) {
        bytes += entry.charged
        entry.charged = 0
      }
    } else bytes = entry.bytes
    share.bytes -= bytes
    this.#bytes -= bytes
    if (share.entries.size === 0) this.#shares.delete(tenant)
  }

  #full(): boolean {
    return this.#size > this.#options.maxEntries || this.#bytes > this.#options.maxBytes
  }

  #evict(now: number): void {
    if (!this.#full()) return
    // Expired answers first. In-flight entries are kept: they are bounded by the number of concurrent requests.
    for (const [tenant, share] of this.#shares) {
      // keys, then each entry looked up: iterating entries allocates a [key, entry] pair per item
      for (const key of share.entries.keys()) {
        const entry = share.entries.get(key)!
        if (entry.expiresAt > now) break
        if (answered(entry)) this.#remove(tenant, share, key, entry)
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
      for (const key of share.entries.keys()) {
        const entry = share.entries.get(key)!
        if (removed && (!over() || weight(share) < second)) break
        if (!answered(entry)) continue
        this.#remove(tenant, share, key, entry)
        removed = true
      }
      if (!removed) exhausted.add(share)
    }
  }
}
