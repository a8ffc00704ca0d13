/**
 * A local server that speaks Anthropic's Messages wire format, JSON and SSE: `message_start` carries the input
 * side and a provisional `output_tokens: 1`; `message_delta` usage is cumulative (sent one or more times).
 */
import type { ServerResponse } from 'node:http'
import {
  DEFAULT_USAGE,
  cut,
  pieces,
  sendJson,
  servedModel,
  sleep,
  startSse,
  startWireServer,
  writeSse,
  type Behavior,
  type RecordedRequest,
  type WireServer,
  type WireUsage,
} from './base.js'

export type { Behavior, WireServer, WireUsage } from './base.js'

/** Anthropic `usage`: `input_tokens` excludes cache reads and writes. */
export function anthropicUsage(u: WireUsage): Record<string, unknown> {
  const read = u.cacheRead ?? 0
  const w5 = u.cacheWrite5m ?? 0
  const w1 = u.cacheWrite1h ?? 0
  return {
    input_tokens: u.input - read - w5 - w1,
    cache_creation_input_tokens: w5 + w1,
    cache_read_input_tokens: read,
    cache_creation: { ephemeral_5m_input_tokens: w5, ephemeral_1h_input_tokens: w1 },
    output_tokens: u.output,
    ...(u.webSearches !== undefined
      ? { server_tool_use: { web_search_requests: u.webSearches, web_fetch_requests: 0 } }
      : {}),
    service_tier: u.serviceTier ?? 'standard',
  }
}

async function messages(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const model = servedModel(body['model'], b)
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const id = `msg_${Math.random().toString(36).slice(2)}`
  if (body['stream'] !== true) {
    sendJson(res, 200, {
      model,
      id,
      type: 'message',
      role: 'assistant',
      content: [{ type: 'text', text: texts.join('') }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      ...(b.noUsage === true ? {} : { usage: anthropicUsage(usage) }),
    })
    return
  }
  const full = anthropicUsage(usage)
  startSse(res)
  const send = (data: Record<string, unknown>) => writeSse(res, data, data['type'] as string)
  send({
    type: 'message_start',
    message: {
      model,
      id,
      type: 'message',
      role: 'assistant',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...full, output_tokens: 1, server_tool_use: undefined },
    },
  })
  send({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30) // let the chunks already written reach the client, then drop the connection
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    send({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })
  }
  send({ type: 'content_block_stop', index: 0 })
  // Without usage: the stream ends with no cumulative `message_delta` usage (only `message_start`'s input side).
  const deltas = b.noUsage === true ? 0 : (b.messageDeltas ?? 1)
  for (let i = 1; i <= deltas; i++) {
    const output = i === deltas ? usage.output : Math.floor((usage.output * i) / deltas)
    const { input_tokens, cache_creation_input_tokens, cache_read_input_tokens, server_tool_use } = full
    send({
      type: 'message_delta',
      delta: { stop_reason: i === deltas ? 'end_turn' : null, stop_sequence: null },
      usage: {
        input_tokens,
        cache_creation_input_tokens,
        cache_read_input_tokens,
        output_tokens: output,
        ...(server_tool_use ? { server_tool_use } : {}),
      },
    })
  }
  send({ type: 'message_stop' })
  res.end()
}

/** Start the Anthropic wire server. Use `server.url` as the SDK's `baseURL`. */
export async function startAnthropicServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      const type =
        b.status === 429
          ? 'rate_limit_error'
          : b.status === 529
            ? 'overloaded_error'
            : b.status >= 500
              ? 'api_error'
              : 'invalid_request_error'
      sendJson(
        res,
        b.status,
        { type: 'error', error: { type, message: `scripted ${b.status}` } },
        b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {},
      )
      return
    }
    if (req.path.endsWith('/v1/messages')) return messages(req, b, res)
    if (req.path.endsWith('/v1/messages/count_tokens')) {
      sendJson(res, 200, { input_tokens: 100 })
      return
    }
    sendJson(res, 404, { type: 'error', error: { type: 'not_found_error', message: `no route ${req.path}` } })
  })
}
