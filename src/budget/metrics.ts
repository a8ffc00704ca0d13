/**
 * Prometheus metrics for a `BudgetManager`, in the text exposition format, built from the manager's events:
 * spend, tokens and calls by model and provider, blocked calls by scope type, and store errors. No
 * dependency: serve `metrics.text()` on any `/metrics` route, or feed it to prom-client's registry.
 *
 * @packageDocumentation
 */
import { BudgetConfigError } from '../errors.js'
import type { BudgetManager } from './manager.js'
import { formatNano } from './money.js'

/** Options of {@link budgetMetrics}. */
export interface BudgetMetricsOptions {
  /** Prefix of every metric name. Default `llm_budget`. */
  prefix?: string
  /**
   * Most label sets kept per metric; further ones are counted under `model="other"` (or `scope_type="other"`)
   * so that a stream of distinct model names cannot grow memory or the scrape without bound. Default `500`.
   */
  maxSeries?: number
}

/** What {@link budgetMetrics} returns. */
export interface BudgetMetrics {
  /** The metrics in Prometheus text exposition format (version 0.0.4). */
  text(): string
  /** Stops listening to the manager. */
  dispose(): void
}

type Labels = Record<string, string>

/** A counter family: one exact integer (nano-USD, tokens, calls) per label set. */
class Family {
  private readonly series = new Map<string, { labels: Labels; value: number }>()

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly maxSeries: number,
    private readonly format: (value: number) => string = String,
  ) {}

  add(labels: Labels, amount: number, overflowLabel: string): void {
    if (!Number.isFinite(amount) || amount <= 0) return
    let key = labelText(labels)
    let entry = this.series.get(key)
    if (entry === undefined && this.series.size >= this.maxSeries) {
      labels = { ...labels, [overflowLabel]: 'other' }
      key = labelText(labels)
      entry = this.series.get(key)
    }
    if (entry === undefined) {
      entry = { labels, value: 0 }
      this.series.set(key, entry)
    }
    entry.value += amount
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`)
    for (const [labels, entry] of this.series) out.push(`${this.name}${labels} ${this.format(entry.value)}`)
  }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

function numberField(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : 0
}

/**
 * Prometheus metrics for a manager, counted from its events from now on.
 *
 * @example
 * ```ts
 * const metrics = budgetMetrics(budgets)
 * app.get('/metrics', (req, res) => res.type('text/plain; version=0.0.4').send(metrics.text()))
 * ```
 */
export function budgetMetrics(manager: BudgetManager, options: BudgetMetricsOptions = {}): BudgetMetrics {
  const prefix = options.prefix ?? 'llm_budget'
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix)) {
    throw new BudgetConfigError('prefix', `\`prefix\` must be a Prometheus metric name such as \`llm_budget\`, got ${JSON.stringify(prefix)}`)
  }
  const maxSeries = options.maxSeries ?? 500
  if (!Number.isSafeInteger(maxSeries) || maxSeries < 1) throw new BudgetConfigError('maxSeries', `\`maxSeries\` must be a positive integer, got ${String(maxSeries)}`)

  const spend = new Family(`${prefix}_spend_usd_total`, 'Spend committed, USD (exact, from integer nano-USD).', maxSeries, formatNano)
  const calls = new Family(`${prefix}_calls_total`, 'Calls committed, by status (success, failure, aborted, estimated, cache_hit).', maxSeries)
  const tokens = new Family(`${prefix}_tokens_total`, 'Tokens committed, by direction (input, output, cache_read, cache_write).', maxSeries)
  const blocked = new Family(`${prefix}_blocked_total`, 'Calls a budget refused (action block or fallback) or let through over a warn budget (action warn).', maxSeries)
  const storeErrors = new Family(`${prefix}_store_errors_total`, 'Store operations that failed, by operation and the action taken (deny or allow).', maxSeries)

  const unsubscribe = [
    manager.on('spend.recorded', ({ record }) => {
      const model = typeof record.modelServed === 'string' ? record.modelServed : typeof record.model === 'string' ? record.model : 'unknown'
      const provider = typeof record.provider === 'string' ? record.provider : 'unknown'
      const labels = { model, provider }
      spend.add(labels, numberField(record.costNanoUsd), 'model')
      calls.add({ ...labels, status: typeof record.status === 'string' ? record.status : 'unknown' }, 1, 'model')
      const usage = record.usage
      if (typeof usage === 'object' && usage !== null && !Array.isArray(usage)) {
        tokens.add({ ...labels, direction: 'input' }, numberField(usage.inputTokens), 'model')
        tokens.add({ ...labels, direction: 'output' }, numberField(usage.outputTokens), 'model')
        tokens.add({ ...labels, direction: 'cache_read' }, numberField(usage.cacheReadTokens), 'model')
        tokens.add({ ...labels, direction: 'cache_write' }, numberField(usage.cacheWriteTokens), 'model')
      }
    }),
    manager.on('budget.exceeded', ({ scope, action }) => {
      const separator = scope.indexOf(':')
      blocked.add({ scope_type: separator > 0 ? scope.slice(0, separator) : scope, action }, 1, 'scope_type')
    }),
    manager.on('store.error', ({ operation, action }) => {
      storeErrors.add({ operation, action }, 1, 'operation')
    }),
  ]

  return {
    text() {
      const out: string[] = []
      for (const family of [spend, calls, tokens, blocked, storeErrors]) family.render(out)
      return `${out.join('\n')}\n`
    },
    dispose() {
      for (const off of unsubscribe) off()
    },
  }
}
