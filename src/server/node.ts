/**
 * `createBudgetServer()`: the budget handler on `node:http`. Node-only; the handler itself lives in
 * `./handler.ts` and imports nothing from `node:`.
 *
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { parseOptions } from '../internal/options.js'
import { MAX_DISCARDED_BYTES } from './body.js'
import { createBudgetCore } from './core.js'
import { HttpError } from './errors.js'
import type { BudgetHandlerOptions, CoreRequest } from './handler.js'
import { serverOptionsSchema } from './options.js'

/** Options of {@link createBudgetServer}: the handler's options plus Node server limits. */
export interface BudgetServerOptions extends BudgetHandlerOptions {
  /**
   * Longest time to receive a whole request, ms: a slower client gets 408 and is cut off within a second of it
   * (Node checks its connections every `min(1000, requestTimeoutMs / 4)` ms). Default `30_000`.
   */
  requestTimeoutMs?: number
  /** Longest time to receive the request headers, ms. Default `10_000`. */
  headersTimeoutMs?: number
  /** How long an idle keep-alive connection stays open, ms. Default `5_000`. */
  keepAliveTimeoutMs?: number
}

function readNodeBody(request: IncomingMessage, limit: number): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let total = 0
    let tooLong = false
    const onData = (chunk: Buffer): void => {
      total += chunk.length
      if (tooLong) {
        if (total > limit + MAX_DISCARDED_BYTES) {
          cleanup()
          request.resume()
          resolve(null)
        }
        return
      }
      if (total > limit) {
        // Read the rest to its end (discarding it), then answer 413 and close the connection.
        tooLong = true
        chunks.length = 0
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(tooLong ? null : Buffer.concat(chunks, total))
    }
    // A client that goes away mid-body: answered 400 (nobody reads it) so the request does not hang.
    const onError = (): void => {
      cleanup()
      reject(new HttpError(400, 'INCOMPLETE_BODY', 'the connection closed before the whole body arrived'))
    }
    const onClose = (): void => {
      if (!request.complete) onError()
    }
    const cleanup = (): void => {
      request.off('data', onData)
      request.off('end', onEnd)
      request.off('error', onError)
      request.off('close', onClose)
    }
    request.on('data', onData)
    request.on('end', onEnd)
    request.on('error', onError)
    request.on('close', onClose)
  })
}

/**
 * Creates the budget server on `node:http`, not yet listening: call `server.listen(port, host)`. Stop it with
 * `server.close()` (in-flight requests finish) and `server.closeIdleConnections()`.
 *
 * @example
 * ```ts
 * const server = createBudgetServer({ store: fileStore({ path: './budget-data' }), auth: { tokens: { [token]: 'app' } } })
 * server.listen(8787, '127.0.0.1')
 * ```
 */
export function createBudgetServer(options: BudgetServerOptions): Server {
  const parsed = parseOptions('createBudgetServer()', serverOptionsSchema, options) as BudgetServerOptions
  const core = createBudgetCore(parsed, 'createBudgetServer()')
  const requestTimeoutMs = parsed.requestTimeoutMs ?? 30_000
  const headersTimeoutMs = Math.min(parsed.headersTimeoutMs ?? 10_000, requestTimeoutMs)
  // Node enforces both timeouts only when it checks its connections (every 30 s by default), which let a
  // 30 s timeout run to 60 s: check often enough that the timeout is what it says, within a second.
  const connectionsCheckingInterval = Math.max(
    10,
    Math.min(1_000, Math.floor(Math.min(requestTimeoutMs, headersTimeoutMs) / 4)),
  )
  const server = createServer(
    {
      connectionsCheckingInterval,
      requestTimeout: requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      keepAliveTimeout: parsed.keepAliveTimeoutMs ?? 5_000,
    },
    (request: IncomingMessage, response: ServerResponse) => {
      const coreRequest: CoreRequest = {
        method: request.method ?? 'GET',
        path: request.url ?? '/',
        header: (name) => {
          const value = request.headers[name]
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
        },
        readBody: (limit) => readNodeBody(request, limit),
        client: request.socket.remoteAddress ?? null,
      }
      core.serve(coreRequest).then(
        (answer) => {
          if (response.destroyed) return
          if (request.method === 'HEAD') {
            response.writeHead(answer.status, answer.headers)
            response.end()
            return
          }
          // The body encoded once, with its length: without `Content-Length` Node sends the answer chunked, which
          // measures the string's UTF-8 length, writes it in hex framing and encodes the string again in the write.
          const bytes = answer.bytes ?? Buffer.from(answer.body, 'utf8')
          response.writeHead(answer.status, { ...answer.headers, 'content-length': String(bytes.length) })
          response.end(bytes)
        },
        () => {
          response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
          response.end('{"error":{"code":"INTERNAL","message":"internal error"}}')
        },
      )
    },
  )
  return server
}
