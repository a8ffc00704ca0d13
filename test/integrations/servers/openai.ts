/**
 * A local server that speaks OpenAI's wire format: chat completions, responses, embeddings, images,
 * audio transcriptions and speech; JSON and SSE; usage only on the final chat chunk when
 * `stream_options.include_usage` is set, usage on `response.completed` for responses streams.
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

/** Chat-completions `usage` for the given counts. */
export function chatUsage(u: WireUsage): Record<string, unknown> {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cacheRead ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}

/** Responses-API `usage` for the given counts. */
export function responsesUsage(u: WireUsage): Record<string, unknown> {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: u.cacheRead ?? 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: u.reasoning ?? 0 },
    total_tokens: u.input + u.output,
  }
}

function errorBody(status: number): Record<string, unknown> {
  const type = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'server_error' : 'invalid_request_error'
  return { error: { message: `scripted ${status}`, type, param: null, code: type } }
}

async function chat(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const model = servedModel(body['model'], b)
  const usage = b.usage ?? DEFAULT_USAGE
  const id = `chatcmpl-${Math.random().toString(36).slice(2)}`
  const created = 1756731420
  const texts = pieces(b.chunks ?? 3, b.text)
  if (body['stream'] !== true) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [
        {
          index: 0,
          message:
            b.toolCall === undefined
              ? { role: 'assistant', content: texts.join(''), refusal: null, annotations: [] }
              : {
                  role: 'assistant',
                  content: null,
                  refusal: null,
                  annotations: [],
                  tool_calls: [toolCall(b.toolCall)],
                },
          logprobs: null,
          finish_reason: b.toolCall === undefined ? 'stop' : 'tool_calls',
        },
      ],
      ...(b.noUsage === true ? {} : { usage: chatUsage(usage) }),
      service_tier: usage.serviceTier ?? 'default',
      system_fingerprint: 'fp_local',
    })
    return
  }
  const includeUsage = (body['stream_options'] as { include_usage?: boolean } | undefined)?.include_usage === true
  const base = {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_local',
  }
  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(includeUsage ? { usage: null } : {}),
  })
  startSse(res)
  writeSse(res, chunk({ role: 'assistant', content: '', refusal: null }, null))
  if (b.toolCall !== undefined) {
    writeSse(res, chunk({ tool_calls: [{ index: 0, ...toolCall(b.toolCall) }] }, null))
    writeSse(res, chunk({}, 'tool_calls'))
    if (includeUsage) writeSse(res, { ...base, choices: [], usage: chatUsage(usage) })
    writeSse(res, '[DONE]')
    res.end()
    return
  }
  for (const [i, text] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30) // let the chunks already written reach the client, then drop the connection
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    writeSse(res, chunk({ content: text }, null))
  }
  writeSse(res, chunk({}, 'stop'))
  if (includeUsage && b.noUsage !== true) writeSse(res, { ...base, choices: [], usage: chatUsage(usage) })
  writeSse(res, '[DONE]')
  res.end()
}

/** One tool call of a chat completion message. */
function toolCall(call: { name: string; arguments: string }): Record<string, unknown> {
  return { id: 'call_local', type: 'function', function: { name: call.name, arguments: call.arguments } }
}

function responseObject(
  model: string,
  status: string,
  text: string,
  usage: Record<string, unknown> | null,
  tier: string,
): Record<string, unknown> {
  return {
    id: 'resp_local',
    object: 'response',
    created_at: 1767880000,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output:
      status === 'completed'
        ? [
            {
              id: 'msg_local',
              type: 'message',
              status: 'completed',
              role: 'assistant',
              content: [{ type: 'output_text', annotations: [], logprobs: [], text }],
            },
          ]
        : [],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    service_tier: tier,
    store: true,
    temperature: 1,
    text: { format: { type: 'text' } },
    tool_choice: 'auto',
    tools: [],
    top_p: 1,
    truncation: 'disabled',
    usage,
    user: null,
    metadata: {},
  }
}

async function responses(req: RecordedRequest, b: Behavior, res: ServerResponse): Promise<void> {
  const body = req.body as Record<string, unknown>
  const model = servedModel(body['model'], b)
  const usage = b.usage ?? DEFAULT_USAGE
  const texts = pieces(b.chunks ?? 3, b.text)
  const text = texts.join('')
  if (body['stream'] !== true) {
    sendJson(
      res,
      200,
      responseObject(
        model,
        'completed',
        text,
        b.noUsage === true ? null : responsesUsage(usage),
        usage.serviceTier ?? 'default',
      ),
    )
    return
  }
  let seq = 0
  const send = (event: Record<string, unknown>) =>
    writeSse(res, { ...event, sequence_number: seq++ }, event['type'] as string)
  startSse(res)
  send({ type: 'response.created', response: responseObject(model, 'in_progress', '', null, 'auto') })
  send({ type: 'response.in_progress', response: responseObject(model, 'in_progress', '', null, 'auto') })
  send({
    type: 'response.output_item.added',
    output_index: 0,
    item: { id: 'msg_local', type: 'message', status: 'in_progress', content: [], role: 'assistant' },
  })
  send({
    type: 'response.content_part.added',
    item_id: 'msg_local',
    output_index: 0,
    content_index: 0,
    part: { type: 'output_text', annotations: [], logprobs: [], text: '' },
  })
  for (const [i, delta] of texts.entries()) {
    if (b.cutAfterChunks !== undefined && i >= b.cutAfterChunks) {
      await sleep(30) // let the chunks already written reach the client, then drop the connection
      return cut(res)
    }
    if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
    if (res.destroyed) return
    send({
      type: 'response.output_text.delta',
      item_id: 'msg_local',
      output_index: 0,
      content_index: 0,
      delta,
      logprobs: [],
    })
  }
  send({
    type: 'response.output_text.done',
    item_id: 'msg_local',
    output_index: 0,
    content_index: 0,
    text,
    logprobs: [],
  })
  send({
    type: 'response.completed',
    response: responseObject(
      model,
      'completed',
      text,
      b.noUsage === true ? null : responsesUsage(usage),
      usage.serviceTier ?? 'default',
    ),
  })
  res.end()
}

function embeddings(req: RecordedRequest, b: Behavior, res: ServerResponse): void {
  const body = req.body as Record<string, unknown>
  const inputs = Array.isArray(body['input']) ? (body['input'] as unknown[]) : [body['input']]
  const usage = b.usage ?? { input: 23, output: 0 }
  sendJson(res, 200, {
    object: 'list',
    data: inputs.map((_, index) => ({ object: 'embedding', index, embedding: [0.01, -0.02, 0.03, 0.04] })),
    model: servedModel(body['model'], b),
    usage: { prompt_tokens: usage.input, total_tokens: usage.input },
  })
}

function images(req: RecordedRequest, b: Behavior, res: ServerResponse): void {
  const usage = b.usage ?? { input: 48, output: 1056 }
  sendJson(res, 200, {
    created: 1756743010,
    background: 'opaque',
    data: [
      { b64_json: 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==' },
    ],
    output_format: 'png',
    quality: 'medium',
    size: '1024x1024',
    usage: {
      input_tokens: usage.input,
      input_tokens_details: { image_tokens: 0, text_tokens: usage.input },
      output_tokens: usage.output,
      total_tokens: usage.input + usage.output,
    },
  })
}

function transcription(_req: RecordedRequest, b: Behavior, res: ServerResponse): void {
  sendJson(res, 200, { text: 'Thanks for calling.', usage: { type: 'duration', seconds: b.audioSeconds ?? 94 } })
}

function speech(_req: RecordedRequest, _b: Behavior, res: ServerResponse): void {
  const audio = Buffer.alloc(256, 7)
  res.writeHead(200, { 'content-type': 'audio/mpeg', 'content-length': String(audio.length) })
  res.end(audio)
}

/** Start the OpenAI wire server. Use `server.url + '/v1'` as the SDK's `baseURL`. */
export async function startOpenAIServer(): Promise<WireServer> {
  return startWireServer(async (req, b, res) => {
    if (b.status !== undefined && b.status >= 400) {
      sendJson(res, b.status, errorBody(b.status), b.retryAfter !== undefined ? { 'retry-after': b.retryAfter } : {})
      return
    }
    if (req.path.endsWith('/chat/completions')) return chat(req, b, res)
    if (req.path.endsWith('/responses')) return responses(req, b, res)
    if (req.path.endsWith('/embeddings')) return embeddings(req, b, res)
    if (req.path.endsWith('/images/generations')) return images(req, b, res)
    if (req.path.endsWith('/audio/transcriptions')) return transcription(req, b, res)
    if (req.path.endsWith('/audio/speech')) return speech(req, b, res)
    sendJson(res, 404, { error: { message: `no route ${req.path}`, type: 'invalid_request_error' } })
  })
}
