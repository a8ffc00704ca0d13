/**
 * Shared plumbing of the local wire-format servers: an HTTP server on 127.0.0.1 that records every request,
 * answers from a queue of scripted behaviours (falling back to a default), and can send JSON, errors with
 * `Retry-After`, and SSE streams that are slow or cut mid-way.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createServer as createHttp2Server } from 'node:http2'

/** Provider-neutral token counts; each server turns them into its provider's wire fields. */
export interface WireUsage {
  /** All input tokens, including cache reads and writes. */
  input: number
  /** All output tokens, including reasoning. */
  output: number
  /** Input tokens read from the prompt cache. */
  cacheRead?: number
  /** Cache writes with a 5-minute lifetime (Anthropic). */
  cacheWrite5m?: number
  /** Cache writes with a 1-hour lifetime (Anthropic). */
  cacheWrite1h?: number
  /** Reasoning tokens inside `output`. */
  reasoning?: number
  /** Server-side web searches (Anthropic `server_tool_use`). */
  webSearches?: number
  /** Service tier to report. */
  serviceTier?: string
}

/** What the server does for one request. */
export interface Behavior {
  /** Answer with this HTTP error status (4xx/5xx) and an error body, before any tokens. */
  status?: number
  /** `Retry-After` header (seconds) sent with an error. */
  retryAfter?: string
  /** Model to report in the response (default: the request's, mapped to its dated snapshot). */
  model?: string
  /** Usage to report. */
  usage?: WireUsage
  /** Text to answer with (split into `chunks` pieces when streamed). */
  text?: string
  /** Number of text chunks to stream (default 3). */
  chunks?: number
  /** Delay before each streamed chunk, milliseconds. */
  chunkDelayMs?: number
  /** Destroy the connection after this many text chunks (no usage sent). */
  cutAfterChunks?: number
  /** Send this many cumulative `message_delta` events (Anthropic), each with a growing output count. */
  messageDeltas?: number
  /** Seconds of audio to report for transcriptions billed by duration. */
  audioSeconds?: number
  /** Answer without any usage (as some gateways and compatible servers do), streamed or not. */
  noUsage?: boolean
  /** USD cost a gateway reports in its usage (OpenRouter `usage.cost`); `null`: report none. */
  providerCost?: number | null
  /** Chat completions: answer with one call of this tool instead of text (finish reason `tool_calls`). */
  toolCall?: { name: string; arguments: string }
}

/** One request as the server received it. */
export interface RecordedRequest {
  method: string
  path: string
  headers: Record<string, string | string[] | undefined>
  /** Parsed JSON body, or the raw text for other bodies (multipart). */
  body: unknown
  raw: string
}

/** Dated snapshot each undated model id is served as. */
export const SNAPSHOTS: Record<string, string> = {
  'gpt-4o': 'gpt-4o-2024-08-06',
  'gpt-4o-mini': 'gpt-4o-mini-2024-07-18',
  'gpt-4.1': 'gpt-4.1-2025-04-14',
  'gpt-4.1-mini': 'gpt-4.1-mini-2025-04-14',
  'gpt-5-mini': 'gpt-5-mini-2025-08-07',
  'claude-haiku-4-5': 'claude-haiku-4-5-20251001',
  'claude-sonnet-4-5': 'claude-sonnet-4-5-20250929',
}

export const DEFAULT_USAGE: WireUsage = { input: 1200, output: 80, cacheRead: 1024, reasoning: 0 }

export type Handler = (
  request: RecordedRequest,
  behavior: Behavior,
  res: ServerResponse,
  server: WireServer,
) => Promise<void>

/** A running local server. */
export class WireServer {
  readonly requests: RecordedRequest[] = []
  private readonly queue: Behavior[] = []
  defaultBehavior: Behavior = {}
  url = ''
  private readonly sockets = new Set<import('node:net').Socket>()

  constructor(
    private readonly server: Server,
    private readonly handler: Handler,
  ) {}

  /** Requests received so far, optionally only those whose path ends with `suffix`. */
  count(suffix?: string): number {
    return suffix === undefined ? this.requests.length : this.requests.filter((r) => r.path.endsWith(suffix)).length
  }

  /** Behaviours for the next requests, in order; after them the default applies. */
  enqueue(...behaviors: Behavior[]): this {
    this.queue.push(...behaviors)
    return this
  }

  /** Forget recorded requests and queued behaviours; reset the default. */
  reset(defaultBehavior: Behavior = {}): void {
    this.requests.length = 0
    this.queue.length = 0
    this.defaultBehavior = defaultBehavior
  }

  /** @internal */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const raw = Buffer.concat(chunks).toString('utf8')
    let body: unknown = raw
    if ((req.headers['content-type'] ?? '').includes('json') && raw.length > 0) body = JSON.parse(raw)
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      headers: req.headers,
      body,
      raw,
    }
    this.requests.push(recorded)
    const behavior = { ...this.defaultBehavior, ...(this.queue.shift() ?? {}) }
    try {
      await this.handler(recorded, behavior, res, this)
    } catch (error) {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: String(error), type: 'server_error' } }))
      } else res.destroy()
    }
  }

  /** @internal */
  track(socket: import('node:net').Socket): void {
    this.sockets.add(socket)
    socket.on('close', () => this.sockets.delete(socket))
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * Start a server on 127.0.0.1 with a random port. `http2: true` serves cleartext HTTP/2 (prior knowledge), as the
 * AWS SDK's default request handler speaks it; the compatibility API keeps the handlers the same.
 */
export async function startWireServer(handler: Handler, options: { http2?: boolean } = {}): Promise<WireServer> {
  // eslint-disable-next-line prefer-const -- assigned once the server that the handler below belongs to exists
  let wire: WireServer | undefined
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    void wire!.handle(req, res)
  }
  const server = options.http2 ? (createHttp2Server(onRequest as never) as unknown as Server) : createServer(onRequest)
  // Idle keep-alive connections stay open until close(), as a provider's front end keeps them far longer than Node's
  // 5 s default: a client reusing a connection the server is closing at that instant gets ECONNRESET, which a loaded
  // machine (timers late by seconds) turned into lost requests in the 200-stream tests.
  server.keepAliveTimeout = 0
  wire = new WireServer(server, handler)
  server.on('connection', (socket) => wire!.track(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  wire.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return wire
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
    ...headers,
  })
  res.end(text)
}

/** Start an SSE response. */
export function startSse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  res.flushHeaders()
}

/** Write one SSE event; `event` is omitted for OpenAI-style streams. */
export function writeSse(res: ServerResponse, data: unknown, event?: string): void {
  const payload = typeof data === 'string' ? data : JSON.stringify(data)
  res.write(`${event === undefined ? '' : `event: ${event}\n`}data: ${payload}\n\n`)
}

/** Cut the connection abruptly (as a crashed upstream or proxy would). */
export function cut(res: ServerResponse): void {
  res.socket?.destroy()
}

export function servedModel(requested: unknown, behavior: Behavior): string {
  if (behavior.model !== undefined) return behavior.model
  const model = typeof requested === 'string' ? requested : 'unknown-model'
  return SNAPSHOTS[model] ?? model
}

/** The answer in `n` pieces for streaming: `behavior.text` split evenly, or `Hello part 1 part 2 ...`. */
export function pieces(n: number, text?: string): string[] {
  if (text !== undefined) {
    const size = Math.max(1, Math.ceil(text.length / n))
    const out: string[] = []
    for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size))
    return out
  }
  return Array.from({ length: n }, (_, i) => (i === 0 ? 'Hello' : ` part ${i}`))
}
