/**
 * A local server that speaks Mistral's chat completions wire format: JSON, and SSE chunks with the usage on the final
 * chunk only (no opt-in flag), then `data: [DONE]`.
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

export function mistralUsage(u: WireUsage): Record<string, unknown> {
  return { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output }
}

async function chat(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const model = b.model ?? (typeof body['model'] === 'string' ? body['model'] : 'unknown-model')
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const id = Math.random().toString(36).slice(2)
  const created = 1_760_001_300
  if (body['stream'] !== true) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: texts.join('') }, finish_reason: 'stop' }],
      ...(b.noUsage === true ? {} : { usage: mistralUsage(usage) }),
    })
    return
  }
  startSse(res)
  writeSse(res, {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
  })
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    const last = i === texts.length - 1
    writeSse(res, {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta: { content: text }, finish_reason: last ? 'stop' : null }],
      ...(last && b.noUsage !== true ? { usage: mistralUsage(usage) } : {}),
    })
  }
  writeSse(res, '[DONE]')
  res.end()
}

function embeddings(req: RecordedRequest, b: Behavior, res: ServerResponse): void {
  const body = req.body as Record<string, unknown>
  const inputs = Array.isArray(body['input']) ? body['input'] : [body['input']]
  const input = (b.usage ?? DEFAULT_USAGE).input
  sendJson(res, 200, {
    id: Math.random().toString(36).slice(2),
    object: 'list',
    model: body['model'],
    data: inputs.map((_, index) => ({ object: 'embedding', embedding: [0.01, -0.02, 0.03], index })),
    usage: { prompt_tokens: input, completion_tokens: 0, total_tokens: input },
  })
}

/** Start the Mistral wire server. Use `server.url` as the SDK's `serverURL`. */
export async function startMistralServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      sendJson(
        res,
        b.status,
        {
          object: 'error',
          message: `scripted ${b.status}`,
          type: b.status === 429 ? 'rate_limited' : 'invalid_request_error',
          code: String(b.status),
        },
        b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {},
      )
      return
    }
    if (req.path.endsWith('/v1/chat/completions')) return chat(req, b, res)
    if (req.path.endsWith('/v1/embeddings')) return embeddings(req, b, res)
    sendJson(res, 404, { object: 'error', message: `no route ${req.path}` })
  })
}
