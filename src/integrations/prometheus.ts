/**
 * `llm-budget/prometheus`: the budget metrics on a prom-client registry, for applications that already
 * serve prom-client's `/metrics`. Same names, labels and bounds as `budgetMetrics()` (see docs/metrics.md);
 * the per-budget gauges are read from the store once per scrape.
 *
 * The metrics are registered as collector objects (`registry.registerMetric`) rather than built from
 * prom-client's classes, so this module loads without prom-client installed and works with whichever copy of
 * prom-client the registry comes from.
 *
 * @packageDocumentation
 */
import type { Registry } from 'prom-client'
import { z } from 'zod'
import type { BudgetManager } from '../budget/manager.js'
import { callCounters, gaugeOptions, metricsOptionsShape } from '../budget/metrics.js'
import { nanoToUsd } from '../budget/money.js'
import {
  SCOPE_GAUGE_FAMILIES,
  SNAPSHOT_GAUGE_FAMILIES,
  type ScopeGaugeSnapshot,
  collectScopeGauges,
} from '../budget/scope-gauges.js'
import { parseOptions } from '../internal/options.js'

/** Options of {@link registerBudgetMetrics}. */
export interface RegisterBudgetMetricsOptions {
  /** The prom-client registry to add the metrics to (`new Registry()`, or prom-client's global `register`). */
  registry: Registry
  /** Prefix of every metric name. Default `llm_budget`. */
  prefix?: string
  /** Most label sets per counter; further models are counted under `model="other"`. Default `500`. */
  maxSeries?: number
  /** Scope patterns of the budgets that get per-scope gauges, e.g. `['team:*']`. Default `['*']`. */
  scopes?: readonly string[]
  /** Most budgets with per-scope gauges (the fullest are kept). Default `1000`. */
  maxScopes?: number
}

/** What {@link registerBudgetMetrics} returns. */
export interface RegisteredBudgetMetrics {
  /** Stops listening to the manager and removes the metrics from the registry. */
  dispose(): void
}

const optionsSchema = z.object({
  ...metricsOptionsShape,
  registry: z.custom<Registry>(
    (value) => typeof value === 'object' && value !== null && typeof (value as Registry).registerMetric === 'function',
    'must be a prom-client `Registry`',
  ),
})

/**
 * Registers the budget metrics of a manager on a prom-client registry: counters of spend, calls, tokens,
 * blocked calls and store errors, and the per-budget gauges (`llm_budget_scope_spend_usd`, ...).
 *
 * @example
 * ```ts
 * import { Registry } from 'prom-client'
 * import { registerBudgetMetrics } from 'llm-budget/prometheus'
 * const registry = new Registry()
 * registerBudgetMetrics(budgets, { registry })
 * app.get('/metrics', async (req, res) => res.type(registry.contentType).send(await registry.metrics()))
 * ```
 */
export function registerBudgetMetrics(
  manager: BudgetManager,
  options: RegisterBudgetMetricsOptions,
): RegisteredBudgetMetrics {
  const parsed = parseOptions('registerBudgetMetrics()', optionsSchema, options)
  const registry: Registry = parsed.registry
  const prefix = parsed.prefix ?? 'llm_budget'
  const gauges = gaugeOptions(parsed)
  const counters = callCounters(manager, prefix, parsed.maxSeries ?? 500)
  const metrics: CollectorMetric[] = []

  for (const family of counters.families) {
    metrics.push(
      collector(family.name, family.help, 'counter', async () => {
        const values: Sample[] = []
        for (const { labels, value } of family.entries())
          values.push({ labels, value: family.usd ? nanoToUsd(value) : value })
        return values
      }),
    )
  }

  // One store read per scrape, shared by the gauges (prom-client collects every metric concurrently).
  let pending: Promise<ScopeGaugeSnapshot> | null = null
  const snapshot = (): Promise<ScopeGaugeSnapshot> => {
    if (pending === null) {
      const started = collectScopeGauges(manager, gauges.patterns, gauges.maxScopes)
      pending = started
      const clear = (): void => {
        if (pending === started) pending = null
      }
      started.then(clear, clear)
    }
    return pending
  }
  for (const { suffix, help, read } of SCOPE_GAUGE_FAMILIES) {
    metrics.push(
      collector(`${prefix}_${suffix}`, help, 'gauge', async () => {
        const values: Sample[] = []
        for (const gauge of (await snapshot()).gauges) {
          const value = read(gauge)
          if (value !== null) values.push({ labels: { scope: gauge.scope }, value: Number(value) })
        }
        return values
      }),
    )
  }
  for (const { suffix, help, read } of SNAPSHOT_GAUGE_FAMILIES) {
    metrics.push(
      collector(`${prefix}_${suffix}`, help, 'gauge', async () => [{ labels: {}, value: read(await snapshot()) }]),
    )
  }
  for (const metric of metrics) registry.registerMetric(metric as unknown as Parameters<Registry['registerMetric']>[0])

  return {
    dispose() {
      counters.dispose()
      for (const metric of metrics) registry.removeSingleMetric(metric.name)
    },
  }
}

interface Sample {
  labels: Record<string, string>
  value: number
}

/** The shape prom-client's registry reads from a metric: `name`, `help`, `type`, `get()` and `reset()`. */
interface CollectorMetric {
  name: string
  help: string
  type: 'counter' | 'gauge'
  aggregator: 'sum'
  get(): Promise<{ name: string; help: string; type: 'counter' | 'gauge'; aggregator: 'sum'; values: Sample[] }>
  reset(): void
}

function collector(
  name: string,
  help: string,
  type: 'counter' | 'gauge',
  values: () => Promise<Sample[]>,
): CollectorMetric {
  return {
    name,
    help,
    type,
    aggregator: 'sum',
    async get() {
      return { name, help, type, aggregator: 'sum', values: await values() }
    },
    // The values are the manager's; a registry reset does not erase them.
    reset() {},
  }
}
