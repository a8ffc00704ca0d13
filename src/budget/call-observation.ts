/**
 * What the metrics exporters (text exposition, prom-client, OpenTelemetry) read from the manager's events, in
 * one place so that every exporter labels a call the same way.
 *
 * @packageDocumentation
 */
import type { SpendRecord } from '../stores/types.js'
import type { BudgetExceededEvent } from './events.js'

/** Token directions, in the order they are reported. */
export const TOKEN_DIRECTIONS = ['input', 'output', 'cache_read', 'cache_write'] as const

/** A committed call, reduced to its labels and amounts. */
export interface CallObservation {
  /** The model that served the call (or the one requested), or `unknown`. */
  model: string
  /** The model the caller asked for, or `unknown`. */
  requestedModel: string
  provider: string
  status: string
  costNano: number
  tokens: Record<(typeof TOKEN_DIRECTIONS)[number], number>
}

function positive(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}

/** Labels and amounts of a spend record (never its metadata or any content). */
export function observeRecord(record: SpendRecord): CallObservation {
  const requested = typeof record.model === 'string' ? record.model : 'unknown'
  const usage =
    typeof record.usage === 'object' && record.usage !== null && !Array.isArray(record.usage)
      ? (record.usage as Record<string, unknown>)
      : {}
  return {
    model: typeof record.modelServed === 'string' ? record.modelServed : requested,
    requestedModel: requested,
    provider: typeof record.provider === 'string' ? record.provider : 'unknown',
    status: typeof record.status === 'string' ? record.status : 'unknown',
    costNano: positive(record.costNanoUsd),
    tokens: {
      input: positive(usage.inputTokens),
      output: positive(usage.outputTokens),
      cache_read: positive(usage.cacheReadTokens),
      cache_write: positive(usage.cacheWriteTokens),
    },
  }
}

/** Labels of a refused (or warned) call: the scope type that refused it, the action, the call's model and provider. */
export function blockedLabels(event: BudgetExceededEvent): {
  scope_type: string
  action: string
  model: string
  provider: string
} {
  const separator = event.scope.indexOf(':')
  return {
    scope_type: separator > 0 ? event.scope.slice(0, separator) : event.scope,
    action: event.action,
    model: event.callModel ?? event.model ?? 'unknown',
    provider: event.provider ?? 'unknown',
  }
}
