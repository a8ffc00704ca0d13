/**
 * A local server that speaks OpenRouter's chat completions under `/api/v1`: OpenAI's format plus OpenRouter's own
 * fields. The response names the upstream `provider` and the model as `vendor/model`; `usage` always carries the
 * token counts (streams: on a last chunk with `choices: []`), and `usage.cost` (USD, what OpenRouter charged) only when
 * the request asked for usage accounting with `usage: { include: true }`.
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

/** The cost the server reports when none is scripted: distinct from any catalog price, so a test can tell. */
export const DEFAULT_OPENROUTER_COST = 0.004321

/** OpenRouter usage: OpenAI's counts, plus `cost` when usage accounting was asked for. */
export function openRouterUsage(u: WireUsage, cost: number | undefined): Record<string, unknown> {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    ...(cost !== undefined ? { cost, is_byok: false, cost_details: { upstream_inference_cost: null } } : {}),
  }
}

async function chat(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const model = b.model ?? (typeof body['model'] === 'string' ? body['model'] : 'unknown-model')
  const usage = b.usage ?? DEFAULT_USAGE
  const accounting = (body['usage'] as { include?: unknown } | undefined)?.include === true
  const cost = accounting && b.providerCost !== null ? (b.providerCost ?? DEFAULT_OPENROUTER_COST) : undefined
  const texts = pieces(b.chunks ?? 3, b.text)
  const id = `gen-${Math.random().toString(36).slice(2)}`
  const base = { id, provider: 'Anthropic', model, object: 'chat.completion.chunk', created: 1_760_001_500 }
  if (body['stream'] !== true) {
    sendJson(res, 200, {
      ...base,
      object: 'chat.completion',
      choices: [
        {
          index: 0,
          logprobs: null,
          finish_reason: 'stop',
          native_finish_reason: 'end_turn',
          message: { role: 'assistant', content: texts.join(''), refusal: null, reasoning: null },
        },
      ],
      ...(b.noUsage === true ? {} : { usage: openRouterUsage(usage, cost) }),
    })
    return
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    ...base,
    choices: [{ index: 0, delta, finish_reason: finish, native_finish_reason: finish, logprobs: null }],
  })
  startSse(res)
  res.write(': OPENROUTER PROCESSING\n\n')
  writeSse(res, chunk({ role: 'assistant', content: '' }, null))
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30)
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    writeSse(res, chunk({ role: 'assistant', content: text }, null))
  }
  writeSse(res, chunk({ role: 'assistant', content: '' }, 'stop'))
  if (b.noUsage !== true) writeSse(res, { ...base, choices: [], usage: openRouterUsage(usage, cost) })
  writeSse(res, '[DONE]')
  res.end()
}

/** Start the OpenRouter wire server. Use `${server.url}/api/v1` as the SDK's base URL. */
export async function startOpenRouterServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      sendJson(
        res,
        b.status,
        { error: { message: `scripted ${b.status}`, code: b.status } },
        b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {},
      )
      return
    }
    if (req.path.endsWith('/api/v1/chat/completions')) return chat(req, b, res)
    sendJson(res, 404, { error: { message: `no route ${req.path}`, code: 404 } })
  })
}
