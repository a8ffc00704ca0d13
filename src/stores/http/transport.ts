/**
 * `httpStore`'s transport: one attempt of one operation, as an HTTP request with a timeout. Operations issued in
 * the same event-loop tick are coalesced into one `POST /v2/batch` request (the positional wire format of
 * `./wire.ts`; the server applies them in order, each with its own answer and its own idempotency key); an
 * operation alone in its tick goes to its own endpoint. A server without `/v2/batch` (404/405: an older server) gets
 * `POST /v1/batch` from then on; one without either gets the operations one by one, as does a batch the server finds
 * too large (413). An answer to `/v2/batch` that is not a version 2 answer fails every operation of the batch (their
 * outcome is unknown: retried with the same keys), never read as another version's.
 *
 * @internal Used by `httpStore`.
 */

import { BATCH_PATHS, encodeOperation } from './wire.js'

/** The answer to one operation: its HTTP status, its parsed JSON body (`undefined` when not JSON), `Retry-After`. */
export interface Reply {
  status: number
  body: unknown
  retryAfter: string | null
}

/** No usable answer: a network failure or the timeout. `detail` says which (e.g. `ECONNREFUSED`). */
export class TransportError extends Error {
  constructor(
    readonly detail: string,
    readonly timedOut: boolean,
    options?: { cause?: unknown },
  ) {
    super(detail, options)
  }
}

interface Pending {
  path: string
  /** The request's JSON, as a lone request and a version 1 batch send it. */
  body: string
  /**
   * The operation as a version 2 batch sends it, written when the operation was handed over (a caller that changes
   * its request object afterwards cannot make the two texts differ), or '' when the server was not then sent version 2.
   */
  op: string
  key: string
  resolve(reply: Reply): void
  reject(error: unknown): void
}

export interface TransportOptions {
  baseUrl: string
  authorization: string
  fetch: typeof fetch
  timeoutMs: number
  batch: { maxOperations: number; maxBytes: number } | null
}

/** What a failed fetch says, as briefly as possible: the system error code when there is one. */
function networkDetail(error: unknown): string {
  const seen = new Set<unknown>()
  for (
    let e: unknown = error;
    typeof e === 'object' && e !== null && !seen.has(e);
    e = (e as { cause?: unknown }).cause
  ) {
    seen.add(e)
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code))
      return `${code}${typeof (e as Error).message === 'string' ? `: ${(e as Error).message.slice(0, 200)}` : ''}`
  }
  return String((error as Error)?.message ?? error).slice(0, 200)
}

const nextTick: (run: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (run) => (globalThis as unknown as { setImmediate: (f: () => void) => void }).setImmediate(run)
    : (run) => setTimeout(run, 0)

export class Transport {
  readonly #options: TransportOptions
  /** The batch version the server is sent (2, or 1 for an older server), or 0: one request per operation. */
  #version: 0 | 1 | 2
  #queue: Pending[] = []
  #scheduled = false

  constructor(options: TransportOptions) {
    this.#options = options
    this.#version = options.batch === null ? 0 : 2
  }

  /** Sends one attempt of an operation; resolves with the server's answer to it, or throws {@link TransportError}. */
  send(path: string, payload: unknown, body: string, key: string): Promise<Reply> {
    if (this.#version === 0) return this.#alone(path, body, key)
    return new Promise<Reply>((resolve, reject) => {
      const op = this.#version === 2 ? encodeOperation(path, key, payload, body) : ''
      this.#queue.push({ path, body, op, key, resolve, reject })
      if (!this.#scheduled) {
        this.#scheduled = true
        nextTick(() => this.#flush())
      }
    })
  }

  #flush(): void {
    this.#scheduled = false
    const queue = this.#queue
    this.#queue = []
    const limits = this.#options.batch!
    let group: Pending[] = []
    let bytes = 0
    for (const item of queue) {
      const size = item.body.length + item.path.length + item.key.length + 40
      if (group.length > 0 && (group.length >= limits.maxOperations || bytes + size > limits.maxBytes)) {
        this.#dispatch(group)
        group = []
        bytes = 0
      }
      group.push(item)
      bytes += size
    }
    if (group.length > 0) this.#dispatch(group)
  }

  #dispatch(group: Pending[]): void {
    if (group.length === 1 || this.#version === 0) {
      for (const item of group) this.#alone(item.path, item.body, item.key).then(item.resolve, item.reject)
      return
    }
    void this.#batch(group)
  }

  async #batch(group: Pending[]): Promise<void> {
    const version = this.#version
    let body: string
    if (version === 2) {
      body = '{"ops":['
      for (let i = 0; i < group.length; i++) {
        const item = group[i]!
        // the version only goes down: an operation sent now as version 2 was handed over when it was version 2
        body += `${i === 0 ? '' : ','}${item.op}`
      }
    } else {
      body = '{"operations":['
      for (let i = 0; i < group.length; i++) {
        const item = group[i]!
        body += `${i === 0 ? '' : ','}{"path":"${item.path}","key":${JSON.stringify(item.key)},"body":${item.body}}`
      }
    }
    body += ']}'
    let reply: Reply
    try {
      reply = await this.#request(BATCH_PATHS[version as 1 | 2], body, null)
    } catch (error) {
      for (const item of group) item.reject(error)
      return
    }
    if (reply.status === 404 || reply.status === 405 || reply.status === 413) {
      if (reply.status !== 413) {
        // A server without this batch endpoint: an older version's, or one request per operation (a batch sent
        // before another one found that out is sent again as the version now in use).
        if (this.#version === version) this.#version = version === 2 ? 1 : 0
        if (this.#version !== 0) return this.#batch(group)
      }
      // A batch over the server's body limit, or no batch endpoint at all: one by one.
      for (const item of group) this.#alone(item.path, item.body, item.key).then(item.resolve, item.reject)
      return
    }
    if (reply.status === 400) {
      // The server could not read the batch itself (another version's body, more operations than its
      // maxBatchOperations): no operation ran, and the refusal says nothing about any operation's own input. Each is
      // sent alone, with its own key, and answered on its own.
      for (const item of group) this.#alone(item.path, item.body, item.key).then(item.resolve, item.reject)
      return
    }
    if (reply.status !== 200) {
      // The whole batch was answered at once (401, 429, 503, ...): that is every operation's answer.
      for (const item of group) item.resolve(reply)
      return
    }
    const answer = reply.body as { v?: unknown; results?: unknown } | undefined
    const results = answer?.results
    if (!Array.isArray(results) || results.length !== group.length || (version === 2) !== (answer?.v === 2)) {
      const error = new TransportError(
        `the server answered ${BATCH_PATHS[version as 1 | 2]} with a body that is not a version ${version} batch answer for it`,
        false,
      )
      for (const item of group) item.reject(error)
      return
    }
    for (let i = 0; i < group.length; i++) {
      let status: unknown
      let body: unknown
      let retryAfter: unknown
      const result: unknown = results[i]
      if (version === 2) {
        if (Array.isArray(result)) [status, body, retryAfter] = result as unknown[]
      } else if (typeof result === 'object' && result !== null)
        ({ status, body, retryAfter } = result as { status?: unknown; body?: unknown; retryAfter?: unknown })
      group[i]!.resolve({
        status: typeof status === 'number' ? status : 502,
        body,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
      })
    }
  }

  #alone(path: string, body: string, key: string): Promise<Reply> {
    return this.#request(path, body, key)
  }

  async #request(path: string, body: string, key: string | null): Promise<Reply> {
    const { baseUrl, authorization, timeoutMs } = this.#options
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    let response: Response
    let text: string
    try {
      const headers: Record<string, string> = { authorization, 'content-type': 'application/json' }
      if (key !== null) headers['idempotency-key'] = key
      response = await this.#options.fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers,
        body,
        signal: controller.signal,
      })
      text = await response.text()
    } catch (error) {
      if (controller.signal.aborted)
        throw new TransportError(`no answer within ${timeoutMs} ms`, true, { cause: error })
      throw new TransportError(`request failed (${networkDetail(error)})`, false, { cause: error })
    } finally {
      clearTimeout(timer)
    }
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch {
      parsed = undefined // e.g. a reverse proxy's HTML error page
    }
    return { status: response.status, body: parsed, retryAfter: response.headers.get('retry-after') }
  }
}
