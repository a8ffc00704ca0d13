/**
 * A local server that speaks the Gemini API's wire format (and Vertex AI's paths): `:generateContent` answers JSON,
 * `:streamGenerateContent?alt=sse` answers SSE chunks whose `usageMetadata` is a running snapshot (the last one
 * counts). Thinking tokens are reported apart from output (`thoughtsTokenCount`), cached input inside the prompt.
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

/** Gemini `usageMetadata`: prompt includes cached tokens; candidates exclude thoughts. */
export function geminiUsage(u: WireUsage, final = true): Record<string, unknown> {
  const thoughts = u.reasoning ?? 0
  const candidates = final ? u.output - thoughts : 1
  return {
    promptTokenCount: u.input,
    candidatesTokenCount: candidates,
    totalTokenCount: u.input + candidates + thoughts,
    ...(u.cacheRead ? { cachedContentTokenCount: u.cacheRead } : {}),
    ...(thoughts > 0 ? { thoughtsTokenCount: thoughts } : {}),
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: u.input }],
  }
}

function modelOf(path: string): string {
  return /models\/([^/:]+):/.exec(path)?.[1] ?? 'unknown-model'
}

function candidate(text: string, finish: boolean): Record<string, unknown> {
  return { content: { parts: [{ text }], role: 'model' }, index: 0, ...(finish ? { finishReason: 'STOP' } : {}) }
}

async function generate(req: RecordedRequest, b: Behavior, res: ServerResponse, stream: boolean): Promise<void> {
  const model = b.model ?? modelOf(req.path)
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const responseId = `resp_${Math.random().toString(36).slice(2)}`
  if (!stream) {
    sendJson(res, 200, {
      candidates: [candidate(texts.join(''), true)],
      ...(b.noUsage ? {} : { usageMetadata: geminiUsage(usage) }),
      modelVersion: model,
      responseId,
    })
    return
  }
  startSse(res)
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    const last = i === texts.length - 1
    writeSse(res, {
      candidates: [candidate(text, last)],
      ...(b.noUsage ? {} : { usageMetadata: geminiUsage(usage, last) }),
      modelVersion: model,
      responseId,
    })
  }
  res.end()
}

/** Start the Gemini wire server. Use `server.url` as `httpOptions.baseUrl` of `@google/genai`. */
export async function startGoogleServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      const status = b.status === 429 ? 'RESOURCE_EXHAUSTED' : b.status >= 500 ? 'INTERNAL' : 'INVALID_ARGUMENT'
      sendJson(
        res,
        b.status,
        { error: { code: b.status, message: `scripted ${b.status}`, status } },
        b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {},
      )
      return
    }
    if (req.path.endsWith(':generateContent')) return generate(req, b, res, false)
    if (req.path.endsWith(':streamGenerateContent')) return generate(req, b, res, true)
    if (req.path.endsWith(':countTokens')) return sendJson(res, 200, { totalTokens: 100 })
    sendJson(res, 404, { error: { code: 404, message: `no route ${req.path}`, status: 'NOT_FOUND' } })
  })
}
