/**
 * `llm-budget/bedrock`: a budgeted Amazon Bedrock Runtime client (`@aws-sdk/client-bedrock-runtime`).
 *
 * `withBedrockBudget(client, options)` returns a client of the same type whose `Converse`, `ConverseStream`,
 * `InvokeModel` and `InvokeModelWithResponseStream` commands are admitted against the budget before each attempt
 * is signed and sent, and charged from the usage the service reports: Converse `usage` (cache reads and writes
 * priced at their rates), the Anthropic message body of `InvokeModel` (or the token-count headers for other model
 * families), and the stream's final `metadata` / `message_delta` event. Cross-region inference profile ids
 * (`us.anthropic...`) and model ARNs are priced at their base model. The original client is untouched.
 *
 * The AWS SDK is only used as a type here: nothing is imported from it at run time.
 *
 * @packageDocumentation
 */
import type { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime'
import { z } from 'zod'
import type { EstimateRequest } from '../budget/pricing.js'
import { admitWireCall, settleTracked, type Admitted, type BillableRequest } from './wire-admission.js'
import type { WireRequest } from './budget-fetch.js'
import { asObject, safeParse, type Json } from './json.js'
import { meterIterable } from './metered-iterable.js'
import { INTEGRATION_OPTIONS, validateOptions, type BudgetIntegrationOptions } from './options.js'
import { markBudgeted, refuseBudgetedTwice } from './single-layer.js'
import { accumulatingTracker, type EventTracker } from './usage-tracker.js'

export type { BudgetManagerLike, CallContext } from './options.js'
export type { WireRequest } from './budget-fetch.js'

/** Options of {@link withBedrockBudget}. `context` and `estimate` functions receive the {@link WireRequest}. */
export interface BedrockBudgetOptions extends Omit<BudgetIntegrationOptions<WireRequest>, 'cache' | 'cacheKey'> {
  /** Provider name used for pricing (default `bedrock`). */
  provider?: string
}

/** The AWS SDK decodes responses inside its own pipeline, so a cached body cannot be replayed through it (yet). */
const notForBedrock = z
  .custom<never>((value) => value === undefined, {
    message: 'is not supported by withBedrockBudget yet (the AWS SDK decodes responses itself): cache with withBudget',
  })
  .optional()

const BEDROCK_OPTIONS = z.object({
  ...INTEGRATION_OPTIONS,
  provider: z.string().min(1).optional(),
  cache: notForBedrock,
  cacheKey: notForBedrock,
})

/** The budgeted commands, by the name the AWS SDK gives them, and the endpoint name records carry. */
const COMMANDS: Record<string, string> = {
  ConverseCommand: 'converse',
  ConverseStreamCommand: 'converseStream',
  InvokeModelCommand: 'invokeModel',
  InvokeModelWithResponseStreamCommand: 'invokeModelStream',
}

/** The model id to price: a model or inference-profile ARN names it after its last `/`. */
function bedrockModelId(modelId: string): string {
  return modelId.startsWith('arn:') ? modelId.slice(modelId.lastIndexOf('/') + 1) : modelId
}

function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

const decoder = new TextDecoder()

function bodyText(body: unknown): string | undefined {
  if (typeof body === 'string') return body
  if (body instanceof Uint8Array) return decoder.decode(body)
  return undefined
}

/** Converse text: `output.message.content[].text`; stream: `contentBlockDelta.delta.text` (and reasoning). */
function converseText(event: Json): unknown {
  const delta = asObject(asObject(event['contentBlockDelta'])?.['delta'])
  if (delta !== undefined) return [delta['text'], asObject(delta['reasoningContent'])?.['text']]
  return asObject(asObject(event['output'])?.['message'])?.['content']
}

/** Anthropic bodies and stream events on InvokeModel: `content` of a message, `delta` of a content block. */
function anthropicText(event: Json): unknown {
  const delta = asObject(event['delta'])
  if (delta !== undefined) return [delta['text'], delta['thinking'], delta['partial_json']]
  return event['content'] ?? event['generation'] ?? event['outputText'] ?? event['output']
}

/** A billable command: its model, estimate and how its output reads. */
function describe(endpoint: string, input: Json): (BillableRequest & { text: (event: Json) => unknown }) | null {
  const modelId = input['modelId']
  if (typeof modelId !== 'string' || modelId.length === 0) return null
  const model = bedrockModelId(modelId)
  let params: Json
  let messages: unknown[]
  let maxOutput: number | undefined
  if (endpoint === 'converse' || endpoint === 'converseStream') {
    params = input
    messages = [{ content: input['system'] ?? '' }, ...(Array.isArray(input['messages']) ? input['messages'] : [])]
    maxOutput = count(asObject(input['inferenceConfig'])?.['maxTokens'])
  } else {
    const text = bodyText(input['body'])
    params = (text !== undefined ? asObject(safeParse(text)) : undefined) ?? {}
    const system = params['system']
    messages = [
      { content: typeof system === 'string' || Array.isArray(system) ? system : '' },
      ...(Array.isArray(params['messages']) ? params['messages'] : [{ content: params['prompt'] ?? '' }]),
    ]
    maxOutput =
      count(params['max_tokens']) ??
      count(params['max_gen_len']) ??
      count(asObject(params['textGenerationConfig'])?.['maxTokenCount']) ??
      count(asObject(params['inferenceConfig'])?.['max_new_tokens'])
  }
  const estimate = (m: string): EstimateRequest => ({
    model: m,
    messages,
    ...(maxOutput !== undefined ? { maxOutputTokens: maxOutput } : {}),
  })
  const text = endpoint.startsWith('converse') ? converseText : anthropicText
  return { endpoint, model, params, estimate, text }
}

/** Smithy's label encoding of a path segment. */
function encodeLabel(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
}

/** The request path with its `/model/{modelId}/` segment naming another model. */
function withModel(path: string, model: string): string {
  const segments = path.split('/')
  const at = segments.indexOf('model')
  if (at === -1 || at + 1 >= segments.length) return path
  segments[at + 1] = encodeLabel(model)
  return segments.join('/')
}

/** Token counts from InvokeModel's `x-amzn-bedrock-*-token-count` headers (any model family). */
function headerUsage(headers: unknown): Json | undefined {
  const h = asObject(headers)
  const input = Number(h?.['x-amzn-bedrock-input-token-count'])
  const output = Number(h?.['x-amzn-bedrock-output-token-count'])
  return Number.isInteger(input) && Number.isInteger(output) ? { inputTokens: input, outputTokens: output } : undefined
}

/** InvokeModel stream events: the JSON inside each `chunk.bytes`. */
function chunkEvent(item: unknown): Json | undefined {
  const text = bodyText(asObject(asObject(item)?.['chunk'])?.['bytes'])
  return text !== undefined ? asObject(safeParse(text)) : undefined
}

type Next = (args: { input: Json; request?: unknown }) => Promise<{ output: Json; response?: unknown }>

/** Meters what an admitted attempt returned, and settles it now (JSON) or when its stream ends. */
async function meter(
  endpoint: string,
  admitted: Admitted,
  provider: string,
  call: BillableRequest,
  tracker: EventTracker,
  result: { output: Json; response?: unknown },
  signal: AbortSignal | undefined,
): Promise<void> {
  const output = result.output
  const settle = (outcome: Parameters<typeof settleTracked>[3]) => settleTracked(admitted, call, tracker, outcome)
  if (endpoint === 'converse') {
    tracker.onBody(output)
  } else if (endpoint === 'invokeModel') {
    const text = bodyText(output['body'])
    if (text !== undefined) tracker.onText(text)
    const fromHeaders = headerUsage(asObject(result.response)?.['headers'])
    if (tracker.final() === undefined && fromHeaders !== undefined) tracker.onBody(fromHeaders)
  } else {
    const key = endpoint === 'converseStream' ? 'stream' : 'body'
    const stream = output[key] as AsyncIterable<unknown> | undefined
    if (stream !== undefined && typeof stream[Symbol.asyncIterator] === 'function') {
      let metrics: Json | undefined
      output[key] = meterIterable(
        stream,
        {
          onItem(item) {
            const event = key === 'stream' ? asObject(item) : chunkEvent(item)
            if (event === undefined) return
            tracker.onObject(event)
            metrics = asObject(event['amazon-bedrock-invocationMetrics']) ?? metrics
          },
          finish(outcome) {
            // Model families without Anthropic's usage events still report counts in the invocation metrics.
            if (tracker.final() === undefined && metrics !== undefined) {
              const input = count(metrics['inputTokenCount'])
              const out = count(metrics['outputTokenCount'])
              if (input !== undefined && out !== undefined) tracker.onBody({ inputTokens: input, outputTokens: out })
            }
            return settle(outcome)
          },
        },
        signal,
      )
      return
    }
  }
  await settle({ kind: 'end' })
}

/**
 * The AWS middleware: inside the SDK's retry loop and before signing, so each attempt is admitted on its own and a
 * fallback model is signed as sent. A refusal throws the budget's error, which the SDK does not retry.
 */
function budgetMiddleware(
  provider: string,
  options: BudgetIntegrationOptions<WireRequest>,
  signals: WeakMap<object, AbortSignal>,
) {
  return (next: Next, context: { commandName?: string }) =>
    async (args: { input: Json; request?: unknown }): Promise<{ output: Json; response?: unknown }> => {
      const endpoint = COMMANDS[context.commandName ?? '']
      const call = endpoint !== undefined ? describe(endpoint, args.input) : null
      if (endpoint === undefined || call === null) return next(args)
      const request = asObject(args.request)
      const headers = new Headers()
      for (const [name, value] of Object.entries(asObject(request?.['headers']) ?? {}))
        if (typeof value === 'string' && !name.startsWith(':')) headers.set(name, value)
      const admitted = await admitWireCall(provider, call, options, headers)
      if (admitted.model !== call.model && request !== undefined && typeof request['path'] === 'string')
        request['path'] = withModel(request['path'], admitted.model)
      let result: { output: Json; response?: unknown }
      try {
        result = await next(args)
      } catch (error) {
        // A service error, a network error or an abort before the response: nothing billed that we can know of.
        await admitted.settlement.release()
        throw error
      }
      const tracker = accumulatingTracker({ provider, model: admitted.model, text: call.text })
      await meter(endpoint, admitted, provider, call, tracker, result, signals.get(args.input))
      return result
    }
}

/** The parts of an AWS SDK client this wrapper relies on. */
interface SmithyClientLike {
  config: unknown
  middlewareStack: {
    clone(): SmithyClientLike['middlewareStack']
    addRelativeTo(middleware: unknown, options: Record<string, unknown>): void
  }
}

interface CommandLike {
  resolveMiddleware(
    stack: unknown,
    config: unknown,
    options: unknown,
  ): (command: unknown) => Promise<{ output: unknown }>
}

/**
 * Wrap a Bedrock Runtime client so that every `Converse`, `ConverseStream`, `InvokeModel` and
 * `InvokeModelWithResponseStream` command is admitted against the budget before it is sent and charged from the
 * usage the service reports.
 *
 * Returns a client of the same type (also a `BedrockRuntime` aggregated client) sharing the original's
 * configuration and connections, with the budget middleware on its own copy of the middleware stack; the original
 * is untouched. Each attempt of the SDK's retries is admitted separately and only attempts the service answered
 * successfully are charged. A refused call throws `BudgetExceededError` (or `RateLimitError`) and sends nothing.
 *
 * @example
 * ```ts
 * const bedrock = withBedrockBudget(new BedrockRuntimeClient({ region: 'us-east-1' }), { manager, context: { user: 'alice' } })
 * const response = await bedrock.send(new ConverseCommand({ modelId, messages, inferenceConfig: { maxTokens: 512 } }))
 * ```
 */
export function withBedrockBudget<T extends BedrockRuntimeClient>(client: T, options: BedrockBudgetOptions): T {
  validateOptions('withBedrockBudget(client, options)', BEDROCK_OPTIONS, options)
  const source = client as unknown as SmithyClientLike
  // The second middleware would replace the first (same name), silently dropping the first wrapper's budgets; under
  // another name it would reserve and charge every call twice: refused either way, the client left as it was.
  refuseBudgetedTwice('withBedrockBudget(client, options)', source.middlewareStack)
  const stack = markBudgeted(source.middlewareStack.clone())
  // The abort signal a command was sent with, by its input object (what the middleware sees of the command).
  const signals = new WeakMap<object, AbortSignal>()
  stack.addRelativeTo(budgetMiddleware(options.provider ?? 'bedrock', options, signals), {
    name: 'llmBudgetMiddleware',
    relation: 'after',
    toMiddleware: 'retryMiddleware',
    override: true,
  })
  const view = Object.create(client) as SmithyClientLike & Record<string, unknown>
  view.middlewareStack = stack
  // `send` resolved against this view's stack every time (the client's handler cache would hold the original's).
  view['send'] = (command: CommandLike, optionsOrCallback?: unknown, callback?: unknown) => {
    const sendOptions = typeof optionsOrCallback === 'function' ? undefined : optionsOrCallback
    const signal = asObject(sendOptions)?.['abortSignal']
    const input = asObject((command as { input?: unknown }).input)
    if (signal instanceof AbortSignal && input !== undefined) signals.set(input, signal)
    const done = typeof optionsOrCallback === 'function' ? optionsOrCallback : callback
    const output = command
      .resolveMiddleware(
        stack,
        source.config,
        sendOptions,
      )(command)
      .then((result) => result.output)
    if (typeof done !== 'function') return output
    output.then(
      (result) => done(null, result),
      (error: unknown) => done(error),
    )
    return undefined
  }
  return view as unknown as T
}
