/**
 * The OpenAI wire format as a provider description for the budgeted fetch: which requests are billable (chat
 * completions, completions, responses, embeddings, images, audio), their default estimates, and the usage trackers
 * for JSON bodies and streams. Used by `llm-budget/openai` and by the SDKs that speak the same format
 * (`llm-budget/groq`, `llm-budget/mistral`), each with its provider name and stream-usage convention.
 *
 * @packageDocumentation
 */
import type { EstimateRequest } from '../budget/pricing.js'
import { textLength } from '../budget/settlement.js'
import type { UsageTracker, WireAdapter, WireCall } from './budget-fetch.js'
import { asObject, safeParse, type Json } from './json.js'
import type { SseEvent } from './sse.js'

/** Output tokens per image of token-priced image models, by quality and size (`auto` and unknown: the most). */
const IMAGE_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
}

function imageTokens(size: unknown, quality: unknown): number {
  const row = IMAGE_TOKENS[typeof quality === 'string' ? quality : 'high'] ?? IMAGE_TOKENS['high']!
  return (typeof size === 'string' ? row[size] : undefined) ?? Math.max(...Object.values(row))
}

/** Most seconds a transcription is reserved at: the 25 MB upload limit at 128 kbit/s is about 26 minutes. */
export const TRANSCRIPTION_CEILING_SECONDS = 1500

/**
 * Seconds of audio to reserve for a transcription: the file's size at 16 kbit/s (the lowest common speech bitrate, so
 * an over- rather than an under-estimate), at most {@link TRANSCRIPTION_CEILING_SECONDS}; the ceiling when the size
 * is unknown. The commit charges the seconds the provider reports.
 */
function audioSecondsCeiling(file: unknown): number {
  const size = asObject(file)?.['size']
  if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) return TRANSCRIPTION_CEILING_SECONDS
  return Math.min(TRANSCRIPTION_CEILING_SECONDS, Math.max(1, Math.ceil(size / 2000)))
}

function firstNumber(...values: unknown[]): number | undefined {
  for (const v of values) if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v
  return undefined
}

/** Chat completions stream: model from any chunk, usage from the chunk that carries it. */
function chatTracker(hideUsageChunk: boolean): UsageTracker {
  let model: string | undefined
  let final: { usage: unknown; model?: string } | undefined
  let characters = 0
  let chunks = 0
  let done = false
  return {
    onEvent(event: SseEvent) {
      if (event.data === '[DONE]') {
        done = true
        return true
      }
      const chunk = asObject(safeParse(event.data))
      if (chunk === undefined) return true
      if (typeof chunk['model'] === 'string') model = chunk['model']
      const choices = Array.isArray(chunk['choices']) ? (chunk['choices'] as unknown[]) : []
      for (const choice of choices) {
        const delta = asObject(asObject(choice)?.['delta'])
        if (delta === undefined) continue
        const n = textLength([
          delta['content'],
          delta['reasoning_content'],
          delta['refusal'],
          delta['tool_calls'],
          delta['audio'],
        ])
        if (n > 0) {
          characters += n
          chunks++
        }
      }
      // Groq reports a stream's usage in `x_groq.usage` on its last chunk.
      const usage = asObject(chunk['usage']) ?? asObject(asObject(chunk['x_groq'])?.['usage'])
      if (usage !== undefined) {
        final = {
          usage: { model, usage, service_tier: chunk['service_tier'] },
          ...(model !== undefined ? { model } : {}),
        }
        if (hideUsageChunk && choices.length === 0) return false
      }
      return true
    },
    onText() {},
    final: () => final,
    partial: () => ({ ...(model !== undefined ? { model } : {}), output: { characters, pieces: chunks } }),
    done: () => done,
  }
}

const TERMINAL = new Set(['response.completed', 'response.incomplete', 'response.failed'])

/** Responses stream: model from `response.created`, usage from the terminal event. */
function responsesTracker(): UsageTracker {
  let model: string | undefined
  let final: { usage: unknown; model?: string } | undefined
  let characters = 0
  let chunks = 0
  return {
    onEvent(event: SseEvent) {
      const data = asObject(safeParse(event.data))
      if (data === undefined) return true
      const type = data['type']
      const response = asObject(data['response'])
      if (response !== undefined && typeof response['model'] === 'string') model = response['model']
      if (typeof type === 'string' && type.endsWith('.delta') && typeof data['delta'] === 'string') {
        characters += data['delta'].length
        chunks++
      }
      if (
        typeof type === 'string' &&
        TERMINAL.has(type) &&
        response !== undefined &&
        asObject(response['usage']) !== undefined
      ) {
        final = {
          usage: { model: response['model'], usage: response['usage'], service_tier: response['service_tier'] },
          ...(model !== undefined ? { model } : {}),
        }
      }
      return true
    },
    onText() {},
    final: () => final,
    partial: () => ({ ...(model !== undefined ? { model } : {}), output: { characters, pieces: chunks } }),
  }
}

/** JSON bodies (chat, responses, embeddings, images, transcriptions): usage and model from the body. */
function jsonTracker(requestModel: string): UsageTracker {
  let final: { usage: unknown; model?: string } | undefined
  let model: string | undefined
  let characters = 0
  let pieces = 0
  return {
    onEvent(event: SseEvent) {
      // Streamed transcriptions and other event streams: the last event with `usage` wins.
      const data = asObject(safeParse(event.data))
      if (data !== undefined && asObject(data['usage']) !== undefined)
        final = { usage: { model: data['model'] ?? requestModel, usage: data['usage'] } }
      return true
    },
    onText(text: string) {
      const body = asObject(safeParse(text))
      if (body === undefined) return
      if (typeof body['model'] === 'string') model = body['model']
      // The text returned, for an estimate when the body carries no usage.
      const choices = Array.isArray(body['choices']) ? (body['choices'] as unknown[]).map(asObject) : []
      const messages = choices.map((choice) => asObject(choice?.['message']))
      const returned = [
        messages.map((message) => [message?.['content'], message?.['refusal'], message?.['tool_calls']]),
        choices.map((choice) => choice?.['text']),
        (Array.isArray(body['output']) ? (body['output'] as unknown[]) : []).map((item) => asObject(item)?.['content']),
        body['text'],
      ]
      characters = textLength(returned)
      pieces = characters > 0 ? 1 : 0
      if (asObject(body['usage']) !== undefined) {
        final = {
          usage: { ...body, data: undefined, choices: undefined, output: undefined, model: model ?? requestModel },
          model: model ?? requestModel,
        }
      }
    },
    final: () => final,
    partial: () => ({ ...(model !== undefined ? { model } : {}), output: { characters, pieces } }),
  }
}

function formFields(body: FormData): Json {
  const out: Json = {}
  body.forEach((value, key) => {
    if (typeof value === 'string') out[key] = value
    else out[key] = { name: value.name, size: value.size, type: value.type }
  })
  return out
}

/** How a provider speaking the OpenAI wire format differs. */
export interface OpenAIWireOptions {
  /** Provider name for pricing and records. */
  provider: string
  /**
   * Add `stream_options.include_usage` to chat streams that lack it (OpenAI's opt-in; the usage-only chunk is then
   * hidden from callers who did not ask). Off for providers that always send usage on the last chunk (Mistral, Groq).
   */
  forceStreamUsage: boolean
  /**
   * Fields added to chat completion bodies that do not set them (OpenRouter: `usage: { include: true }`, so that the
   * response reports what the call cost).
   */
  chatDefaults?: Json | undefined
}

/** The OpenAI wire adapter. */
export function openAIAdapter({ provider, forceStreamUsage, chatDefaults }: OpenAIWireOptions): WireAdapter {
  return {
    provider,
    refusalBody: (message, code) => ({ error: { message, type: 'llm_budget_refused', param: null, code } }),
    describe(path, method, body): WireCall | null {
      if (method !== 'POST') return null
      const endpoint = path.endsWith('/chat/completions')
        ? 'chat.completions'
        : path.endsWith('/responses')
          ? 'responses'
          : path.endsWith('/embeddings')
            ? 'embeddings'
            : path.endsWith('/images/generations') ||
                path.endsWith('/images/edits') ||
                path.endsWith('/images/variations')
              ? 'images'
              : path.endsWith('/audio/transcriptions') || path.endsWith('/audio/translations')
                ? 'audio.transcriptions'
                : path.endsWith('/audio/speech')
                  ? 'audio.speech'
                  : path.endsWith('/completions')
                    ? 'completions'
                    : null
      if (endpoint === null) return null
      let params: Json
      const multipart = typeof FormData !== 'undefined' && body instanceof FormData
      if (multipart) params = formFields(body)
      else if (typeof body === 'string') params = asObject(safeParse(body)) ?? {}
      else return null
      const model = typeof params['model'] === 'string' ? params['model'] : 'unknown'
      const stream = params['stream'] === true
      const streamOptions = asObject(params['stream_options'])
      const chatStream = (endpoint === 'chat.completions' || endpoint === 'completions') && stream
      const forceUsage = forceStreamUsage && chatStream && streamOptions?.['include_usage'] !== true
      const defaults =
        endpoint === 'chat.completions' && chatDefaults !== undefined
          ? Object.entries(chatDefaults).filter(([key]) => params[key] === undefined)
          : []
      const estimate = (m: string): EstimateRequest => {
        switch (endpoint) {
          case 'chat.completions':
          case 'completions': {
            const out = firstNumber(params['max_completion_tokens'], params['max_tokens'])
            const n = firstNumber(params['n']) ?? 1
            return {
              model: m,
              messages: params['messages'] ?? params['prompt'],
              ...(out !== undefined ? { maxOutputTokens: out * n } : {}),
            }
          }
          case 'responses': {
            const out = firstNumber(params['max_output_tokens'])
            const input = params['input']
            const messages = [
              { content: typeof params['instructions'] === 'string' ? params['instructions'] : '' },
              ...(Array.isArray(input)
                ? (input as { content?: unknown }[])
                : [{ content: typeof input === 'string' ? input : '' }]),
            ]
            return { model: m, messages, ...(out !== undefined ? { maxOutputTokens: out } : {}) }
          }
          case 'embeddings':
            return { model: m, inputTokens: Math.ceil(textLength(params['input']) / 2), maxOutputTokens: 0 }
          case 'images': {
            const n = firstNumber(params['n']) ?? 1
            return {
              model: m,
              messages: params['prompt'] ?? '',
              maxOutputTokens: 0,
              units: { images: n, imageTokens: n * imageTokens(params['size'], params['quality']) },
            }
          }
          case 'audio.speech':
            return {
              model: m,
              inputTokens: 0,
              maxOutputTokens: 0,
              units: { characters: typeof params['input'] === 'string' ? params['input'].length : 0 },
            }
          case 'audio.transcriptions':
            return {
              model: m,
              inputTokens: 0,
              maxOutputTokens: 0,
              units: { audioSeconds: audioSecondsCeiling(params['file']) },
            }
          default:
            return { model: m, inputTokens: 0, maxOutputTokens: 0 }
        }
      }
      const call: WireCall = {
        endpoint,
        model,
        params,
        estimate,
        body(m) {
          if (multipart) {
            if (m !== model) (body as FormData).set('model', m)
            return body
          }
          if (m === model && !forceUsage && defaults.length === 0) return body
          const next: Json = { ...Object.fromEntries(defaults), ...params, model: m }
          if (forceUsage) next['stream_options'] = { ...streamOptions, include_usage: true }
          return JSON.stringify(next)
        },
        tracker() {
          // The usage-only chunk is hidden only from callers who asked for no usage (OpenRouter: `usage.include`).
          if (chatStream) return chatTracker(forceUsage && asObject(params['usage'])?.['include'] !== true)
          if (endpoint === 'responses' && stream) return responsesTracker()
          return jsonTracker(model)
        },
      }
      if (endpoint === 'audio.speech') {
        call.usageFromRequest = (m) => ({
          inputTokens: 0,
          outputTokens: 0,
          cacheReadTokens: 0,
          cacheWriteTokens: 0,
          reasoningTokens: null,
          inputCharacters: typeof params['input'] === 'string' ? params['input'].length : 0,
          model: m,
          modelSource: 'request',
        })
      }
      return call
    },
  }
}
