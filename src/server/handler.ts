/**
 * `createBudgetHandler()`: the budget server as a fetch-style handler `(Request) => Promise<Response>`.
 * It uses only web APIs (Request, Response, TextDecoder), so it runs on Node, Bun, Deno and
 * edge workers; `createBudgetServer()` in `./node.ts` puts it on `node:http`.
 *
 * @packageDocumentation
 */
import type { BudgetStore } from '../stores/types.js'
import type { BudgetServerAuth } from './auth.js'
import { createBudgetCore } from './core.js'
import { HttpError } from './errors.js'
import type { ManagementOptions } from './management.js'
import { handlerOptionsSchema } from './options.js'
import { parseOptions } from '../internal/options.js'

export type { BudgetServerAuth } from './auth.js'

/** Default and largest accepted request body, bytes. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024

export { MAX_JSON_DEPTH } from './body.js'

/** Options of {@link createBudgetHandler}. */
export interface BudgetHandlerOptions extends ManagementOptions {
  /**
   * The store that holds every tenant's ledger. Each tenant sees only its own keys, call ids and scopes (they
   * are prefixed with `<tenant>/` inside the handler). Required unless `manager` is given, whose store is then
   * used.
   */
  store?: BudgetStore
  /**
   * Who may call the server: `{ tokens: { [token]: tenantId } }` (tokens are kept only as SHA-256 digests and
   * compared in constant time) or a function `(token) => tenantId | null`, sync or async. Tenant ids are 1 to
   * 64 characters of `A-Z a-z 0-9 . _ -`. Required.
   *
   * @example `{ tokens: { [process.env.APP_TOKEN]: 'app' } }`
   */
  auth: BudgetServerAuth
  /** Largest accepted request body in bytes; larger bodies get 413 while being read. Default `65536`. */
  maxBodyBytes?: number
  /** Bounds of the `Idempotency-Key` cache. Defaults: `10_000` keys, `32 MiB`, `10 min`. */
  idempotency?: { maxEntries?: number; maxBytes?: number; ttlMs?: number }
  /**
   * Who may read `GET /metrics`: `'authenticated'` (any valid token, the default), `'public'`, or `false` (404).
   */
  metrics?: 'authenticated' | 'public' | false
  /** Most spend records in one `/v1/records` answer; the client pages through the rest. Default `10_000`. */
  maxRecordsPerPage?: number
  /**
   * Most operations in one `POST /v1/batch` or `POST /v2/batch` request (the endpoints `httpStore` uses to send the
   * operations of one event-loop tick together). Default `1000`.
   */
  maxBatchOperations?: number
  /**
   * Limit on failed authentication attempts per client address: after `max` failures within `windowMs`, every
   * request from that address that needs a token gets 429 with `Retry-After` until the window ends. Defaults
   * `20` and `60_000`; `false` disables. The fetch handler does not know client addresses and does not limit.
   */
  authFailures?: { max?: number; windowMs?: number } | false
  /**
   * Serve the dashboard at `/dashboard` (budgets, spend charts, top spenders, recent calls, forecast). The page
   * holds no data; it reads `GET /dashboard/data` with the tenant's bearer token. Default `false`.
   */
  dashboard?: boolean
  /** Called with unexpected errors (answered 500) and store failures (answered 503). Default: none. */
  onError?: (error: unknown, context: { route: string; tenant: string | null }) => void
}

/** A fetch-style handler, with the server's metrics and a way to release it. */
export interface BudgetHandler {
  (request: Request): Promise<Response>
  /** Prometheus text of the handler's metrics (the body of `GET /metrics`). */
  metricsText(): string
}

/** @internal A request in a runtime-neutral form, so the Node server can skip building `Request` objects. */
export interface CoreRequest {
  method: string
  /** Path and query, e.g. `/v1/reserve?x=1`. */
  path: string
  header(name: string): string | null
  /** Reads the body up to `limit` bytes; returns `null` when it is longer. */
  readBody(limit: number): Promise<Uint8Array | null>
  /** The client's address, for the failed-authentication limit; `null` when unknown. */
  client: string | null
}

/** @internal A response in a runtime-neutral form. */
export interface CoreResponse {
  status: number
  headers: Record<string, string>
  body: string
  /** `body` already encoded as UTF-8, when the engine had to encode it anyway (a batch's answer): sent as it is. */
  bytes?: Uint8Array<ArrayBuffer>
}

/** @internal The handler's engine, shared by the fetch handler and the Node server. */
export interface BudgetCore {
  serve(request: CoreRequest): Promise<CoreResponse>
  metricsText(): string
  readonly store: BudgetStore
}

/** What a route handler receives. */
export interface RouteContext {
  tenant: string
  body: unknown
  query: URLSearchParams
  store: BudgetStore
}

/** One endpoint. */
export interface Route {
  /** Fixed route name for metrics. */
  name: string
  method: 'GET' | 'POST'
  /** Reads a JSON body (POST). */
  body: boolean
  run(context: RouteContext): Promise<unknown>
}

async function readWebBody(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array | null> {
  if (body === null) return new Uint8Array(0)
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>
    try {
      chunk = await reader.read()
    } catch {
      throw new HttpError(400, 'INCOMPLETE_BODY', 'the body could not be read to its end')
    }
    const { done, value } = chunk
    if (done) break
    total += value.byteLength
    if (total > limit) {
      await reader.cancel().catch(() => undefined)
      return null
    }
    chunks.push(value)
  }
  const out = new Uint8Array(total)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/**
 * Creates the budget server as a fetch-style handler `(Request) => Promise<Response>`, for Node, Bun, Deno,
 * Cloudflare Workers and any runtime with web `Request`/`Response`.
 *
 * Endpoints: one per store operation (`POST /v1/reserve`, `/v1/commit`, `/v1/release`, `/v1/balances`,
 * `/v1/reset`, `/v1/budgets/get|put|list|history`, `/v1/records`, `/v1/rollups`) and `POST /v2/batch` and
 * `POST /v1/batch` (several of them in one request, each with its own answer) used by `httpStore`, management endpoints
 * (`/budget/new`, `/budget/info`, `/budget/update`, `/budget/delete`, `/spend/logs`, `/spend/report`),
 * `GET /metrics` (Prometheus) and `GET /health`. See docs/server.md for the REST reference.
 *
 * @example
 * ```ts
 * const handler = createBudgetHandler({ store: memoryStore(), auth: { tokens: { [process.env.TOKEN!]: 'app' } } })
 * Bun.serve({ port: 8787, fetch: handler })
 * ```
 */
export function createBudgetHandler(options: BudgetHandlerOptions): BudgetHandler {
  const core = createBudgetCore(
    parseOptions('createBudgetHandler()', handlerOptionsSchema, options) as BudgetHandlerOptions,
    'createBudgetHandler()',
  )
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    const answer = await core.serve({
      method: request.method,
      path: url.pathname + url.search,
      header: (name) => request.headers.get(name),
      readBody: (limit) => readWebBody(request.body, limit),
      client: null,
    })
    return new Response(request.method === 'HEAD' ? null : (answer.bytes ?? answer.body), {
      status: answer.status,
      headers: answer.headers,
    })
  }
  return Object.assign(handler, { metricsText: core.metricsText })
}
