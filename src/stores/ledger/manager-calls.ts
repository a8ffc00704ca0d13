/**
 * Call ids of the form `BudgetManager` makes (`<16 base-36 characters>-<base-36 counter>`), kept in dense chunks of
 * their prefix's counters instead of the ledger's call map: a held or released call in the chunk's slot of open
 * calls, a committed one as the instant until which it is remembered, without a map entry, a string or an expiry
 * heap entry. A busy ledger remembers every call id of its dedupe window (two minutes by default, a million ids at
 * 8,000 calls a second): a map of a million string keys costs a few cache misses per look-up of a new id, and a map
 * that one call at a time enters and leaves is shrunk (a new table) each time it empties; consecutive counters
 * share a chunk, so their look-ups stay in cache.
 *
 * A committed id is forgotten once the ledger's changes have run at or past its instant (the latest such `now` is
 * {@link ManagerCalls.advance}d here), which is when the ledger's expiry heap would have dropped it: the ledger
 * keeps a committed id here only when its instant is still ahead of that time (else in its call map, as any other).
 *
 * @internal Used by the ledger.
 * @packageDocumentation
 */

/** Length of the random prefix of a manager's call ids. */
export const STEM_LENGTH = 16
/** Most digits of a counter kept here (36^6, about 2.2e9 calls per manager); longer ones go to the call map. */
const MAX_DIGITS = 6
/** Counters per chunk. */
const CHUNK = 64

/** The value of a base-36 digit (`0-9a-z`), or -1. */
function digit(code: number): number {
  if (code >= 48 && code <= 57) return code - 48
  if (code >= 97 && code <= 122) return code - 87
  return -1
}

/**
 * The counter of a call id of a manager's form, `<stem>-<counter in base 36>` with a {@link STEM_LENGTH}-character
 * stem and no leading zero (so that the id is rebuilt from the two), or `NaN`. The stem is not checked here.
 */
export function counterOf(id: string): number {
  const digits = id.length - STEM_LENGTH - 1
  if (digits < 1 || digits > MAX_DIGITS || id.charCodeAt(STEM_LENGTH) !== 45) return Number.NaN
  let n = digit(id.charCodeAt(STEM_LENGTH + 1))
  if (n <= 0) return Number.NaN
  for (let i = STEM_LENGTH + 2; i < id.length; i++) {
    const d = digit(id.charCodeAt(i))
    if (d < 0) return Number.NaN
    n = n * 36 + d
  }
  return n
}

/** The ids of `CHUNK` consecutive counters of one prefix. */
interface Chunk<Open> {
  /** Until when each committed counter is remembered (`NaN` where none). */
  until: number[]
  /** The latest of `until`. */
  latest: number
  /** Held and released calls, made on the first one. */
  open: (Open | undefined)[] | undefined
  /** How many of `open` are set. */
  opened: number
}

/** The chunks of one prefix, by chunk index. */
type Chunks<Open> = Map<number, Chunk<Open>>

/** The call ids of a manager's form; `Open` is what a held or released call is (the ledger's `HeldCall`). */
export class ManagerCalls<Open extends object> {
  readonly #stems = new Map<string, Chunks<Open>>()
  /** The prefix last looked up and its chunks (ids of one manager come one after the other). */
  #lastStem = ''
  #lastChunks: Chunks<Open> | undefined
  /**
   * A prefix a caller vouched for (see {@link find}) whose first {@link STEM_LENGTH} characters are {@link #lastStem}:
   * an id vouched to start with it has the last prefix without reading its characters.
   */
  #lastPrefix: string | undefined
  /**
   * The id {@link #chunkOf} last found a chunk for (`''`, no id, when none: a string from the start, so that the
   * optimized `#chunkOf` of another instance does not deoptimize on a fresh one), the chunk, the id's slot in it,
   * its prefix and its counter.
   */
  #lastId = ''
  #lastChunk: Chunk<Open> | undefined
  #lastSlot = 0
  #lastIdStem = ''
  #lastCounter = 0
  /** The counter of the id {@link #chunksOf} last read. */
  #n = 0
  /** Ids whose instant is at or before this are forgotten. */
  #through = Number.NEGATIVE_INFINITY

  /** The ledger's changes ran at `now`: ids remembered until `now` or before are forgotten. */
  advance(now: number): void {
    if (now > this.#through) this.#through = now
  }

  /**
   * The chunks of `id`'s prefix (made when `create`), with its counter in `#n`; `undefined` when `id` is not of the
   * form kept here, or (without `create`) its prefix has none.
   */
  #chunksOf(id: string, create: boolean, prefix: string | undefined): Chunks<Open> | undefined {
    // No leading zero: one id, one counter.
    const n = counterOf(id)
    if (Number.isNaN(n)) return undefined
    this.#n = n
    let chunks = this.#lastChunks
    if (chunks !== undefined) {
      // `startsWith` goes to V8's runtime for these strings (300 instructions): a vouched prefix is compared first,
      // the same string object as the last one for the ids of one manager.
      if (prefix !== undefined && prefix === this.#lastPrefix) return chunks
      if (id.startsWith(this.#lastStem)) {
        if (prefix !== undefined) this.#lastPrefix = prefix
        return chunks
      }
    }
    for (let i = 0; i < STEM_LENGTH; i++) if (digit(id.charCodeAt(i)) < 0) return undefined
    const stem = id.slice(0, STEM_LENGTH)
    chunks = this.#stems.get(stem)
    if (chunks === undefined) {
      if (!create) return undefined
      chunks = new Map()
      this.#stems.set(stem, chunks)
    }
    this.#lastStem = stem
    this.#lastChunks = chunks
    this.#lastPrefix = prefix
    return chunks
  }

  /**
   * Whether `id` is {@link #lastId}. The next call's id has the same length and prefix as the last one and differs
   * in its last digit: `===` alone would compare their characters up to there in V8's runtime (a new id is not the
   * same string object), so the last characters are compared first.
   */
  #isLastId(id: string): boolean {
    const last = this.#lastId
    return id.length === last.length && id.charCodeAt(id.length - 1) === last.charCodeAt(last.length - 1) && id === last
  }

  /** The chunk of `id` (made when `create`), with its slot in `#n`; `undefined` as {@link #chunksOf}. */
  #chunkOf(id: string, create: boolean, prefix?: string): Chunk<Open> | undefined {
    // A call's id is looked up several times in a row (reserve, then commit): the same string, found again at once.
    if (this.#isLastId(id)) {
      this.#n = this.#lastSlot
      return this.#lastChunk
    }
    const chunks = this.#chunksOf(id, create, prefix)
    if (chunks === undefined) return undefined
    const index = Math.floor(this.#n / CHUNK)
    let chunk = chunks.get(index)
    if (chunk === undefined && create) {
      chunk = {
        until: new Array<number>(CHUNK).fill(Number.NaN),
        latest: Number.NEGATIVE_INFINITY,
        open: undefined,
        opened: 0,
      }
      chunks.set(index, chunk)
    }
    const counter = this.#n
    this.#n %= CHUNK
    if (chunk !== undefined) {
      this.#lastId = id
      this.#lastChunk = chunk
      this.#lastSlot = this.#n
      this.#lastIdStem = this.#lastStem
      this.#lastCounter = counter
    }
    return chunk
  }

  /**
   * The prefix of `id` (a kept string, shared by the ids of its manager) when `id` is the id last looked up here,
   * else `undefined`; its counter is then {@link lastCounter}. The ledger's record table takes both from here
   * instead of reading the id's characters again (a commit looks its id up just before it appends its record).
   */
  stemIfLast(id: string): string | undefined {
    return id !== '' && this.#isLastId(id) ? this.#lastIdStem : undefined
  }

  /** The counter of the id last looked up (see {@link stemIfLast}). */
  get lastCounter(): number {
    return this.#lastCounter
  }

  /**
   * The held or released call `id`, `true` when it is a committed call still remembered, else `undefined`.
   * `prefix`, when given, is vouched by the caller to be how `id` starts (a manager's `<stem>-`, for an id it made).
   */
  find(id: string, prefix?: string): Open | true | undefined {
    const chunk = this.#chunkOf(id, false, prefix)
    if (chunk === undefined) return undefined
    const open = chunk.open?.[this.#n]
    if (open !== undefined) return open
    return chunk.until[this.#n]! > this.#through ? true : undefined
  }

  /** Keeps a held or released call; `false` (nothing kept) when `id` is not of the form kept here. */
  setOpen(id: string, call: Open): boolean {
    const chunk = this.#chunkOf(id, true)
    if (chunk === undefined) return false
    const open = (chunk.open ??= new Array<Open | undefined>(CHUNK).fill(undefined))
    if (open[this.#n] === undefined) chunk.opened++
    open[this.#n] = call
    return true
  }

  /** Forgets the held or released call `id`, if it is kept here. */
  deleteOpen(id: string): void {
    const chunk = this.#chunkOf(id, false)
    const open = chunk?.open
    if (open === undefined || open[this.#n] === undefined) return
    open[this.#n] = undefined
    chunk!.opened--
  }

  /**
   * Remembers `id` as committed until `until`. `false` (nothing kept) when `id` is not of the form kept here or
   * `until` is not ahead of the ledger's time: the ledger then keeps it in its call map.
   */
  set(id: string, until: number): boolean {
    if (!(until > this.#through)) return false
    const chunk = this.#chunkOf(id, true)
    if (chunk === undefined) return false
    chunk.until[this.#n] = until
    if (until > chunk.latest) chunk.latest = until
    return true
  }

  /** Drops the chunks without open calls whose committed ids are all forgotten (run with the ledger's key sweep). */
  sweep(): void {
    this.#lastId = ''
    this.#lastChunk = undefined
    for (const [stem, chunks] of this.#stems) {
      for (const [index, chunk] of chunks) if (chunk.opened === 0 && chunk.latest <= this.#through) chunks.delete(index)
      if (chunks.size > 0) continue
      this.#stems.delete(stem)
      if (this.#lastChunks === chunks) this.#lastChunks = this.#lastPrefix = undefined
    }
  }

  /**
   * Every committed id still remembered (with its instant) and every open call: by prefix and chunk in the order
   * they were first kept, then by counter.
   */
  *entries(): IterableIterator<[string, number | Open]> {
    for (const [stem, chunks] of this.#stems) {
      for (const [index, chunk] of chunks) {
        for (let i = 0; i < CHUNK; i++) {
          const until = chunk.until[i]!
          const open = chunk.open?.[i]
          if (until > this.#through) yield [`${stem}-${(index * CHUNK + i).toString(36)}`, until]
          else if (open !== undefined) yield [`${stem}-${(index * CHUNK + i).toString(36)}`, open]
        }
      }
    }
  }
}
