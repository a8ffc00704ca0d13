/**
 * `createBudgetServer()`: the budget handler on `node:http`. Node-only; the handler itself lives in
 * `./handler.ts` and imports nothing from `node:`.
 *
 * @packageDocumentation
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { BudgetConfigError } from '../errors.js'
import { HttpError } from './errors.js'
import { createBudgetCore, type BudgetHandlerOptions, type CoreRequest } from './handler.js'

/** Options of {@link createBudgetServer}: the handler's options plus Node server limits. */
export interface BudgetServerOptions extends BudgetHandlerOptions {
  /** Longest time to receive a whole request, ms (slow clients are cut off). Default `30_000`. */
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
    const onData = (chunk: Buffer): void => {
      total += chunk.length
      if (total > limit) {
        cleanup()
        // Keep reading and discarding what the client still sends, so it can read the 413 answer; the
        // connection is closed after the answer and the request timeout bounds a client that never stops.
        request.resume()
        resolve(null)
        return
      }
      chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      resolve(Buffer.concat(chunks, total))
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
  const core = createBudgetCore(options)
  for (const field of ['requestTimeoutMs', 'headersTimeoutMs', 'keepAliveTimeoutMs'] as const) {
    const value = options[field]
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new BudgetConfigError(field, `\`${field}\` must be a positive integer of milliseconds, got ${String(value)}`)
  }
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const coreRequest: CoreRequest = {
      method: request.method ?? 'GET',
      path: request.url ?? '/',
      header: (name) => {
        const value = request.headers[name]
        return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value
      },
      readBody: (limit) => readNodeBody(request, limit),
    }
    core.serve(coreRequest).then(
      (answer) => {
        if (response.destroyed) return
        response.writeHead(answer.status, answer.headers)
        response.end(request.method === 'HEAD' ? undefined : answer.body)
      },
      () => {
        response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' })
        response.end('{"error":{"code":"INTERNAL","message":"internal error"}}')
      },
    )
  })
  server.requestTimeout = options.requestTimeoutMs ?? 30_000
  server.headersTimeout = options.headersTimeoutMs ?? 10_000
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? 5_000
  return server
}
