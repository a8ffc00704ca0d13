/**
 * `createBudgetHandler()`: the budget server as a fetch-style handler `(Request) => Promise<Response>`.
 * It uses only web APIs (Request, Response, TextDecoder), so it runs on Node, Bun, Deno and
 * edge workers; `createBudgetServer()` in `./node.ts` puts it on `node:http`.
 *
 * @packageDocumentation
 */
import type { z } from 'zod'
import * as ledger from '../stores/ledger/ledger.js'
import { BudgetConfigError, InvalidInputError } from '../errors.js'
import type { BudgetStore, CommitRequest, PutBudgetRequest, RecordQuery, ReserveRequest } from '../stores/types.js'
import { createAuthenticator, type BudgetServerAuth } from './auth.js'
import { errorBody, HttpError, toHttpError } from './errors.js'
import { IdempotencyCache } from './idempotency.js'
import { createManagementRoutes, RawAnswer, type ManagementOptions } from './management.js'
import { ServerMetrics } from './metrics.js'
import * as schemas from './schemas.js'
import { sha256Hex } from '../internal/sha256.js'
import { tenantStore, type StoreTimer } from '../stores/tenant.js'

export type { BudgetServerAuth } from './auth.js'

/** Default and largest accepted request body, bytes. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024

/** Deepest JSON nesting accepted in a body. */
export const MAX_JSON_DEPTH = 32

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
  /** Reads the body up to `limit` bytes; returns `null` when it is longer (and stops reading). */
  readBody(limit: number): Promise<Uint8Array | null>
}

/** @internal A response in a runtime-neutral form. */
export interface CoreResponse {
  status: number
  headers: Record<string, string>
  body: string
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

const JSON_HEADERS = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/

function parse<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body)
  if (!result.success) {
    const issue = result.error.issues[0]
    const field = issue === undefined ? 'body' : schemas.fieldPath(issue.path)
    throw new InvalidInputError(field, `\`${field}\`: ${issue?.message ?? 'invalid'}`)
  }
  return result.data
}

function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== 'object' || v === null) continue
    if (depth > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1])
  }
  return false
}

function storeRoutes(maxRecordsPerPage: number): Route[] {
  return [
    {
      name: 'reserve',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = parse(schemas.reserveSchema, body) as ReserveRequest
        ledger.validateReserve(request)
        return store.reserve(request)
      },
    },
    {
      name: 'commit',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = parse(schemas.commitSchema, body) as CommitRequest
        ledger.validateCommit(request)
        return store.commit(request)
      },
    },
    {
      name: 'release',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = parse(schemas.releaseSchema, body)
        ledger.validateRelease(request)
        return store.release(request)
      },
    },
    {
      name: 'balances',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const request = parse(schemas.keysSchema, body)
        ledger.validateKeys(request)
        return { balances: await store.balances(request) }
      },
    },
    {
      name: 'reset',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const request = parse(schemas.keysSchema, body)
        ledger.validateKeys(request)
        await store.reset(request)
        return {}
      },
    },
    {
      name: 'budgets.get',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => ({ budget: await store.getBudget(ledger.validateScope(parse(schemas.scopeSchema, body).scope)) }),
    },
    {
      name: 'budgets.put',
      method: 'POST',
      body: true,
      run: ({ body, store }) => {
        const request = parse(schemas.putBudgetSchema, body) as PutBudgetRequest
        ledger.validatePutBudget(request)
        return store.putBudget(request)
      },
    },
    {
      name: 'budgets.list',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        parse(schemas.emptySchema, body)
        return { budgets: await store.listBudgets() }
      },
    },
    {
      name: 'budgets.history',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => ({ history: await store.getHistory(ledger.validateScope(parse(schemas.scopeSchema, body).scope)) }),
    },
    {
      name: 'records',
      method: 'POST',
      body: true,
      run: async ({ body, store }) => {
        const query = parse(schemas.recordQuerySchema, body) as RecordQuery
        const pageSize = Math.min(query.limit ?? Number.POSITIVE_INFINITY, maxRecordsPerPage)
        // One more than the page tells the client whether to ask again.
        const records = await store.queryRecords({ ...query, limit: pageSize + 1 })
        const more = records.length > pageSize
        return { records: more ? records.slice(0, pageSize) : records, more }
      },
    },
  ]
}

const STORE_PATHS: Record<string, string> = {
  reserve: '/v1/reserve',
  commit: '/v1/commit',
  release: '/v1/release',
  balances: '/v1/balances',
  reset: '/v1/reset',
  'budgets.get': '/v1/budgets/get',
  'budgets.put': '/v1/budgets/put',
  'budgets.list': '/v1/budgets/list',
  'budgets.history': '/v1/budgets/history',
  records: '/v1/records',
}

/** @internal Builds the engine behind {@link createBudgetHandler} and `createBudgetServer`. */
export function createBudgetCore(options: BudgetHandlerOptions): BudgetCore {
  if (typeof options !== 'object' || options === null) throw new BudgetConfigError('options', '`createBudgetHandler` needs `{ store | manager, auth }`')
  const given = options.store ?? options.manager?.store
  if (given === undefined) throw new BudgetConfigError('store', 'pass `store` (e.g. `memoryStore()`, `fileStore({ path })`) or `manager`')
  const store: BudgetStore = given
  const authenticate = createAuthenticator(options.auth)
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  if (!Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 1024 || maxBodyBytes > 16 * 1024 * 1024) {
    throw new BudgetConfigError('maxBodyBytes', `\`maxBodyBytes\` must be an integer from 1024 to 16777216, got ${String(maxBodyBytes)}`)
  }
  const maxRecordsPerPage = options.maxRecordsPerPage ?? 10_000
  if (!Number.isSafeInteger(maxRecordsPerPage) || maxRecordsPerPage < 1) {
    throw new BudgetConfigError('maxRecordsPerPage', `\`maxRecordsPerPage\` must be a positive integer, got ${String(maxRecordsPerPage)}`)
  }
  const idem = options.idempotency ?? {}
  const idempotency = new IdempotencyCache(
    { maxEntries: idem.maxEntries ?? 10_000, maxBytes: idem.maxBytes ?? 32 * 1024 * 1024, ttlMs: idem.ttlMs ?? 600_000 },
    () => Date.now(),
  )
  for (const [field, value] of Object.entries({ 'idempotency.maxEntries': idem.maxEntries, 'idempotency.maxBytes': idem.maxBytes, 'idempotency.ttlMs': idem.ttlMs })) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 1)) throw new BudgetConfigError(field, `\`${field}\` must be a positive integer, got ${String(value)}`)
  }
  const metricsMode = options.metrics ?? 'authenticated'
  const metrics = new ServerMetrics()
  const time: StoreTimer = async (operation, run) => {
    const start = performance.now()
    try {
      return await run()
    } finally {
      metrics.storeOperation(operation, (performance.now() - start) / 1000)
    }
  }

  const routes = new Map<string, Route>()
  for (const route of storeRoutes(maxRecordsPerPage)) routes.set(STORE_PATHS[route.name]!, route)
  for (const [path, route] of Object.entries(createManagementRoutes(options, store))) routes.set(path, route)

  const views = new Map<string, BudgetStore>()
  const viewOf = (tenant: string): BudgetStore => {
    let view = views.get(tenant)
    if (view === undefined) {
      view = tenantStore(store, tenant, time)
      if (views.size >= 10_000) views.delete(views.keys().next().value!)
      views.set(tenant, view)
    }
    return view
  }

  const metricsText = (): string => metrics.render({ idempotencyEntries: idempotency.size, idempotencyBytes: idempotency.byteSize })

  const json = (status: number, value: unknown, headers: Record<string, string> = {}): CoreResponse => ({
    status,
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(value),
  })

  const ok = (value: unknown): CoreResponse =>
    value instanceof RawAnswer ? { status: 200, headers: { ...JSON_HEADERS, 'content-type': value.contentType }, body: value.body } : json(200, value)

  const failure = (error: HttpError): CoreResponse => ({ status: error.status, headers: { ...JSON_HEADERS, ...error.headers }, body: errorBody(error) })

  async function readJson(request: CoreRequest): Promise<{ text: string; value: unknown }> {
    const type = request.header('content-type')
    if (type !== null && !/^application\/json\s*(;|$)/i.test(type)) {
      throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `send JSON with \`Content-Type: application/json\`, got ${JSON.stringify(type.slice(0, 100))}`)
    }
    const length = request.header('content-length')
    if (length !== null && Number(length) > maxBodyBytes) {
      throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body is ${length} bytes; at most ${maxBodyBytes} are accepted`, undefined, { connection: 'close' })
    }
    const bytes = await request.readBody(maxBodyBytes)
    if (bytes === null) throw new HttpError(413, 'PAYLOAD_TOO_LARGE', `the body exceeds ${maxBodyBytes} bytes`, undefined, { connection: 'close' })
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    } catch {
      throw new HttpError(400, 'INVALID_JSON', 'the body is not valid UTF-8')
    }
    let value: unknown
    try {
      value = text.length === 0 ? {} : JSON.parse(text)
    } catch {
      throw new HttpError(400, 'INVALID_JSON', 'the body is not valid JSON')
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'INVALID_JSON', 'the body must be a JSON object')
    if (jsonDepthExceeds(value, MAX_JSON_DEPTH)) throw new HttpError(400, 'INVALID_JSON', `the body nests deeper than ${MAX_JSON_DEPTH} levels`)
    return { text, value }
  }

  async function serve(request: CoreRequest): Promise<CoreResponse> {
    const start = performance.now()
    metrics.inFlight++
    let routeName = 'unknown'
    let tenant: string | null = null
    let response: CoreResponse
    try {
      const queryAt = request.path.indexOf('?')
      const path = queryAt === -1 ? request.path : request.path.slice(0, queryAt)
      const query = new URLSearchParams(queryAt === -1 ? '' : request.path.slice(queryAt + 1))
      if (path === '/health') {
        routeName = 'health'
        if (request.method !== 'GET' && request.method !== 'HEAD') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use GET', undefined, { allow: 'GET, HEAD' })
        response = json(200, { status: 'ok', store: store.name })
      } else if (path === '/metrics') {
        routeName = 'metrics'
        if (metricsMode === false) throw new HttpError(404, 'NOT_FOUND', 'metrics are disabled on this server')
        if (request.method !== 'GET') throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use GET', undefined, { allow: 'GET' })
        if (metricsMode === 'authenticated') tenant = await authenticate(request.header('authorization'))
        response = { status: 200, headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' }, body: metricsText() }
      } else {
        const route = routes.get(path)
        if (route === undefined) throw new HttpError(404, 'NOT_FOUND', `no endpoint ${JSON.stringify(path.slice(0, 200))}`)
        routeName = route.name
        if (request.method !== route.method) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${route.method} for ${path}`, undefined, { allow: route.method })
        tenant = await authenticate(request.header('authorization'))
        const body = route.body ? await readJson(request) : { text: '', value: undefined }
        const idempotencyKey = request.header('idempotency-key')
        const context: RouteContext = { tenant, body: body.value, query, store: viewOf(tenant) }
        if (idempotencyKey === null) {
          response = ok(await route.run(context))
        } else {
          if (!IDEMPOTENCY_KEY.test(idempotencyKey)) throw new InvalidInputError('Idempotency-Key', '`Idempotency-Key` must be 1 to 200 visible ASCII characters')
          const cacheKey = `${tenant}\u0000${idempotencyKey}`
          const fingerprint = sha256Hex(`${request.method} ${request.path}\n${body.text}`)
          const found = idempotency.begin(cacheKey, fingerprint)
          if (found.kind === 'replay') {
            metrics.idempotencyReplays++
            response = { status: found.answer.status, headers: { ...JSON_HEADERS, 'idempotent-replayed': 'true' }, body: found.answer.body }
          } else if (found.kind === 'in-flight') {
            throw new HttpError(409, 'IDEMPOTENCY_IN_FLIGHT', 'a request with this `Idempotency-Key` is still being processed; retry shortly', undefined, { 'retry-after': '1' })
          } else if (found.kind === 'mismatch') {
            throw new HttpError(422, 'IDEMPOTENCY_KEY_REUSED', 'this `Idempotency-Key` was used with another request; use a fresh key for a new request')
          } else {
            try {
              response = ok(await route.run(context))
            } catch (error) {
              response = failure(toHttpError(error))
              if (response.status >= 500) options.onError?.(error, { route: routeName, tenant })
            }
            idempotency.finish(cacheKey, { status: response.status, body: response.body }, response.status < 500)
          }
        }
      }
    } catch (error) {
      const httpError = toHttpError(error)
      if (httpError.status === 401 || httpError.status === 403) metrics.authFailures++
      if (httpError.status >= 500) options.onError?.(error, { route: routeName, tenant })
      response = failure(httpError)
    } finally {
      metrics.inFlight--
    }
    metrics.request(routeName, request.method === 'GET' || request.method === 'POST' || request.method === 'HEAD' ? request.method : 'other', response.status, (performance.now() - start) / 1000)
    return response
  }

  return { serve, metricsText, store }
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
 * `/v1/reset`, `/v1/budgets/get|put|list|history`, `/v1/records`) used by `httpStore`, management endpoints
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
  const core = createBudgetCore(options)
  const handler = async (request: Request): Promise<Response> => {
    const url = new URL(request.url)
    const answer = await core.serve({
      method: request.method,
      path: url.pathname + url.search,
      header: (name) => request.headers.get(name),
      readBody: (limit) => readWebBody(request.body, limit),
    })
    return new Response(request.method === 'HEAD' ? null : answer.body, { status: answer.status, headers: answer.headers })
  }
  return Object.assign(handler, { metricsText: core.metricsText })
}
