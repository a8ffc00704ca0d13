/**
 * The budget server's engine behind `createBudgetHandler` and `createBudgetServer`: routing, authentication
 * (with the per-client failure limit), idempotency keys, tenant views, the batch endpoint and metrics. Options
 * arrive already checked by `parseOptions`.
 *
 * @internal Used by the handler and the Node server.
 */
import { BudgetConfigError, InvalidInputError } from '../errors.js'
import { truncate } from '../internal/describe.js'
import type { BudgetStore } from '../stores/types.js'
import { PrefixedKeys, tenantStore, type PrefixedKeyBudget, type StoreTimer } from '../stores/tenant.js'
import { createAuthenticator } from './auth.js'
import { AuthFailureLimit } from './auth-limit.js'
import { BATCH_PATH_PATTERN, runBatch, unsupportedVersion } from './batch.js'
import { readJson } from './body.js'
import { errorBody, HttpError, JSON_HEADERS, toHttpError } from './errors.js'
import {
  DEFAULT_MAX_BODY_BYTES,
  type BudgetCore,
  type BudgetHandlerOptions,
  type CoreRequest,
  type CoreResponse,
  type Route,
} from './handler.js'
import { type BatchAnswers, fingerprintOf, IdempotencyCache } from './idempotency.js'
import { createManagementRoutes, RawAnswer } from './management.js'
import { dashboardAsset, dashboardRoutes, tenantGauges, tenantManagers } from './dashboard/index.js'
import { ServerMetrics } from './metrics.js'
import { resultJson } from './result-json.js'
import { authFailuresSchema, idempotencySchema } from './options.js'
import { parseOptions } from '../internal/options.js'
import { STORE_PATHS, storeRoutes } from './store-routes.js'

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/

/** An operation's answer before it becomes an HTTP response. */
export interface Answer {
  status: number
  body: string
  headers: Record<string, string>
  /** `body` as UTF-8, when it was encoded already (a batch's answer). */
  bytes?: Uint8Array<ArrayBuffer>
}

/** One operation to run for an authenticated tenant: a store or management route with its body. */
export interface Operation {
  route: Route
  path: string
  method: string
  /**
   * The body as sent (for the idempotency fingerprint); `null` for an operation of a batch, whose fingerprint is
   * its parsed body as JSON, computed only if its key is seen again.
   */
  text: string | null
  value: unknown
  query: URLSearchParams
  idempotencyKey: string | null
  /** The batch this operation is operation `index` of (its keyed answer is remembered through it), or `null`. */
  batch: BatchAnswers | null
  index: number
}

/**
 * Runs operations for a tenant; the batch endpoint uses it for each of its operations. An answer known without
 * running the route (a replay, a refused key) comes back as it is, not in a promise.
 */
export type RunOperation = (tenant: string, operation: Operation) => Answer | Promise<Answer>

/**
 * `bytes` in an array buffer of their own: a small Node body is a view into a shared 8 KiB pool, which the
 * idempotency cache must not keep alive (nor count as the body's size) for as long as it remembers the batch.
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength ? bytes : new Uint8Array(bytes)
}

/** The message of an error without the tenant's internal prefix, which a client must never see. */
function withoutTenant(error: HttpError, tenant: string | null): HttpError {
  const prefix = tenant === null ? '' : `${tenant}/`
  if (prefix === '' || !error.message.includes(prefix)) return error
  return new HttpError(error.status, error.code, error.message.split(prefix).join(''), error.field, error.headers)
}

/** Builds the engine from checked options. */
export function createBudgetCore(options: BudgetHandlerOptions, where: string): BudgetCore {
  const given = options.store ?? options.manager?.store
  if (given === undefined)
    throw new BudgetConfigError('store', 'pass `store` (e.g. `memoryStore()`, `fileStore({ path })`) or `manager`')
  const store: BudgetStore = given
  const authenticate = createAuthenticator(options.auth)
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const maxBatchBytes = Math.min(16 * 1024 * 1024, maxBodyBytes * 16)
  const maxBatchOperations = options.maxBatchOperations ?? 1000
  const maxRecordsPerPage = options.maxRecordsPerPage ?? 10_000
  const idem = parseOptions(`${where} \`idempotency\``, idempotencySchema, options.idempotency)
  const idempotency = new IdempotencyCache(
    {
      maxEntries: idem.maxEntries ?? 10_000,
      maxBytes: idem.maxBytes ?? 32 * 1024 * 1024,
      ttlMs: idem.ttlMs ?? 600_000,
    },
    () => Date.now(),
  )
  const limits =
    options.authFailures === false
      ? null
      : parseOptions(`${where} \`authFailures\``, authFailuresSchema, options.authFailures)
  const authLimit =
    limits === null ? null : new AuthFailureLimit(limits.max ?? 20, limits.windowMs ?? 60_000, () => Date.now())
  const metricsMode = options.metrics ?? 'authenticated'
  const metrics = new ServerMetrics()
  // One reaction on the store's promise instead of an async function per store call.
  const time: StoreTimer = <T>(operation: string, run: () => Promise<T>): Promise<T> => {
    const start = performance.now()
    const observe = (): void => metrics.storeOperation(operation, (performance.now() - start) / 1000)
    let pending: Promise<T>
    try {
      pending = run()
    } catch (error) {
      observe()
      return Promise.reject(error)
    }
    return pending.then(
      (value) => {
        observe()
        return value
      },
      (error: unknown) => {
        observe()
        throw error
      },
    )
  }

  const routes = new Map<string, Route>()
  for (const route of storeRoutes(maxRecordsPerPage)) routes.set(STORE_PATHS[route.name]!, route)
  for (const [path, route] of Object.entries(createManagementRoutes(options, store))) routes.set(path, route)
  const tenantManager = tenantManagers({
    ...(options.manager === undefined ? {} : { clock: options.manager.clock }),
    ...options.managerOptions,
  })
  if (options.dashboard === true)
    for (const [path, route] of Object.entries(dashboardRoutes(tenantManager))) routes.set(path, route)

  // Each view remembers its prefixed reserve and commit keys, bounded across views (see `PrefixedKeys`).
  const views = new Map<string, { store: BudgetStore; keys: PrefixedKeys }>()
  const keyBudget: PrefixedKeyBudget = { size: 0 }
  const viewOf = (tenant: string): BudgetStore => {
    let view = views.get(tenant)
    if (view === undefined) {
      const keys = new PrefixedKeys(keyBudget)
      view = { store: tenantStore(store, tenant, time, keys), keys }
      if (views.size >= 10_000) {
        const oldest = views.keys().next().value!
        views.get(oldest)!.keys.clear()
        views.delete(oldest)
      }
      views.set(tenant, view)
    }
    return view.store
  }

  const metricsText = (): string =>
    metrics.render({ idempotencyEntries: idempotency.size, idempotencyBytes: idempotency.byteSize })

  const json = (status: number, value: unknown): Answer => ({
    status,
    headers: JSON_HEADERS,
    body: JSON.stringify(value),
  })

  const ok = (value: unknown): Answer =>
    value instanceof RawAnswer
      ? { status: 200, headers: { ...JSON_HEADERS, 'content-type': value.contentType }, body: value.body }
      : { status: 200, headers: JSON_HEADERS, body: resultJson(value) }

  const failure = (error: HttpError, tenant: string | null): Answer => {
    const shown = withoutTenant(error, tenant)
    const headers = Object.keys(shown.headers).length === 0 ? JSON_HEADERS : { ...JSON_HEADERS, ...shown.headers }
    return { status: shown.status, headers, body: errorBody(shown) }
  }

  async function authenticated(request: CoreRequest): Promise<string> {
    authLimit?.check(request.client)
    try {
      return await authenticate(request.header('authorization'))
    } catch (error) {
      if (error instanceof HttpError && error.status === 401) authLimit?.failed(request.client)
      throw error
    }
  }

  /** The answer to an operation whose route failed. */
  const refusal = (error: unknown, tenant: string, route: Route): Answer => {
    const httpError = toHttpError(error)
    if (httpError.status >= 500) options.onError?.(error, { route: route.name, tenant })
    return failure(httpError, tenant)
  }

  /**
   * Runs one operation's route; errors become answers. With a key, the answer is stored for it. Written with one
   * reaction on the route's promise (no async function per layer): this runs for every operation of a batch.
   */
  function run(tenant: string, operation: Operation, key: string | null): Promise<Answer> {
    const route = operation.route
    const settle = (answer: Answer): Answer => {
      if (key !== null) {
        if (operation.batch === null) idempotency.finish(tenant, key, answer, answer.status < 500)
        else idempotency.finishBatch(tenant, key, operation.batch, operation.index, answer, answer.status < 500)
      }
      return answer
    }
    let pending: Promise<unknown>
    try {
      pending = route.run({ tenant, body: operation.value, query: operation.query, store: viewOf(tenant) })
    } catch (error) {
      return Promise.resolve(settle(refusal(error, tenant, route)))
    }
    return pending.then(
      (value) => {
        let answer: Answer
        try {
          answer = ok(value)
        } catch (error) {
          answer = refusal(error, tenant, route)
        }
        return settle(answer)
      },
      (error: unknown) => settle(refusal(error, tenant, route)),
    )
  }

  /** Runs one operation with its idempotency key (if any); errors become answers, some known at once. */
  const runOperation: RunOperation = (tenant, operation) => {
    const key = operation.idempotencyKey
    if (key === null) return run(tenant, operation, null)
    if (!IDEMPOTENCY_KEY.test(key)) {
      return failure(
        toHttpError(
          new InvalidInputError('Idempotency-Key', '`Idempotency-Key` must be 1 to 200 visible ASCII characters'),
        ),
        tenant,
      )
    }
    const { batch, text } = operation
    const found = idempotency.begin(
      tenant,
      key,
      batch ?? fingerprintOf(operation.method, operation.path, text!),
      operation.index,
      operation.value,
    )
    if (found.kind === 'replay') {
      metrics.idempotencyReplays++
      return {
        status: found.answer.status,
        headers: { ...JSON_HEADERS, 'idempotent-replayed': 'true' },
        body: found.answer.body,
      }
    }
    if (found.kind === 'in-flight') {
      return failure(
        new HttpError(
          409,
          'IDEMPOTENCY_IN_FLIGHT',
          'a request with this `Idempotency-Key` is still being processed; retry shortly',
          undefined,
          { 'retry-after': '1' },
        ),
        tenant,
      )
    }
    if (found.kind === 'mismatch') {
      return failure(
        new HttpError(
          422,
          'IDEMPOTENCY_KEY_REUSED',
          'this `Idempotency-Key` was used with another request; use a fresh key for a new request',
        ),
        tenant,
      )
    }
    return run(tenant, operation, key)
  }

  async function route(
    request: CoreRequest,
    path: string,
    query: URLSearchParams,
    named: (name: string, tenant: string | null) => void,
  ): Promise<Answer> {
    if (path === '/health') {
      named('health', null)
      if (request.method !== 'GET' && request.method !== 'HEAD')
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use GET', undefined, { allow: 'GET, HEAD' })
      return json(200, { status: 'ok', store: store.name })
    }
    if (path === '/metrics') {
      named('metrics', null)
      if (metricsMode === false) throw new HttpError(404, 'NOT_FOUND', 'metrics are disabled on this server')
      if (request.method !== 'GET')
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use GET', undefined, { allow: 'GET' })
      const tenant = metricsMode === 'authenticated' ? await authenticated(request) : null
      named('metrics', tenant)
      // With a token, the tenant's own per-budget gauges follow the server's metrics (never another tenant's).
      const gauges = tenant === null ? '' : await tenantGauges(tenantManager(tenant, viewOf(tenant)))
      return {
        status: 200,
        headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8', 'cache-control': 'no-store' },
        body: metricsText() + gauges,
      }
    }
    if (options.dashboard === true && dashboardAsset(path) !== undefined) {
      named('dashboard', null)
      if (request.method !== 'GET' && request.method !== 'HEAD')
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'use GET', undefined, { allow: 'GET, HEAD' })
      return dashboardAsset(path)!
    }
    const batchVersion = path.length < 16 ? BATCH_PATH_PATTERN.exec(path) : null
    if (batchVersion !== null) {
      named('batch', null)
      const version = Number(batchVersion[1])
      if (version !== 1 && version !== 2) throw unsupportedVersion(path)
      if (request.method !== 'POST')
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use POST for ${path}`, undefined, { allow: 'POST' })
      const tenant = await authenticated(request)
      named('batch', tenant)
      const body = await readJson(request, maxBatchBytes)
      return runBatch(body.value, version, {
        tenant,
        routes,
        maxOperations: maxBatchOperations,
        runOperation,
        complete: (batch, text, bytes) => idempotency.completeBatch(tenant, batch, text, bytes),
        request: ownBytes(body.bytes),
      })
    }
    const found = routes.get(path)
    if (found === undefined) throw new HttpError(404, 'NOT_FOUND', `no endpoint ${JSON.stringify(truncate(path, 200))}`)
    named(found.name, null)
    if (request.method !== found.method)
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `use ${found.method} for ${path}`, undefined, {
        allow: found.method,
      })
    const tenant = await authenticated(request)
    named(found.name, tenant)
    const body = found.body ? await readJson(request, maxBodyBytes) : { text: '', value: undefined }
    return runOperation(tenant, {
      route: found,
      path,
      method: request.method,
      text: body.text,
      value: body.value,
      query,
      idempotencyKey: request.header('idempotency-key'),
      batch: null,
      index: -1,
    })
  }

  async function serve(request: CoreRequest): Promise<CoreResponse> {
    const start = performance.now()
    metrics.inFlight++
    let routeName = 'unknown'
    let tenant: string | null = null
    let response: Answer
    try {
      const queryAt = request.path.indexOf('?')
      const path = queryAt === -1 ? request.path : request.path.slice(0, queryAt)
      const query = new URLSearchParams(queryAt === -1 ? '' : request.path.slice(queryAt + 1))
      response = await route(request, path, query, (name, who) => {
        routeName = name
        tenant = who
      })
    } catch (error) {
      const httpError = toHttpError(error)
      if (httpError.status === 401 || httpError.status === 403) metrics.authFailures++
      if (httpError.status >= 500) options.onError?.(error, { route: routeName, tenant })
      response = failure(httpError, tenant)
    } finally {
      metrics.inFlight--
    }
    metrics.request(
      routeName,
      request.method === 'GET' || request.method === 'POST' || request.method === 'HEAD' ? request.method : 'other',
      response.status,
      (performance.now() - start) / 1000,
    )
    return response
  }

  return { serve, metricsText, store }
}
