/**
 * A local server that speaks Groq's OpenAI-compatible chat completions under `/openai/v1`: JSON with `usage` (plus
 * Groq's timing fields), and SSE chunks whose last one carries the usage in `x_groq.usage` (no opt-in flag), then
 * `data: [DONE]`. Errors are `{ error: { message, type, code } }`.
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

/** Groq usage: OpenAI's counts plus the time each phase took (seconds). */
export function groqUsage(u: WireUsage): Record<string, unknown> {
  return {
    queue_time: 0.0123,
    prompt_tokens: u.input,
    prompt_time: 0.0042,
    completion_tokens: u.output,
    completion_time: 0.211,
    total_tokens: u.input + u.output,
    total_time: 0.2152,
  }
}

async function chat(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const model = b.model ?? (typeof body['model'] === 'string' ? body['model'] : 'unknown-model')
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const id = `chatcmpl-${Math.random().toString(36).slice(2)}`
  const base = { id, object: 'chat.completion.chunk', created: 1_760_001_400, model, system_fingerprint: 'fp_groq' }
  if (body['stream'] !== true) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created: base.created,
      model,
      choices: [
        { index: 0, message: { role: 'assistant', content: texts.join('') }, logprobs: null, finish_reason: 'stop' },
      ],
      ...(b.noUsage === true ? {} : { usage: groqUsage(usage) }),
      system_fingerprint: 'fp_groq',
      x_groq: { id: `req_${id}` },
    })
    return
  }
  startSse(res)
  writeSse(res, {
    ...base,
    choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }],
    x_groq: { id: `req_${id}` },
  })
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    writeSse(res, { ...base, choices: [{ index: 0, delta: { content: text }, logprobs: null, finish_reason: null }] })
  }
  writeSse(res, {
    ...base,
    choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }],
    ...(b.noUsage === true ? {} : { x_groq: { id: `req_${id}`, usage: groqUsage(usage) } }),
  })
  writeSse(res, '[DONE]')
  res.end()
}

/** Start the Groq wire server. Use `server.url` as the SDK's `baseURL`. */
export async function startGroqServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      sendJson(
        res,
        b.status,
        { error: { message: `scripted ${b.status}`, type: b.status === 429 ? 'tokens' : 'internal_server_error' } },
        b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {},
      )
      return
    }
    if (req.path.endsWith('/openai/v1/chat/completions')) return chat(req, b, res)
    sendJson(res, 404, { error: { message: `no route ${req.path}`, type: 'invalid_request_error' } })
  })
}
