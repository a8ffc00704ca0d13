/**
 * The ledger's spend records, kept in columns instead of as the record objects committed: per record its call id,
 * its `startedAt` and `endedAt` (unboxed doubles) and the rest of its fields as a {@link Tail}, shared with the
 * record before while the rest is the same (a withBudget of a static context writes the same model, cost, status,
 * frozen context and metadata call after call). A record is built again, a new object with the same fields in the
 * same order, only when it is read (queries, snapshots, a rebuild of rollups).
 *
 * Why: a kept record object, its call id and its two number boxes survived every scavenge until promoted, and each
 * mark-compact marked them all (100,000 records by default); the columns are three arrays and the strings of the
 * ids. The record a commit hands back to its caller then dies young.
 *
 * A record whose first fields are not `callId`, `startedAt` and `endedAt` (in that order), that is not a plain
 * object, or that has a field named `__proto__`, is kept whole, as a shallow copy. Either way the table keeps the
 * fields as they were when the record was appended: a caller that changes its record afterwards changes nothing
 * here.
 *
 * @internal Used by the ledger.
 * @packageDocumentation
 */
import type { JsonValue, SpendRecord } from '../types.js'
import { counterOf, STEM_LENGTH } from './manager-calls.js'
import { dropCounts, namespaceOf, sameOrNamespaceOf } from './record-shares.js'

/** The fields of a record after `endedAt`: their names and values, in the record's order. */
class Tail {
  constructor(
    readonly names: readonly string[],
    readonly values: readonly JsonValue[],
  ) {}
}

const HEAD = ['callId', 'startedAt', 'endedAt'] as const

/** What the slot of a dropped record holds until it is reused. */
const EMPTY = new Tail([], [])

/** Spend records by commit order, with how many of them each call-id namespace holds. */
export class RecordTable {
  // The columns are a ring: record `i` (0 the oldest kept) is at slot `(#head + i) & #mask`, so that dropping the
  // oldest records moves nothing (a trim at the cap drops 1/16 of them), and the columns grow by doubling.
  /**
   * The call id of each record, or for an id of a manager's form its 16-character stem, shared by the records of
   * that manager (the id is rebuilt when read, and no string is kept per record).
   */
  #ids: string[] = new Array<string>(16).fill('')
  /**
   * `startedAt`, `endedAt` and the call id's counter (`NaN` when `#ids` holds the whole id) of the record in slot
   * `s` at `3 * s`, `3 * s + 1` and `3 * s + 2`.
   */
  #times = new Float64Array(48)
  /** The stem of the last manager call id kept. */
  #stem = ''
  /** The rest of each record, or the whole record (a copy) when it is not kept in columns. */
  #tails: (Tail | SpendRecord)[] = new Array<Tail | SpendRecord>(16).fill(EMPTY)
  #mask = 15
  #head = 0
  #length = 0
  /** The last tail made, shared by the records after it while their rest is the same. */
  #last: Tail | undefined
  /** The tail token (see {@link RecordTable.push}) of the records `#last` is the tail of, if they had one. */
  #lastToken: object | undefined
  /** How many records each call-id namespace holds (see `record-shares.ts`). */
  #counts = new Map<string, number>()

  /** How many records are kept. */
  get length(): number {
    return this.#length
  }

  /**
   * Appends a record (validated by the caller: `startedAt` and `endedAt` are numbers). `stem` and `counter`, when
   * the caller knows them, are those of the record's call id of a manager's form (see `ManagerCalls.stemIfLast`):
   * the id is then not read again. `tail`, when given, is a token of the record's fields after `endedAt` (the same
   * token, the same fields in the same order with the same values: see `SyncLedger.commit`): a record with the token
   * of the last tail shares it without comparing its fields.
   */
  push(record: SpendRecord, stem?: string, counter?: number, tail?: object): void {
    if (this.#length > this.#mask) this.#grow()
    const slot = (this.#head + this.#length) & this.#mask
    const callId = record.callId
    // The namespace of a stem is its id's: the counter after it has no `/`. A manager's prefix is base-36 characters.
    let ns = ''
    if (stem !== undefined && counter !== undefined) this.#ids[slot] = stem
    else {
      counter = counterOf(callId)
      if (Number.isNaN(counter)) this.#ids[slot] = callId
      else {
        if (!callId.startsWith(this.#stem) || this.#stem === '') this.#stem = callId.slice(0, STEM_LENGTH)
        this.#ids[slot] = this.#stem
      }
      ns = namespaceOf(this.#ids[slot]!)
    }
    const times = this.#times
    times[3 * slot] = record.startedAt
    times[3 * slot + 1] = record.endedAt
    times[3 * slot + 2] = counter
    this.#tails[slot] = (tail !== undefined && tail === this.#lastToken ? this.#last : this.#tailOf(record, tail)) ?? {
      ...record,
    }
    this.#length++
    this.#counts.set(ns, (this.#counts.get(ns) ?? 0) + 1)
  }

  /** How many records the columns hold before they grow. */
  get capacity(): number {
    return this.#mask + 1
  }

  /** Doubles the columns. */
  #grow(): void {
    this.#resize(2 * (this.#mask + 1))
  }

  /**
   * Halves the columns while a quarter of them or less is used (a retention sweep or a lowered cap can leave a few
   * records in columns sized for many), keeping at least 16 slots.
   */
  #shrink(): void {
    let capacity = this.#mask + 1
    while (capacity > 16 && this.#length <= capacity / 4) capacity /= 2
    if (capacity !== this.#mask + 1) this.#resize(capacity)
  }

  /** Moves the records to new columns of `capacity` slots (a power of two, at least the length), oldest first. */
  #resize(capacity: number): void {
    const n = this.#length
    const ids = new Array<string>(capacity).fill('')
    const times = new Float64Array(3 * capacity)
    const tails = new Array<Tail | SpendRecord>(capacity).fill(EMPTY)
    for (let i = 0; i < n; i++) {
      const slot = (this.#head + i) & this.#mask
      ids[i] = this.#ids[slot]!
      for (let k = 0; k < 3; k++) times[3 * i + k] = this.#times[3 * slot + k]!
      tails[i] = this.#tails[slot]!
    }
    this.#ids = ids
    this.#times = times
    this.#tails = tails
    this.#mask = capacity - 1
    this.#head = 0
  }

  /**
   * The tail of `record`: the last one when its rest is the same, else a new one; `undefined` if kept whole. The last
   * tail is then that of the records with token `token`.
   */
  #tailOf(record: SpendRecord, token: object | undefined): Tail | undefined {
    const tail = this.#compare(record)
    if (tail !== undefined) this.#lastToken = token
    return tail
  }

  /** {@link #tailOf} without the token. */
  #compare(record: SpendRecord): Tail | undefined {
    if (Object.getPrototypeOf(record) !== Object.prototype) return undefined
    const last = this.#last
    let same = last !== undefined
    let i = 0
    for (const name in record) {
      if (i < 3) {
        if (name !== HEAD[i]) return undefined
      } else if (same) {
        const k = i - 3
        same = k < last!.names.length && last!.names[k] === name && Object.is(last!.values[k], record[name])
      }
      i++
    }
    if (i < 3) return undefined
    if (same && i - 3 === last!.names.length) return last
    return this.#newTail(record, i - 3)
  }

  /** A new tail of the `n` fields of `record` after `endedAt`, sharing the last tail's names when they are equal. */
  #newTail(record: SpendRecord, n: number): Tail | undefined {
    const last = this.#last
    const names: string[] = new Array(n)
    const values: JsonValue[] = new Array(n)
    let sameNames = last !== undefined && last.names.length === n
    let k = -3
    for (const name in record) {
      if (k >= 0) {
        // `for-in` also lists inherited enumerable names (a polluted prototype): such a record is kept whole.
        if (name === '__proto__' || !Object.hasOwn(record, name)) return undefined
        names[k] = name
        values[k] = record[name]!
        sameNames &&= last!.names[k] === name
      }
      k++
    }
    const tail = new Tail(sameNames ? last!.names : names, values)
    this.#last = tail
    return tail
  }

  /** `endedAt` of record `i`. */
  endedAt(i: number): number {
    return this.#times[3 * ((this.#head + i) & this.#mask) + 1]!
  }

  /** Record `i`, a new object with the fields it was appended with, in their order. */
  at(i: number): SpendRecord {
    const slot = (this.#head + i) & this.#mask
    const tail = this.#tails[slot]!
    if (!(tail instanceof Tail)) return { ...tail }
    const times = this.#times
    const counter = times[3 * slot + 2]!
    const callId = Number.isNaN(counter) ? this.#ids[slot]! : `${this.#ids[slot]!}-${counter.toString(36)}`
    const record: SpendRecord = { callId, startedAt: times[3 * slot]!, endedAt: times[3 * slot + 1]! }
    const { names, values } = tail
    for (let k = 0; k < names.length; k++) record[names[k]!] = values[k]!
    return record
  }

  /** Every record, oldest appended first (new objects). */
  toArray(): SpendRecord[] {
    const out: SpendRecord[] = new Array(this.#length)
    for (let i = 0; i < out.length; i++) out[i] = this.at(i)
    return out
  }

  /**
   * Cuts the table to at most `max` records, every namespace keeping its newest within its share (see
   * `record-shares.ts`); answers the largest `endedAt` dropped, or `-Infinity` when none was.
   */
  trim(max: number): number {
    const length = this.#length
    if (length <= max) return Number.NEGATIVE_INFINITY
    const counts = this.#counts
    // One namespace: the oldest go.
    if (counts.size === 1) {
      const [ns] = counts.keys()
      if (max === 0) counts.delete(ns!)
      else counts.set(ns!, max)
      const latest = this.#dropFirst(length - max)
      this.#shrink()
      return latest
    }
    const drop = dropCounts(counts, max)
    let ns = ''
    const latest = this.#keep((i) => {
      ns = sameOrNamespaceOf(this.#ids[(this.#head + i) & this.#mask]!, ns)
      const left = drop.get(ns)
      if (left === undefined || left === 0) return true
      drop.set(ns, left - 1)
      return false
    })
    this.#shrink()
    return latest
  }

  /** Drops the records that ended before `cutoff`; answers the largest `endedAt` dropped, or `-Infinity`. */
  dropEndedBefore(cutoff: number): number {
    const counts = this.#counts
    const latest = this.#keep((i) => {
      if (this.endedAt(i) >= cutoff) return true
      const ns = namespaceOf(this.#ids[(this.#head + i) & this.#mask]!)
      const left = (counts.get(ns) ?? 0) - 1
      if (left > 0) counts.set(ns, left)
      else counts.delete(ns)
      return false
    })
    this.#shrink()
    return latest
  }

  /** Drops the `n` oldest records: the ring's start passes them. Answers the largest `endedAt` among them. */
  #dropFirst(n: number): number {
    const mask = this.#mask
    let latest = Number.NEGATIVE_INFINITY
    for (let i = 0; i < n; i++) {
      const slot = (this.#head + i) & mask
      latest = Math.max(latest, this.#times[3 * slot + 1]!)
      this.#ids[slot] = ''
      this.#tails[slot] = EMPTY
    }
    this.#head = (this.#head + n) & mask
    this.#length -= n
    return latest
  }

  /**
   * Keeps the records `keep` accepts (asked once per record, oldest first), in their order; answers the largest
   * `endedAt` dropped. The oldest records that go before any is kept cost no move: the ring's start passes them.
   */
  #keep(keep: (i: number) => boolean): number {
    const ids = this.#ids
    const times = this.#times
    const tails = this.#tails
    const mask = this.#mask
    const head = this.#head
    const length = this.#length
    let latest = Number.NEGATIVE_INFINITY
    let kept = 0
    let skipped = 0
    for (let i = 0; i < length; i++) {
      const from = (head + i) & mask
      if (!keep(i)) {
        latest = Math.max(latest, times[3 * from + 1]!)
        ids[from] = ''
        tails[from] = EMPTY
        if (kept === 0) skipped++
        continue
      }
      const to = (head + skipped + kept) & mask
      if (to !== from) {
        ids[to] = ids[from]!
        times[3 * to] = times[3 * from]!
        times[3 * to + 1] = times[3 * from + 1]!
        times[3 * to + 2] = times[3 * from + 2]!
        tails[to] = tails[from]!
        ids[from] = ''
        tails[from] = EMPTY
      }
      kept++
    }
    this.#head = (head + skipped) & mask
    this.#length = kept
    return latest
  }
}
