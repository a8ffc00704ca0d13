/**
 * A local server that speaks Amazon Bedrock Runtime's wire format: `Converse` (JSON), `ConverseStream` (the binary
 * `application/vnd.amazon.eventstream` framing: prelude with lengths and CRC32, typed headers, JSON payload, message
 * CRC32), and `InvokeModel` / `InvokeModelWithResponseStream` with Anthropic request and response bodies.
 * Converse's `usage.inputTokens` excludes cache reads and writes, as the real service reports it.
 */
import type { ServerResponse } from 'node:http'
import { crc32 } from 'node:zlib'
import {
  DEFAULT_USAGE,
  cut,
  pieces,
  sendJson,
  sleep,
  startWireServer,
  type Behavior,
  type RecordedRequest,
  type WireServer,
  type WireUsage,
} from './base.js'
import { anthropicUsage } from './anthropic.js'

export type { Behavior, WireServer, WireUsage } from './base.js'

/** Converse `usage`: input excludes cache reads and writes; the total includes them. */
export function converseUsage(u: WireUsage): Record<string, number> {
  const read = u.cacheRead ?? 0
  const write = (u.cacheWrite5m ?? 0) + (u.cacheWrite1h ?? 0)
  return {
    inputTokens: u.input - read - write,
    outputTokens: u.output,
    totalTokens: u.input + u.output,
    cacheReadInputTokens: read,
    cacheWriteInputTokens: write,
  }
}

/** One event-stream message: `:event-type`, `:content-type` and `:message-type` headers around a JSON payload. */
export function eventStreamMessage(eventType: string, payload: unknown, messageType = 'event'): Buffer {
  const headers = Buffer.concat(
    Object.entries({ ':event-type': eventType, ':content-type': 'application/json', ':message-type': messageType }).map(
      ([name, value]) => {
        const n = Buffer.from(name)
        const v = Buffer.from(value)
        const head = Buffer.alloc(1 + n.length + 1 + 2)
        head.writeUInt8(n.length, 0)
        n.copy(head, 1)
        head.writeUInt8(7, 1 + n.length) // 7: string
        head.writeUInt16BE(v.length, 2 + n.length)
        return Buffer.concat([head, v])
      },
    ),
  )
  const body = Buffer.from(JSON.stringify(payload))
  const total = 12 + headers.length + body.length + 4
  const prelude = Buffer.alloc(12)
  prelude.writeUInt32BE(total, 0)
  prelude.writeUInt32BE(headers.length, 4)
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8)
  const withoutCrc = Buffer.concat([prelude, headers, body])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(withoutCrc), 0)
  return Buffer.concat([withoutCrc, crc])
}

function modelOf(path: string): string {
  return decodeURIComponent(/\/model\/([^/]+)\//.exec(path)?.[1] ?? 'unknown-model')
}

function startEventStream(res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'application/vnd.amazon.eventstream',
    'x-amzn-requestid': `req-${Math.random().toString(36).slice(2)}`,
  })
  res.flushHeaders()
}

async function converse(b: Behavior, res: ServerResponse, stream: boolean): Promise<void> {
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  if (!stream) {
    sendJson(res, 200, {
      output: { message: { role: 'assistant', content: [{ text: texts.join('') }] } },
      stopReason: 'end_turn',
      ...(b.noUsage ? {} : { usage: converseUsage(usage) }),
      metrics: { latencyMs: 120 },
    })
    return
  }
  startEventStream(res)
  res.write(eventStreamMessage('messageStart', { role: 'assistant' }))
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    res.write(eventStreamMessage('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }))
  }
  res.write(eventStreamMessage('contentBlockStop', { contentBlockIndex: 0 }))
  res.write(eventStreamMessage('messageStop', { stopReason: 'end_turn' }))
  if (!b.noUsage)
    res.write(eventStreamMessage('metadata', { usage: converseUsage(usage), metrics: { latencyMs: 120 } }))
  res.end()
}

/**
 * InvokeModel for Meta Llama models: the Llama body (`generation`, `prompt_token_count`, `generation_token_count`),
 * token counts in the `x-amzn-bedrock-*-token-count` headers, and the stream's last chunk carrying
 * `amazon-bedrock-invocationMetrics`. Llama has no prompt cache: counts are the plain input and output.
 */
async function invokeLlama(b: Behavior, res: ServerResponse, stream: boolean): Promise<void> {
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  if (!stream) {
    sendJson(
      res,
      200,
      { generation: texts.join(''), prompt_token_count: null, generation_token_count: null, stop_reason: 'stop' },
      b.noUsage
        ? {}
        : {
            'x-amzn-bedrock-input-token-count': String(usage.input),
            'x-amzn-bedrock-output-token-count': String(usage.output),
          },
    )
    return
  }
  startEventStream(res)
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    const last = i === texts.length - 1
    const event = {
      generation: text,
      prompt_token_count: null,
      generation_token_count: i + 1,
      stop_reason: last ? 'stop' : null,
      ...(last && !b.noUsage
        ? {
            'amazon-bedrock-invocationMetrics': {
              inputTokenCount: usage.input,
              outputTokenCount: usage.output,
              invocationLatency: 120,
              firstByteLatency: 40,
            },
          }
        : {}),
    }
    res.write(eventStreamMessage('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') }))
  }
  res.end()
}

async function invoke(req: RecordedRequest, b: Behavior, res: ServerResponse, stream: boolean): Promise<void> {
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const model = modelOf(req.path)
  if (/(^|\.)meta\.llama/.test(model)) return invokeLlama(b, res, stream)
  const wire = anthropicUsage(usage)
  const id = `msg_bdrk_${Math.random().toString(36).slice(2)}`
  if (!stream) {
    const headers: Record<string, string> = b.noUsage
      ? {}
      : {
          'x-amzn-bedrock-input-token-count': String(usage.input),
          'x-amzn-bedrock-output-token-count': String(usage.output),
        }
    sendJson(
      res,
      200,
      {
        id,
        type: 'message',
        role: 'assistant',
        model,
        content: [{ type: 'text', text: texts.join('') }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        ...(b.noUsage ? {} : { usage: wire }),
      },
      headers,
    )
    return
  }
  startEventStream(res)
  const chunk = (event: Record<string, unknown>) =>
    res.write(eventStreamMessage('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64') }))
  chunk({
    type: 'message_start',
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model,
      content: [],
      stop_reason: null,
      ...(b.noUsage ? {} : { usage: { ...wire, output_tokens: 1 } }),
    },
  })
  chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } })
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })
  }
  chunk({ type: 'content_block_stop', index: 0 })
  chunk({
    type: 'message_delta',
    delta: { stop_reason: 'end_turn', stop_sequence: null },
    ...(b.noUsage ? {} : { usage: { output_tokens: usage.output } }),
  })
  chunk({
    type: 'message_stop',
    ...(b.noUsage
      ? {}
      : {
          'amazon-bedrock-invocationMetrics': {
            inputTokenCount: usage.input,
            outputTokenCount: usage.output,
            invocationLatency: 120,
            firstByteLatency: 40,
          },
        }),
  })
  res.end()
}

/** Start the Bedrock Runtime wire server (cleartext HTTP/2, like the SDK's default handler). Use `server.url` as the client's `endpoint`. */
export async function startBedrockServer(): Promise<WireServer> {
  return startWireServer(
    async (req, b, res) => {
      if (b.status !== undefined && b.status >= 400) {
        const type =
          b.status === 429 ? 'ThrottlingException' : b.status >= 500 ? 'InternalServerException' : 'ValidationException'
        sendJson(
          res,
          b.status,
          { message: `scripted ${b.status}` },
          {
            'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
            ...(b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {}),
          },
        )
        return
      }
      if (req.path.endsWith('/converse')) return converse(b, res, false)
      if (req.path.endsWith('/converse-stream')) return converse(b, res, true)
      if (req.path.endsWith('/invoke')) return invoke(req, b, res, false)
      if (req.path.endsWith('/invoke-with-response-stream')) return invoke(req, b, res, true)
      sendJson(res, 404, { message: `no route ${req.path}` }, { 'x-amzn-errortype': 'UnknownOperationException' })
    },
    { http2: true },
  )
}
