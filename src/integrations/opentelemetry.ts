/**
 * `llm-budget/opentelemetry`: the manager's calls as OpenTelemetry metrics and span attributes, following the
 * GenAI semantic conventions where they define a name:
 *
 * - histogram `gen_ai.client.token.usage` (unit `{token}`), one observation per call and token type (`input`,
 *   `output`), with `gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`,
 *   `gen_ai.response.model` and `gen_ai.token.type`;
 * - counter `llm_budget.cost` (unit `USD`) and counter `llm_budget.calls.blocked` (the conventions define no
 *   cost or budget metric);
 * - on the span active when the call is committed: `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
 *   `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`, the models and the
 *   provider, plus `llm_budget.cost_usd`, `llm_budget.call_id`, `llm_budget.status` and `llm_budget.estimated`.
 *
 * @packageDocumentation
 */
import type { Attributes, Counter, Histogram, MeterProvider, Span, TracerProvider } from '@opentelemetry/api'
import { z } from 'zod'
import { blockedLabels, observeRecord } from '../budget/call-observation.js'
import type { BudgetManager } from '../budget/manager.js'
import { nanoToUsd } from '../budget/money.js'
import { parseOptions } from '../internal/options.js'
import { activeSpan, globalMeterProvider } from './otel-global.js'

/** Options of {@link instrumentBudget}. */
export interface InstrumentBudgetOptions {
  /** Where the metrics go. Default: the global meter provider (`metrics.setGlobalMeterProvider`), if one is set; else no metrics. */
  meterProvider?: MeterProvider
  /**
   * Where a call committed outside any span is traced: a short `llm_budget.record` span carrying the usage and
   * cost. Without it such calls get no span (calls inside a span always annotate that span).
   */
  tracerProvider?: TracerProvider
  /** `gen_ai.operation.name` of the token metric. Default `chat`. */
  operationName?: string
}

/** What {@link instrumentBudget} returns. */
export interface BudgetInstrumentation {
  /** Stops listening to the manager (instruments stay registered with the meter, without new data). */
  dispose(): void
}

const SCOPE_NAME = 'llm-budget'

/** Bucket boundaries the GenAI conventions advise for `gen_ai.client.token.usage`. */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864]

const provider = (name: string) =>
  z.custom<MeterProvider & TracerProvider>(
    (value) =>
      typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[name] === 'function',
    `must have a \`${name}()\` method`,
  )

const optionsSchema = z.object({
  meterProvider: provider('getMeter').optional(),
  tracerProvider: provider('getTracer').optional(),
  operationName: z.string().min(1).max(64).optional(),
})

/**
 * Reports a manager's calls to OpenTelemetry: token usage and cost metrics, and usage attributes on the active span.
 *
 * @example
 * ```ts
 * import { instrumentBudget } from 'llm-budget/opentelemetry'
 * instrumentBudget(budgets) // uses the global meter and the active span
 * ```
 */
export function instrumentBudget(manager: BudgetManager, options: InstrumentBudgetOptions = {}): BudgetInstrumentation {
  const parsed = parseOptions('instrumentBudget()', optionsSchema, options)
  const meter = (parsed.meterProvider ?? globalMeterProvider())?.getMeter(SCOPE_NAME)
  const tracer = parsed.tracerProvider?.getTracer(SCOPE_NAME)
  const operationName = parsed.operationName ?? 'chat'
  const tokenUsage: Histogram | undefined = meter?.createHistogram('gen_ai.client.token.usage', {
    description: 'Number of input and output tokens used.',
    unit: '{token}',
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  })
  const cost: Counter | undefined = meter?.createCounter('llm_budget.cost', {
    description: 'Spend committed, USD.',
    unit: 'USD',
  })
  const blocked: Counter | undefined = meter?.createCounter('llm_budget.calls.blocked', {
    description: 'Calls a budget refused or warned about.',
    unit: '{call}',
  })

  const unsubscribe = [
    manager.on('spend.recorded', ({ record, estimated }) => {
      const call = observeRecord(record)
      const attributes: Attributes = {
        'gen_ai.operation.name': operationName,
        'gen_ai.provider.name': call.provider,
        'gen_ai.request.model': call.requestedModel,
        'gen_ai.response.model': call.model,
      }
      if (call.tokens.input > 0) tokenUsage?.record(call.tokens.input, { ...attributes, 'gen_ai.token.type': 'input' })
      if (call.tokens.output > 0)
        tokenUsage?.record(call.tokens.output, { ...attributes, 'gen_ai.token.type': 'output' })
      const usd = nanoToUsd(call.costNano)
      if (usd > 0)
        cost?.add(usd, {
          'gen_ai.provider.name': call.provider,
          'gen_ai.request.model': call.requestedModel,
          'gen_ai.response.model': call.model,
        })

      const spanAttributes: Attributes = {
        'gen_ai.provider.name': call.provider,
        'gen_ai.request.model': call.requestedModel,
        'gen_ai.response.model': call.model,
        'gen_ai.usage.input_tokens': call.tokens.input,
        'gen_ai.usage.output_tokens': call.tokens.output,
        'gen_ai.usage.cache_read.input_tokens': call.tokens.cache_read,
        'gen_ai.usage.cache_creation.input_tokens': call.tokens.cache_write,
        'llm_budget.cost_usd': usd,
        'llm_budget.call_id': record.callId,
        'llm_budget.status': call.status,
        'llm_budget.estimated': estimated,
      }
      const active = activeSpan()
      if (active !== undefined) {
        active.setAttributes(spanAttributes)
      } else if (tracer !== undefined) {
        const span: Span = tracer.startSpan('llm_budget.record', {
          attributes: spanAttributes,
          startTime: record.startedAt,
        })
        span.end(record.endedAt)
      }
    }),
    manager.on('budget.exceeded', (event) => {
      const labels = blockedLabels(event)
      blocked?.add(1, {
        'llm_budget.scope_type': labels.scope_type,
        'llm_budget.action': labels.action,
        'gen_ai.request.model': labels.model,
        'gen_ai.provider.name': labels.provider,
      })
      activeSpan()?.setAttributes({
        'llm_budget.blocked_scope': event.scope,
        'llm_budget.blocked_action': event.action,
      })
    }),
  ]
  return {
    dispose() {
      for (const off of unsubscribe) off()
    },
  }
}
