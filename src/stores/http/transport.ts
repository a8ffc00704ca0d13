/**
 * `httpStore`'s transport: one attempt of one operation, as an HTTP request with a timeout. Operations issued in
 * the same event-loop tick are coalesced into one `POST /v1/batch` request (the server applies them in order,
 * each with its own answer and its own idempotency key); an operation alone in its tick goes to its own endpoint.
 * A server without the batch endpoint (404/405) or one that finds a batch too large (413) gets the operations one
 * by one, and batching stays off for a server without the endpoint.
 *
 * @internal Used by `httpStore`.
 */

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
  body: string
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

const BATCH_PATH = '/v1/batch'

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
  #batching: boolean
  #queue: Pending[] = []
  #scheduled = false

  constructor(options: TransportOptions) {
    this.#options = options
    this.#batching = options.batch !== null
  }

  /** Sends one attempt of an operation; resolves with the server's answer to it, or throws {@link TransportError}. */
  send(path: string, body: string, key: string): Promise<Reply> {
    if (!this.#batching) return this.#alone(path, body, key)
    return new Promise<Reply>((resolve, reject) => {
      this.#queue.push({ path, body, key, resolve, reject })
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
    if (group.length === 1 || !this.#batching) {
      for (const item of group) this.#alone(item.path, item.body, item.key).then(item.resolve, item.reject)
      return
    }
    void this.#batch(group)
  }

  async #batch(group: Pending[]): Promise<void> {
    let body = '{"operations":['
    for (let i = 0; i < group.length; i++) {
      const item = group[i]!
      body += `${i === 0 ? '' : ','}{"path":"${item.path}","key":${JSON.stringify(item.key)},"body":${item.body}}`
    }
    body += ']}'
    let reply: Reply
    try {
      reply = await this.#request(BATCH_PATH, body, null)
    } catch (error) {
      for (const item of group) item.reject(error)
      return
    }
    if (reply.status === 404 || reply.status === 405 || reply.status === 413) {
      // An older server without the endpoint, or a batch over its body limit: one by one.
      if (reply.status !== 413) this.#batching = false
      for (const item of group) this.#alone(item.path, item.body, item.key).then(item.resolve, item.reject)
      return
    }
    const results = reply.status === 200 ? (reply.body as { results?: unknown } | undefined)?.results : undefined
    if (reply.status !== 200) {
      // The whole batch was answered at once (401, 429, 503, ...): that is every operation's answer.
      for (const item of group) item.resolve(reply)
      return
    }
    if (!Array.isArray(results) || results.length !== group.length) {
      const error = new TransportError('the server answered a batch with a body that does not match it', false)
      for (const item of group) item.reject(error)
      return
    }
    for (let i = 0; i < group.length; i++) {
      const result = results[i] as { status?: unknown; body?: unknown; retryAfter?: unknown } | null
      const status = typeof result?.status === 'number' ? result.status : 502
      group[i]!.resolve({
        status,
        body: result?.body,
        retryAfter: typeof result?.retryAfter === 'string' ? result.retryAfter : null,
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
