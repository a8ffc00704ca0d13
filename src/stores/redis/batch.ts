/**
 * Batched operations: the reserves, commits and releases a store issues in the same turn of the event loop, or
 * while its previous batch is out (at most `MAX_WAIT_MS` after the first of them), go to Redis as one
 * `BATCH_SCRIPT` call (at most `MAX_BATCH` per call), which runs them in order, each atomically and
 * with its own answer. What one call costs Redis beyond its own ledger work (the script call, `TIME`, the epoch
 * check, a hot key's read and write) is then shared by the whole batch.
 *
 * The outcome of the batch is the outcome of each operation: a lost reply is unknown for every operation in it,
 * a batch that was not sent was not sent for any, an operation whose script failed fails alone.
 *
 * @internal
 */
import { describeValue } from '../../internal/describe.js'
import { toStrings } from './replies.js'
import { MAX_BATCH } from './scripts.js'

/**
 * The longest an operation waits for the answer of the batch in flight before it is sent in a batch of its own (ms):
 * a store has one batch in flight at a time, so that the operations issued meanwhile go together.
 */
export const MAX_WAIT_MS = 10

/** The most batches a store has sent and not yet had answered, before the next waits (see {@link MAX_WAIT_MS}). */
export const MAX_IN_FLIGHT = 1

/** One operation of a batch. */
export interface BatchOp {
  /** `r` reserve, `c` commit, `x` release; `R` and `C` send one amount for all their entries. */
  readonly kind: 'r' | 'c' | 'x' | 'R' | 'C'
  /** Its keys (its call record first), after the store's keys every batch declares. */
  readonly keys: readonly string[]
  /** Its request's `now`. */
  readonly now: number
  /** Its own arguments, from its `ARGV[6]` on (see `scripts.ts`). */
  readonly args: readonly string[]
  /**
   * Its terms: the arguments many operations of a batch share (a reservation's limit and window end per key; a
   * commit's number of rollup rows, window end per key and rollup row fields), sent once per distinct list.
   */
  readonly terms: readonly string[]
  /**
   * When it was called, in the store's order: a batch runs its operations in this order (an operation can reach
   * the queue after one called later, when its own checks took more turns of the microtask queue).
   */
  readonly order: number
}

interface Queued {
  op: BatchOp
  resolve(values: string[]): void
  reject(error: unknown): void
}

/** Sends one batch command; answers the raw reply. `what` names it in errors. */
export type SendBatch = (what: string, command: string[]) => Promise<unknown>

type Defer = (run: () => void) => void
const defer: Defer =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (run) => (globalThis as unknown as { setImmediate: Defer }).setImmediate(run)
    : (run) => void Promise.resolve().then(run)

const NAMES = { r: 'reserve', c: 'commit', x: 'release', R: 'reserve', C: 'commit' } as const

/**
 * The values of an operation that repeated the one just before it in its batch (`scripts.ts`, `commit-op.ts`: the
 * same keys, clock and terms, one amount for every entry) and answered `[time, '=']` (a reservation) or
 * `[time, '=', held]` (a commit: the amount its call record held on every entry), from `previous`, that operation's
 * values (`[time, 'ok', spent or after, reserved, ...]` per entry): a reservation adds its amount to each reserved,
 * a commit adds its amount to each after (spent) and takes `held` off each reserved. The script answers so only when
 * every value is an integer of at most 2^53 - 1, so the sums are exact in doubles. Throws when `previous` is not such an
 * answer (a script and a client of different builds: never, since a script is loaded by the SHA of its text).
 */
export function repeated(op: BatchOp, previous: readonly string[] | null, own: readonly string[]): string[] {
  const commit = op.kind === 'C'
  if (previous?.[1] !== 'ok' || (op.kind !== 'R' && !commit) || own.length !== (commit ? 3 : 2))
    throw new Error(`unexpected reply ${describeValue(own)} after ${describeValue(previous)}`)
  const add = Number(op.args[commit ? 2 : 1])
  const held = commit ? Number(own[2]) : 0
  const values = [own[0]!, 'ok']
  for (let i = 2; i + 1 < previous.length; i += 2) {
    const spent = commit ? Number(previous[i]) + add : Number(previous[i])
    const reserved = commit ? Number(previous[i + 1]) - held : Number(previous[i + 1]) + add
    if (!Number.isSafeInteger(spent) || !Number.isSafeInteger(reserved) || reserved < 0)
      throw new Error(`unexpected reply ${describeValue(own)} after ${describeValue(previous)}`)
    values.push(commit ? String(spent) : previous[i]!, String(reserved))
  }
  return values
}

/** Queues operations into batches (see {@link createBatcher}). */
export interface Batcher {
  /** Queues `op`; resolves with its reply values. */
  submit(op: BatchOp): Promise<string[]>
  /** Sends the waiting operations now (a store closing sends what was issued before it closes). */
  flush(): void
}

/**
 * A batcher: `submit` queues an operation and resolves with its reply values (`[time, status, ...]`, or
 * `[time, 'lost', epoch]` for every operation of a batch that found the epoch changed). `head` gives the common
 * arguments at the time the batch is sent (clock mode, margin, the key base, the epoch), `fixedKeys` the store's
 * keys every batch declares (the epoch, the registry, the record stream, its metadata, the rollup day index) and
 * `fixedArgs` the store's settings commits use (the stream cap, the record and rollup retentions).
 */
export function createBatcher(
  send: SendBatch,
  fixedKeys: readonly [string, string, string, string, string],
  fixedArgs: readonly [string, string, string],
  head: () => readonly [string, string, string, string],
): Batcher {
  let queue: Queued[] = []
  // batches sent and not yet answered; the timer that sends the queue when the answer is late
  let inFlight = 0
  let waiting: ReturnType<typeof setTimeout> | null = null
  const answered = (): void => {
    inFlight--
    if (inFlight < MAX_IN_FLIGHT && queue.length > 0) {
      // after the answers' continuations (microtasks): the operations they issue join the waiting ones
      if (waiting !== null) clearTimeout(waiting)
      waiting = null
      defer(flushQueue)
    }
  }

  const flush = (batch: Queued[]): void => {
    const [mode, margin, base, epoch] = head()
    // the call records, then each distinct tail (an operation's keys after its call record) once
    const keys: string[] = [...fixedKeys]
    for (const { op } of batch) keys.push(op.keys[0]!)
    const tails = new Map<string, number>()
    // each distinct list of terms once (from ARGV[11]), then the operations (from ARGV[10])
    const terms = new Map<string, number>()
    const args: string[] = [mode, margin, String(batch[0]!.op.now), base, epoch, String(batch.length), ...fixedArgs, '']
    const shapes: string[] = []
    // per operation, whether its now, its first and its second argument are left out (the same as the operation's
    // before)
    const sameNow: boolean[] = []
    const sameFirst: boolean[] = []
    const sameSecond: boolean[] = []
    // the call records named so far (an operation whose call record an earlier one named reads it again)
    const named = new Set<string>()
    for (let i = 0; i < batch.length; i++) {
      const { op } = batch[i]!
      let start = 0
      if (op.keys.length > 1) {
        const tail = op.keys.slice(1)
        const id = JSON.stringify(tail)
        start = tails.get(id) ?? 0
        if (start === 0) {
          start = keys.length + 1
          tails.set(id, start)
          for (const key of tail) keys.push(key)
        }
      }
      let at = 0
      if (op.terms.length > 0) {
        // a term is a decimal, '' or JSON text: never a NUL
        const id = op.terms.join('\0')
        at = terms.get(id) ?? 0
        if (at === 0) {
          at = args.length + 1
          terms.set(id, at)
          for (const term of op.terms) args.push(term)
        }
      }
      // an argument costs Redis about 750 instructions: the operation's now and its first two arguments (a hold expiry
      // or a dedupe end, then an amount or a record's endedAt) are left out when they are the operation's before (the
      // calls of a turn mostly share them)
      const before = i > 0 ? batch[i - 1]!.op : null
      sameNow[i] = before !== null && String(op.now) === String(before.now)
      sameFirst[i] = before !== null && op.args.length > 0 && op.args[0] === before.args[0]
      sameSecond[i] = before !== null && op.args.length > 1 && op.args[1] === before.args[1]
      const again = named.has(op.keys[0]!)
      named.add(op.keys[0]!)
      const flags =
        (sameNow[i] ? 'n' : '') + (sameFirst[i] ? 'a' : '') + (sameSecond[i] ? 'b' : '') + (again ? 'r' : '')
      // the operation's shape (kind, its tail's first key, its terms' first argument, its number of keys and of
      // arguments; then ',' and flags: of what is left out, n its now, a and b its first and second argument, and r
      // when an earlier operation named its call record, which the script then reads again): the operations of a
      // batch mostly share it, and the script parses each distinct one once
      shapes.push(`${op.kind},${start},${at},${op.keys.length},${op.args.length}${flags === '' ? '' : `,${flags}`}`)
    }
    args[9] = String(args.length + 1)
    for (let i = 0; i < batch.length;) {
      // the next operations of the same shape (flags included): the shape once, with '*<count>' when more than one
      let end = i + 1
      while (end < batch.length && shapes[end] === shapes[i]) end++
      args.push(end - i > 1 ? `${shapes[i]!}*${end - i}` : shapes[i]!)
      for (; i < end; i++) {
        const { op } = batch[i]!
        if (!sameNow[i]) args.push(String(op.now))
        if (op.args.length > 0 && !sameFirst[i]) args.push(op.args[0]!)
        if (op.args.length > 1 && !sameSecond[i]) args.push(op.args[1]!)
        for (let j = 2; j < op.args.length; j++) args.push(op.args[j]!)
      }
    }
    const what = batch.length === 1 ? NAMES[batch[0]!.op.kind] : `a batch of ${batch.length} operations`
    inFlight++
    send(what, ['EVALSHA', '', String(keys.length), ...keys, ...args]).then(
      (reply) => {
        answered()
        let values: string[]
        // each operation's part of the reply: [time, status, ...values]
        let parts: unknown[][]
        try {
          if (!Array.isArray(reply) || reply.length < 2) throw new Error(`unexpected reply ${describeValue(reply)}`)
          if (reply[1] === 'lost') {
            values = toStrings(reply)
            for (const queued of batch) queued.resolve(values)
            return
          }
          if (reply[1] !== 'ok') throw new Error(`unexpected reply ${describeValue(reply)}`)
          // flat: per operation the number of its values, then its values (its status first), as an operation's own
          // script answered them, the count's place taken by the batch's time; -k for the next k operations, each
          // answering the short answer of the operation before them (the same values)
          parts = []
          let at = 2
          while (parts.length < batch.length && at < reply.length) {
            const count = Number(reply[at])
            if (!Number.isSafeInteger(count) || count === 0) break
            if (count < 0) {
              const before = parts.at(-1)
              if (before === undefined || before[1] !== '=' || parts.length - count > batch.length) break
              for (let k = 0; k < -count; k++) parts.push(before)
              at += 1
              continue
            }
            const part: unknown[] = reply.slice(at, at + 1 + count)
            part[0] = reply[0]
            parts.push(part)
            at += 1 + count
          }
          if (parts.length !== batch.length || at !== reply.length)
            throw new Error(`unexpected reply ${describeValue(reply)}`)
        } catch (error) {
          for (const queued of batch) queued.reject(error)
          return
        }
        // the values of the operation before (an operation that repeats it answers what changed: see repeated())
        let previous: string[] | null = null
        for (let i = 0; i < batch.length; i++) {
          const queued = batch[i]!
          try {
            let own = toStrings(parts[i]!)
            previous = own[1] === '=' ? repeated(queued.op, previous, own) : own
            own = previous
            if (own[1] === 'error') queued.reject(new Error(own[2] ?? 'the operation failed'))
            else queued.resolve(own)
          } catch (error) {
            previous = null
            queued.reject(error)
          }
        }
      },
      (error: unknown) => {
        answered()
        for (const queued of batch) queued.reject(error)
      },
    )
  }

  const flushQueue = (): void => {
    if (waiting !== null) clearTimeout(waiting)
    waiting = null
    const batch = queue
    queue = []
    if (batch.length > 0) flush(batch.sort((a, b) => a.op.order - b.op.order))
  }

  return {
    submit: (op) =>
      new Promise<string[]>((resolve, reject) => {
        queue.push({ op, resolve, reject })
        if (queue.length >= MAX_BATCH) flushQueue()
        else if (queue.length === 1) {
          // nothing in flight: sent after this turn; else when the batch in flight is answered (or MAX_WAIT_MS)
          if (inFlight < MAX_IN_FLIGHT) defer(flushQueue)
          else waiting = setTimeout(flushQueue, MAX_WAIT_MS)
        }
      }),
    flush: flushQueue,
  }
}
