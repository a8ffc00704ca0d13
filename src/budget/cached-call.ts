/**
 * A call through the response cache, the same for `withBudget` and every integration: look the key up; a hit is
 * answered (and recorded at $0 with `cacheHit: true` and `saved`) without calling; concurrent identical misses in one
 * process run once (single flight), and the others are answered as hits from the entry the first one filled. A miss
 * whose result cannot be cached (it failed, or its stream was cut) leaves the waiting callers to call on their own.
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../errors.js'
import { describeValue } from '../internal/describe.js'
import type { CachedResponse, ResponseCache } from './response-cache.js'
import type { CommitInput, CommitOutcome } from './manager-types.js'
import type { CallContext } from './scopes.js'

/** How one call goes through the cache. */
export interface CacheFlow<T> {
  /** Answers from an entry (without calling). */
  hit(entry: CachedResponse): Promise<T>
  /**
   * Calls. `fill` is called once with the entry to keep when the result is complete (for a stream: when it was read
   * to its end), or with `null` when it cannot be kept; it resolves once the entry is stored.
   */
  miss(fill: (entry: CachedResponse | null) => Promise<void>): Promise<T>
}

/** The wrappers' `cache` option, checked when the wrapper is built: a `responseCache(...)` or `undefined`. */
export function checkCache(where: string, cache: unknown, manager: unknown): ResponseCache | undefined {
  if (cache === undefined) return undefined
  const c = cache as Partial<ResponseCache> | null
  if (
    typeof c !== 'object' ||
    c === null ||
    typeof c.lookup !== 'function' ||
    typeof c.store !== 'function' ||
    typeof c.singleFlight !== 'function'
  ) {
    throw new BudgetConfigError(
      'cache',
      `${where}: \`cache\` must be a response cache (\`responseCache({ max, ttlMs })\`), got ${describeValue(cache)}`,
    )
  }
  if (typeof (manager as { record?: unknown } | null)?.record !== 'function')
    throw new BudgetConfigError(
      'manager',
      `${where}: \`cache\` needs a manager with record() (a BudgetManager) to record cache hits`,
    )
  return cache as ResponseCache
}

/** What recording a hit needs of the manager. */
interface HitRecorder {
  record(context: CallContext, input: CommitInput): Promise<CommitOutcome>
}

/**
 * Records a cache hit: $0, status `cache_hit`, `saved` = the cost of the cached original. A failure to record is
 * reported, never thrown: the answer is free either way.
 */
export async function recordHit(
  manager: unknown,
  context: CallContext,
  entry: CachedResponse,
  provider: string | undefined,
  onError: ((error: unknown) => void) | undefined,
): Promise<void> {
  const input: Exclude<CommitInput, number> = { status: 'cache_hit', saved: Number(entry.cost) }
  if (entry.model !== undefined) input.model = entry.model
  if (provider !== undefined) input.provider = provider
  try {
    await (manager as HitRecorder).record(context, input)
  } catch (error) {
    try {
      onError?.(error)
    } catch {
      // A throwing error handler must not turn a free answer into a failure.
    }
  }
}

/** Runs one call through the cache (see the top of this module). */
export async function throughCache<T>(
  cache: ResponseCache,
  key: string,
  flow: CacheFlow<T>,
  onStoreError: ((error: unknown) => void) | undefined,
): Promise<T> {
  const store = async (entry: CachedResponse | null): Promise<void> => {
    if (entry === null) return
    try {
      await cache.store(key, entry)
    } catch (error) {
      // A cache that cannot be written (a shared backend down) costs the next caller a call, nothing more.
      onStoreError?.(error)
    }
  }
  const found = await cache.lookup(key)
  if (found !== undefined) return flow.hit(found)
  // Boxed, so that the promise of the call is not adopted: the box arrives as soon as this caller's miss starts.
  let startedOwn: (box: { call: Promise<T> }) => void = () => undefined
  const own = new Promise<{ call: Promise<T> }>((resolve) => (startedOwn = resolve))
  const flight = cache.singleFlight(
    key,
    () =>
      new Promise<CachedResponse | null>((resolve) => {
        let filled = false
        const fill = async (entry: CachedResponse | null): Promise<void> => {
          if (filled) return
          filled = true
          await store(entry)
          resolve(entry)
        }
        const call = flow.miss(fill)
        call.catch(() => fill(null))
        startedOwn({ call })
      }),
  )
  // The caller whose miss runs gets its own result at once (a stream before it is read); the others wait for the
  // entry it fills.
  const first = await Promise.race([own, flight.then((f) => ({ leader: f.leader, entry: f.value }))])
  if ('call' in first) return first.call
  if (first.leader) return (await own).call
  if (first.entry !== null) return flow.hit(first.entry)
  return flow.miss(store)
}

/** The answer of an entry: the value, or for a stream a new stream of the same chunks, in order. */
export function replayEntry(entry: CachedResponse): unknown {
  if (!entry.stream) return entry.value
  const chunks = Array.isArray(entry.value) ? [...(entry.value as unknown[])] : []
  if (entry.kind === 'readable') {
    return new ReadableStream<unknown>({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(chunk)
        controller.close()
      },
    })
  }
  return {
    async *[Symbol.asyncIterator]() {
      yield* chunks
    },
  }
}
