/**
 * A metered response: its body is observed as the SDK reads it (SSE events or the whole text), and a finisher runs
 * exactly once when the body ends, errors, is cancelled (a `break` out of the SDK's stream) or the request aborts.
 *
 * @packageDocumentation
 */
import { parseSseBlock, type SseEvent } from './sse.js'

/** The ways a response body can end. */
export type Outcome = { kind: 'end' } | { kind: 'cancel' } | { kind: 'abort' } | { kind: 'error'; error: unknown }

/** Observes a metered body. */
export interface BodyObserver {
  /** For SSE bodies: each event; return `false` to drop it from what the SDK sees. */
  onEvent?(event: SseEvent): boolean | undefined
  /** For other bodies: the whole text at the end. */
  onText?(text: string): void
  /** Called exactly once when the body ends, errors, is cancelled or aborted. Awaited before the SDK sees the end. */
  finish(outcome: Outcome): Promise<void>
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/

/**
 * Wrap a response so that its body is observed as it is read and `finish` runs exactly once: when the body
 * ends (before the reader sees the end), errors, is cancelled (a `break` out of the SDK's stream) or the
 * request's signal aborts.
 */
export function meterResponse(
  response: Response,
  observer: BodyObserver,
  mode: 'sse' | 'text',
  signal?: AbortSignal | null,
): Response {
  const upstream = response.body
  let finished: Promise<void> | undefined
  const finish = (outcome: Outcome): Promise<void> => (finished ??= observer.finish(outcome).catch(() => undefined))
  if (upstream === null) {
    void finish({ kind: 'end' })
    return response
  }
  const reader = upstream.getReader()
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''
  const onAbort = () => {
    void finish({ kind: 'abort' })
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  const cleanup = () => signal?.removeEventListener('abort', onAbort)

  const drain = (controller: ReadableStreamDefaultController<Uint8Array>, final: boolean) => {
    for (;;) {
      const match = BOUNDARY.exec(buffer)
      if (match === null) break
      const block = buffer.slice(0, match.index)
      buffer = buffer.slice(match.index + match[0].length)
      const event = parseSseBlock(block)
      const keep = event === null ? true : observer.onEvent?.(event) !== false
      if (keep) controller.enqueue(encoder.encode(`${block}\n\n`))
    }
    if (final && buffer.length > 0) {
      const event = parseSseBlock(buffer)
      const keep = event === null ? true : observer.onEvent?.(event) !== false
      if (keep) controller.enqueue(encoder.encode(buffer))
      buffer = ''
    }
  }

  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      let result: ReadableStreamReadResult<Uint8Array>
      try {
        result = await reader.read()
      } catch (error) {
        cleanup()
        await finish(signal?.aborted ? { kind: 'abort' } : { kind: 'error', error })
        controller.error(error)
        return
      }
      if (result.done) {
        if (mode === 'sse') {
          buffer += decoder.decode()
          drain(controller, true)
        } else {
          buffer += decoder.decode()
          observer.onText?.(buffer)
        }
        cleanup()
        await finish({ kind: 'end' })
        controller.close()
        return
      }
      if (mode === 'sse') {
        buffer += decoder.decode(result.value, { stream: true })
        drain(controller, false)
      } else {
        buffer += decoder.decode(result.value, { stream: true })
        controller.enqueue(result.value)
      }
    },
    async cancel(reason) {
      cleanup()
      await finish({ kind: 'cancel' })
      await reader.cancel(reason).catch(() => undefined)
    },
  })
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}
