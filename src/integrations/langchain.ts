/**
 * `llm-budget/langchain`: a LangChain callback handler that admits and records chat model and LLM calls.
 *
 * `handleChatModelStart` / `handleLLMStart` reserve (and throw `BudgetExceededError` before the request is sent:
 * the handler sets `raiseError` and `awaitHandlers`), `handleLLMEnd` commits the usage LangChain reports
 * (`usage_metadata`, else `llmOutput.tokenUsage`) at the model the response names, and `handleLLMError`
 * releases the hold, or commits the output seen so far (flagged `estimated: true`) when tokens had streamed.
 *
 * The handler is duck-typed (LangChain accepts any object with the handler fields), so `@langchain/core` is
 * not imported at run time.
 *
 * @packageDocumentation
 */
import {
  asObject,
  type Json,
  incompleteCommit,
  outputTokensFromText,
  resolveContext,
  resolveEstimate,
  Settlement,
  validateOptions,
  type BudgetIntegrationOptions,
  type EstimateRequest,
} from './shared.js'

export type { BudgetCallContext, BudgetManagerLike } from './shared.js'

/** What the `context` and `estimate` functions of {@link BudgetCallbackHandler} receive. */
export interface LangChainRequest {
  /** The run id LangChain gave the call. */
  runId: string
  /** Requested model (`invocation_params.model`, else `metadata.ls_model_name`). */
  model: string
  /** Provider (`metadata.ls_provider`), e.g. `openai`, `anthropic`. */
  provider: string | undefined
  /** Invocation params of the model (max_tokens, temperature, ...). */
  invocationParams: Record<string, unknown>
  /** Tags of the run. */
  tags: string[]
  /** Metadata of the run (put per-call context here, e.g. `{ user: 'alice' }`). */
  metadata: Record<string, unknown>
}

/** Options of {@link BudgetCallbackHandler}. */
export interface BudgetCallbackHandlerOptions extends BudgetIntegrationOptions<LangChainRequest> {
  /** Provider name for pricing when the run does not say (`ls_provider`). */
  provider?: string
}

interface Run {
  settlement: Settlement
  model: string
  provider: string | undefined
  estimate: EstimateRequest
  characters: number
  tokens: number
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined
}

/** LangChain's `ls_provider` names, mapped to the catalog's provider names. */
function catalogProvider(provider: string | undefined): string | undefined {
  if (provider === undefined) return undefined
  if (provider === 'google_genai') return 'gemini'
  if (provider === 'google_vertexai') return 'vertex_ai'
  if (provider === 'azure_openai') return 'azure'
  return provider
}

/**
 * A LangChain callback handler that admits every chat model / LLM call against the budget and records its cost.
 * Pass it in `callbacks` of the model or of one call. One handler can serve many concurrent runs.
 *
 * @example
 * ```ts
 * const handler = new BudgetCallbackHandler({ manager, context: (run) => ({ user: String(run.metadata.user) }) })
 * const model = new ChatOpenAI({ model: 'gpt-4o-mini', callbacks: [handler] })
 * await model.invoke('Hello', { metadata: { user: 'alice' } })
 * ```
 */
export class BudgetCallbackHandler {
  /** Handler name (LangChain uses it to recognise handler objects). */
  readonly name = 'llm-budget'
  /** Errors (a refused call) propagate to the caller. */
  readonly raiseError = true
  /** LangChain waits for the reservation before it sends the request. */
  readonly awaitHandlers = true
  readonly ignoreLLM = false
  readonly ignoreChain = true
  readonly ignoreAgent = true
  readonly ignoreRetriever = true
  readonly ignoreCustomEvent = true
  readonly lc_serializable = false

  private readonly options: BudgetCallbackHandlerOptions
  private readonly runs = new Map<string, Run>()

  constructor(options: BudgetCallbackHandlerOptions) {
    validateOptions(options, 'BudgetCallbackHandler')
    this.options = options
  }

  /** LangChain copies handlers when it builds child managers; runs are keyed by id, so one instance serves all. */
  copy(): this {
    return this
  }

  /** Number of calls admitted and not yet committed or released. */
  get inFlight(): number {
    return this.runs.size
  }

  /** Reserve for a chat model call. */
  async handleChatModelStart(
    _llm: unknown,
    messages: unknown[][],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    const flat = (messages[0] ?? []).map((m) => ({ content: asObject(m)?.['content'] ?? asObject(asObject(m)?.['kwargs'])?.['content'] ?? '' }))
    await this.start(runId, flat, extraParams, tags, metadata)
  }

  /** Reserve for a text-completion LLM call. */
  async handleLLMStart(
    _llm: unknown,
    prompts: string[],
    runId: string,
    _parentRunId?: string,
    extraParams?: Record<string, unknown>,
    tags?: string[],
    metadata?: Record<string, unknown>,
  ): Promise<void> {
    await this.start(runId, prompts.map((content) => ({ content })), extraParams, tags, metadata)
  }

  /** Count streamed output, for the estimate if the stream fails. */
  handleLLMNewToken(token: string, _idx: unknown, runId: string): void {
    const run = this.runs.get(runId)
    if (run === undefined) return
    run.characters += token.length
    run.tokens++
  }

  /** Commit the usage LangChain reports, at the model the response names. */
  async handleLLMEnd(output: { generations?: unknown[][]; llmOutput?: Record<string, unknown> | null }, runId: string): Promise<void> {
    const run = this.runs.get(runId)
    if (run === undefined) return
    this.runs.delete(runId)
    let message: Json | undefined
    for (const generation of (output.generations ?? []).flat()) {
      const candidate = asObject(asObject(generation)?.['message'])
      if (candidate !== undefined && asObject(candidate['usage_metadata']) !== undefined) {
        message = candidate
        break
      }
      message ??= candidate
    }
    const responseMetadata = asObject(message?.['response_metadata'])
    const served =
      str(responseMetadata?.['model_name']) ??
      str(responseMetadata?.['model']) ??
      str(asObject(message?.['additional_kwargs'])?.['model']) ??
      str(output.llmOutput?.['model_name']) ??
      run.model
    const usageMetadata = asObject(message?.['usage_metadata'])
    const tokenUsage = asObject(output.llmOutput?.['tokenUsage']) ?? asObject(output.llmOutput?.['usage'])
    const provider = run.provider ?? this.options.provider
    if (usageMetadata !== undefined) {
      await run.settlement.commit({
        usage: { usage_metadata: usageMetadata, response_metadata: { model_name: served } },
        model: served,
        ...(provider !== undefined ? { provider } : {}),
        status: 'success',
        metadata: { endpoint: 'langchain' },
      })
    } else if (tokenUsage !== undefined && num(tokenUsage['promptTokens'] ?? tokenUsage['prompt_tokens']) !== undefined) {
      await run.settlement.commit({
        usage: {
          model: served,
          usage: {
            prompt_tokens: num(tokenUsage['promptTokens'] ?? tokenUsage['prompt_tokens']),
            completion_tokens: num(tokenUsage['completionTokens'] ?? tokenUsage['completion_tokens']) ?? 0,
          },
        },
        model: served,
        ...(provider !== undefined ? { provider } : {}),
        status: 'success',
        metadata: { endpoint: 'langchain' },
      })
    } else {
      await run.settlement.commit(this.incomplete(run, served, 'estimated', 'end'))
    }
  }

  /** Release the hold, or commit the output seen so far when tokens had streamed before the error. */
  async handleLLMError(error: unknown, runId: string): Promise<void> {
    const run = this.runs.get(runId)
    if (run === undefined) return
    this.runs.delete(runId)
    if (run.tokens === 0) {
      await run.settlement.release()
      return
    }
    const aborted = asObject(error)?.['name'] === 'AbortError' || /abort/i.test(String(asObject(error)?.['message'] ?? ''))
    await run.settlement.commit(this.incomplete(run, run.model, aborted ? 'aborted' : 'failure', 'error'))
  }

  private incomplete(run: Run, model: string, status: 'aborted' | 'failure' | 'estimated', ended: string) {
    return incompleteCommit(run.settlement.reservation, {
      model,
      provider: run.provider ?? this.options.provider ?? 'unknown',
      estimate: run.estimate,
      partialUsage: undefined,
      outputTokensSeen: outputTokensFromText(run.characters, run.tokens),
      status,
      metadata: { endpoint: 'langchain', ended },
    })
  }

  private async start(
    runId: string,
    messages: { content: unknown }[],
    extraParams: Record<string, unknown> | undefined,
    tags: string[] | undefined,
    metadata: Record<string, unknown> | undefined,
  ): Promise<void> {
    const invocationParams = asObject(extraParams?.['invocation_params']) ?? {}
    const meta = metadata ?? {}
    const model = str(invocationParams['model']) ?? str(invocationParams['model_name']) ?? str(invocationParams['modelName']) ?? str(meta['ls_model_name']) ?? 'unknown'
    const provider = catalogProvider(str(meta['ls_provider'])) ?? this.options.provider
    const maxOutput = num(invocationParams['max_completion_tokens']) ?? num(invocationParams['max_tokens']) ?? num(invocationParams['maxOutputTokens']) ?? num(meta['ls_max_tokens'])
    const request: LangChainRequest = { runId, model, provider, invocationParams, tags: tags ?? [], metadata: meta }
    const context = { ...(await resolveContext(this.options.context, request)) }
    if (context['provider'] === undefined && provider !== undefined) context['provider'] = provider
    const estimate: EstimateRequest = {
      model,
      ...(provider !== undefined ? { provider } : {}),
      messages: messages as EstimateRequest['messages'],
      ...(maxOutput !== undefined ? { maxOutputTokens: maxOutput } : {}),
    }
    const reservation = await this.options.manager.reserve(context, await resolveEstimate(this.options.estimate, request, estimate))
    this.runs.set(runId, { settlement: new Settlement(reservation, this.options.onRecordError), model, provider, estimate, characters: 0, tokens: 0 })
  }
}
