/**
 * A metered async iterable: the events an SDK already decoded (the AWS SDK's event streams) are observed as the
 * caller reads them, and a finisher runs exactly once when the stream ends, errors, or the caller stops early
 * (`break`, which calls the iterator's `return()`). The counterpart of `metered-response.ts` for SDKs that do not
 * hand their HTTP body to a `fetch`.
 *
 * @packageDocumentation
 */
import type { Outcome } from './metered-response.js'

/** Observes a metered iterable. */
export interface IterableObserver<T> {
  /** Each item as the caller receives it. */
  onItem(item: T): void
  /** Called exactly once when the stream ends, errors or the caller stops; awaited before the caller sees the end. */
  finish(outcome: Outcome): Promise<void>
}

function isAbortLike(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError'
}

/**
 * Wrap `source` so that its items are observed and `finish` runs exactly once, however the iteration ends: read to
 * its end, broken by an error, stopped by the caller, or cut by `signal` (whose abort some SDKs turn into a quiet end).
 */
export function meterIterable<T>(
  source: AsyncIterable<T>,
  observer: IterableObserver<T>,
  signal?: AbortSignal,
): AsyncIterable<T> {
  let finished: Promise<void> | undefined
  const finish = (outcome: Outcome): Promise<void> => {
    signal?.removeEventListener('abort', onAbort)
    return (finished ??= observer.finish(outcome).catch(() => undefined))
  }
  const onAbort = () => void finish({ kind: 'abort' })
  signal?.addEventListener('abort', onAbort, { once: true })
  let iterator: AsyncIterator<T> | undefined
  const open = (): AsyncIterator<T> => (iterator ??= source[Symbol.asyncIterator]())
  const metered: AsyncIterableIterator<T> = {
    async next() {
      let result: IteratorResult<T>
      try {
        result = await open().next()
      } catch (error) {
        await finish(isAbortLike(error) || signal?.aborted === true ? { kind: 'abort' } : { kind: 'error', error })
        throw error
      }
      if (result.done === true) await finish(signal?.aborted === true ? { kind: 'abort' } : { kind: 'end' })
      else observer.onItem(result.value)
      return result
    },
    async return(value?: unknown) {
      await finish({ kind: 'cancel' })
      await Promise.resolve(open().return?.(value)).catch(() => undefined)
      return { done: true, value: value as T }
    },
    [Symbol.asyncIterator]: () => metered,
  }
  return metered
}
