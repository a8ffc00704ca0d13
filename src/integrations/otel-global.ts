/**
 * The OpenTelemetry API's process-wide registry, read without importing `@opentelemetry/api` (an optional peer:
 * `llm-budget/opentelemetry` must load where it is not installed). Every copy of the API at major version 1
 * keeps its global meter provider, tracer provider and context manager on `globalThis` under
 * `Symbol.for('opentelemetry.js.api.1')`, and the active span in the context under
 * `Symbol.for('OpenTelemetry Context Key SPAN')`; this is how several copies of the API share one state, so it
 * is stable across 1.x. See docs/decisions/0080-opentelemetry-without-a-hard-dependency.md.
 */
import type { ContextManager, MeterProvider, Span } from '@opentelemetry/api'

const API_KEY = Symbol.for('opentelemetry.js.api.1')
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN')

interface ApiGlobals {
  version?: string
  metrics?: MeterProvider
  context?: ContextManager
}

function globals(): ApiGlobals | undefined {
  const value = (globalThis as Record<symbol, unknown>)[API_KEY]
  return typeof value === 'object' && value !== null ? (value as ApiGlobals) : undefined
}

/** The global meter provider (`metrics.setGlobalMeterProvider`), or `undefined` when none is set. */
export function globalMeterProvider(): MeterProvider | undefined {
  return globals()?.metrics
}

/** The span active in the current context (`trace.getActiveSpan()`), or `undefined`. */
export function activeSpan(): Span | undefined {
  const manager = globals()?.context
  if (manager === undefined) return undefined
  const span = manager.active().getValue(SPAN_KEY)
  return typeof span === 'object' && span !== null && typeof (span as Span).setAttributes === 'function'
    ? (span as Span)
    : undefined
}
