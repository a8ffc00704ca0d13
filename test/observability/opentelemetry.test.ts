import { context, metrics, trace } from '@opentelemetry/api'
import {
  AggregationTemporality,
  DataPointType,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BudgetManager } from '../../src/budget/manager.js'
import { instrumentBudget } from '../../src/integrations/opentelemetry.js'
import { AsyncLocalContextManager } from '../helpers/otel-context.js'

const contextManager = new AsyncLocalContextManager()
beforeAll(() => {
  context.setGlobalContextManager(contextManager)
})
afterAll(() => {
  context.disable()
})

function setup() {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const spans = new InMemorySpanExporter()
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] })
  const metricsOf = async (): Promise<ResourceMetrics['scopeMetrics'][number]['metrics']> => {
    await reader.forceFlush()
    const all = exporter.getMetrics()
    return all.at(-1)!.scopeMetrics.flatMap((s) => s.metrics)
  }
  return {
    meterProvider,
    tracerProvider,
    spans,
    metricsOf,
    shutdown: () => Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]),
  }
}

describe('instrumentBudget (real OpenTelemetry SDK, in-memory exporters)', () => {
  it('records gen_ai.client.token.usage by token type with the GenAI attributes, and the cost', async () => {
    const otel = setup()
    const manager = new BudgetManager()
    const off = instrumentBudget(manager, { meterProvider: otel.meterProvider })
    const usage = { prompt_tokens: 1000, completion_tokens: 200, prompt_tokens_details: { cached_tokens: 400 } }
    for (let i = 0; i < 2; i++) {
      await (
        await manager.reserve(
          { user: 'alice', provider: 'openai' },
          { model: 'gpt-4o', inputTokens: 1000, maxOutputTokens: 200 },
        )
      ).commit({ usage, model: 'gpt-4o-2024-08-06', provider: 'openai' })
    }
    const list = await otel.metricsOf()
    const tokens = list.find((m) => m.descriptor.name === 'gen_ai.client.token.usage')!
    expect(tokens.descriptor.unit).toBe('{token}')
    expect(tokens.dataPointType).toBe(DataPointType.HISTOGRAM)
    const input = tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'input')!
    expect(input.attributes).toEqual({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o-2024-08-06',
      'gen_ai.token.type': 'input',
    })
    expect(input.value).toMatchObject({ count: 2, sum: 2000 })
    expect(tokens.dataPoints.find((p) => p.attributes['gen_ai.token.type'] === 'output')!.value).toMatchObject({
      count: 2,
      sum: 400,
    })
    const cost = list.find((m) => m.descriptor.name === 'llm_budget.cost')!
    expect(cost.descriptor.unit).toBe('USD')
    // 600 uncached x $2.50/M + 400 cached x $1.25/M + 200 x $10/M = $0.004 per call.
    expect(cost.dataPoints[0]!.value).toBeCloseTo(0.008, 12)
    off.dispose()
    await otel.shutdown()
  })

  it('puts usage and cost on the active span; without one, traces a record span only with a tracerProvider', async () => {
    const otel = setup()
    const manager = new BudgetManager()
    instrumentBudget(manager, { meterProvider: otel.meterProvider, tracerProvider: otel.tracerProvider })
    const tracer = otel.tracerProvider.getTracer('app')
    const span = tracer.startSpan('chat gpt-4o')
    await context.with(trace.setSpan(context.active(), span), async () => {
      await manager.record(
        { user: 'alice' },
        {
          usage: { input_tokens: 120, output_tokens: 30, cache_read_input_tokens: 100 },
          model: 'claude-sonnet-4-5',
          provider: 'anthropic',
        },
      )
    })
    span.end()
    await manager.record({ user: 'bob' }, { cost: 0.5, model: 'gpt-4o', provider: 'openai' })
    const finished = otel.spans.getFinishedSpans()
    const app = finished.find((s) => s.name === 'chat gpt-4o')!
    expect(app.attributes).toMatchObject({
      'gen_ai.provider.name': 'anthropic',
      'gen_ai.request.model': 'claude-sonnet-4-5',
      'gen_ai.usage.input_tokens': 220,
      'gen_ai.usage.output_tokens': 30,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'llm_budget.status': 'success',
      'llm_budget.estimated': false,
    })
    expect(app.attributes['llm_budget.cost_usd']).toBeGreaterThan(0)
    const own = finished.find((s) => s.name === 'llm_budget.record')!
    expect(own.attributes).toMatchObject({ 'llm_budget.cost_usd': 0.5, 'gen_ai.request.model': 'gpt-4o' })
    expect(finished).toHaveLength(2)
    await otel.shutdown()
  })

  it('counts blocked calls and marks the active span', async () => {
    const otel = setup()
    const manager = new BudgetManager()
    instrumentBudget(manager, { meterProvider: otel.meterProvider })
    await manager.setBudget('team:a', { maxBudget: 0.0001 })
    const span = otel.tracerProvider.getTracer('app').startSpan('call')
    await context.with(trace.setSpan(context.active(), span), async () => {
      await expect(
        manager.reserve({ team: 'a', provider: 'openai' }, { model: 'gpt-4o', inputTokens: 100_000 }),
      ).rejects.toMatchObject({ code: 'BUDGET_EXCEEDED' })
    })
    span.end()
    const blocked = (await otel.metricsOf()).find((m) => m.descriptor.name === 'llm_budget.calls.blocked')!
    expect(blocked.dataPoints[0]).toMatchObject({
      value: 1,
      attributes: {
        'llm_budget.scope_type': 'team',
        'llm_budget.action': 'block',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.provider.name': 'openai',
      },
    })
    expect(otel.spans.getFinishedSpans()[0]!.attributes).toMatchObject({
      'llm_budget.blocked_scope': 'team:a',
      'llm_budget.blocked_action': 'block',
    })
    await otel.shutdown()
  })

  it('uses the global meter provider when none is passed (found through the API registry, no import)', async () => {
    const otel = setup()
    metrics.setGlobalMeterProvider(otel.meterProvider)
    try {
      const manager = new BudgetManager()
      instrumentBudget(manager)
      await manager.record({}, { cost: 0.25, model: 'gpt-4o', provider: 'openai' })
      const cost = (await otel.metricsOf()).find((m) => m.descriptor.name === 'llm_budget.cost')!
      expect(cost.dataPoints[0]!.value).toBe(0.25)
    } finally {
      metrics.disable()
      await otel.shutdown()
    }
  })

  it('refuses bad options', () => {
    const manager = new BudgetManager()
    expect(() => instrumentBudget(manager, { meterProvider: {} as never })).toThrow(/meterProvider/)
    expect(() => instrumentBudget(manager, { tracer: {} } as never)).toThrow(/tracerProvider/)
  })
})
