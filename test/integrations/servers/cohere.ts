/**
 * A local server that speaks Cohere's v2 chat wire format: JSON with `usage.billed_units` (what is charged) and
 * `usage.tokens` (what was processed), and SSE events (`message-start`, `content-delta`, ..., `message-end` whose
 * `delta.usage` carries the billed units).
 */
import type { ServerResponse } from 'node:http'
import {
  DEFAULT_USAGE,
  cut,
  pieces,
  sendJson,
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

/** Cohere v2 usage: billed units are what is charged; processed tokens include the system preamble. */
export function cohereUsage(u: WireUsage): Record<string, unknown> {
  return {
    billed_units: { input_tokens: u.input, output_tokens: u.output },
    tokens: { input_tokens: u.input + 496, output_tokens: u.output + 2 },
    cached_tokens: u.cacheRead ?? 0,
  }
}

async function chat(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const id = `${Math.random().toString(36).slice(2)}`
  if (body['stream'] !== true) {
    sendJson(res, 200, {
      id,
      finish_reason: 'COMPLETE',
      message: { role: 'assistant', content: [{ type: 'text', text: texts.join('') }] },
      ...(b.noUsage === true ? {} : { usage: cohereUsage(usage) }),
    })
    return
  }
  startSse(res)
  const send = (data: Record<string, unknown>) => writeSse(res, data, data['type'] as string)
  send({
    id,
    type: 'message-start',
    delta: { message: { role: 'assistant', content: [], tool_plan: '', tool_calls: [], citations: [] } },
  })
  send({ type: 'content-start', index: 0, delta: { message: { content: { type: 'text', text: '' } } } })
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    send({ type: 'content-delta', index: 0, delta: { message: { content: { text } } } })
  }
  send({ type: 'content-end', index: 0 })
  send({
    type: 'message-end',
    delta: { finish_reason: 'COMPLETE', ...(b.noUsage === true ? {} : { usage: cohereUsage(usage) }) },
  })
  res.end()
}

/** Start the Cohere wire server. Use `server.url` as the SDK's `environment`. */
export async function startCohereServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      sendJson(
        res,
        b.status,
        { message: `scripted ${b.status}` },
        b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {},
      )
      return
    }
    if (req.path.endsWith('/v2/chat')) return chat(req, b, res)
    sendJson(res, 404, { message: `no route ${req.path}` })
  })
}
