/**
 * Prometheus metrics for a `BudgetManager`, in the text exposition format, with no dependency:
 *
 * - counters from the manager's events: spend, tokens and calls by model and provider, blocked calls by
 *   scope type, action, model and provider, and store errors;
 * - per-budget gauges read from the store (`<prefix>_scope_spend_usd`, `_scope_limit_usd`,
 *   `_scope_remaining_usd`, `_scope_utilization_ratio`, `_scope_projected_spend_usd`, label `scope`).
 *
 * Every label set is bounded: counters keep at most `maxSeries` series per metric (further models are folded
 * into `model="other"`), gauges at most `maxScopes` scopes (the fullest budgets are kept). With 100,000
 * budgets and the defaults a scrape holds 5 x 1,000 gauge series, not 500,000.
 *
 * @packageDocumentation
 */
import { z } from 'zod'
import { parseOptions } from '../internal/options.js'
import { TOKEN_DIRECTIONS, blockedLabels, observeRecord } from './call-observation.js'
import type { BudgetManager } from './manager.js'
import { CounterFamily as Family } from './counter-family.js'
import { type ScopeGaugeSnapshot, collectScopeGauges, renderScopeGauges } from './scope-gauges.js'
import { scopePattern } from './scope-pattern.js'

/** Options of {@link budgetMetrics}. */
export interface BudgetMetricsOptions {
  /** Prefix of every metric name. Default `llm_budget`. */
  prefix?: string
  /**
   * Most label sets kept per counter; further ones are counted under `model="other"` (or `scope_type="other"`)
   * so that a stream of distinct model names cannot grow memory or the scrape without bound. Default `500`.
   */
  maxSeries?: number
  /**
   * Which budgets get per-scope gauges: scope patterns where `*` matches anything, e.g. `['team:*', 'org:*']`.
   * Default `['*']` (every stored budget).
   */
  scopes?: readonly string[]
  /**
   * Most budgets with per-scope gauges; with more, the fullest (highest utilisation, then spend) are reported
   * and `<prefix>_scopes_omitted` says how many were left out. Default `1000`.
   */
  maxScopes?: number
}

/** What {@link budgetMetrics} returns. */
export interface BudgetMetrics {
  /**
   * The metrics in Prometheus text exposition format (version 0.0.4): the counters as of now, and the
   * per-budget gauges as of the last {@link BudgetMetrics.collect} (none before the first).
   */
  text(): string
  /** Reads every budget's balance from the store, then returns {@link BudgetMetrics.text}. Serve this on `/metrics`. */
  collect(): Promise<string>
  /** Stops listening to the manager. */
  dispose(): void
}

/** The options shared by `budgetMetrics` and the prom-client registration. */
export const metricsOptionsShape = {
  prefix: z
    .string()
    .regex(/^[a-zA-Z_:][a-zA-Z0-9_:]*$/, 'must be a Prometheus metric name such as `llm_budget`')
    .optional(),
  maxSeries: z.number().int().min(1).max(1_000_000).optional(),
  scopes: z.array(z.string()).min(1).max(100).optional(),
  maxScopes: z.number().int().min(1).max(1_000_000).optional(),
}

const optionsSchema = z.object(metricsOptionsShape)

/** The counters of a manager's calls, fed by its events: what `budgetMetrics` and the prom-client registration report. */
export function callCounters(
  manager: BudgetManager,
  prefix: string,
  maxSeries: number,
): { families: Family[]; dispose(): void } {
  const spend = new Family(
    `${prefix}_spend_usd_total`,
    'Spend committed, USD (exact, from integer nano-USD).',
    ['model', 'provider'],
    maxSeries,
    true,
  )
  const calls = new Family(
    `${prefix}_calls_total`,
    'Calls committed, by status (success, failure, aborted, estimated, cache_hit).',
    ['model', 'provider', 'status'],
    maxSeries,
  )
  const tokens = new Family(
    `${prefix}_tokens_total`,
    'Tokens committed, by direction (input, output, cache_read, cache_write).',
    ['model', 'provider', 'direction'],
    maxSeries,
  )
  const blocked = new Family(
    `${prefix}_blocked_total`,
    'Calls a budget refused (action block or fallback) or let through over a warn budget (action warn).',
    ['scope_type', 'action', 'model', 'provider'],
    maxSeries,
  )
  const storeErrors = new Family(
    `${prefix}_store_errors_total`,
    'Store operations that failed, by operation and the action taken (deny or allow).',
    ['operation', 'action'],
    maxSeries,
  )
  const unsubscribe = [
    manager.on('spend.recorded', ({ record }) => {
      const call = observeRecord(record)
      const labels = { model: call.model, provider: call.provider }
      spend.add(labels, call.costNano, 'model')
      calls.add({ ...labels, status: call.status }, 1, 'model')
      for (const direction of TOKEN_DIRECTIONS) tokens.add({ ...labels, direction }, call.tokens[direction], 'model')
    }),
    manager.on('budget.exceeded', (event) => {
      blocked.add(blockedLabels(event), 1, 'scope_type')
    }),
    manager.on('store.error', ({ operation, action }) => {
      storeErrors.add({ operation, action }, 1, 'operation')
    }),
  ]

  return {
    families: [spend, calls, tokens, blocked, storeErrors],
    dispose() {
      for (const off of unsubscribe) off()
    },
  }
}

/** The validated gauge options, shared with the prom-client registration. */
export function gaugeOptions(options: { scopes?: readonly string[] | undefined; maxScopes?: number | undefined }) {
  const patterns = (options.scopes ?? ['*']).map((pattern, i) => scopePattern(pattern, `scopes.${i}`))
  return { patterns, maxScopes: options.maxScopes ?? 1000 }
}

/**
 * Prometheus metrics for a manager: counters from its events from now on, gauges from the store.
 *
 * @example
 * ```ts
 * const metrics = budgetMetrics(budgets)
 * app.get('/metrics', async (req, res) => res.type('text/plain; version=0.0.4').send(await metrics.collect()))
 * ```
 */
export function budgetMetrics(manager: BudgetManager, options: BudgetMetricsOptions = {}): BudgetMetrics {
  const parsed = parseOptions('budgetMetrics()', optionsSchema, options)
  const prefix = parsed.prefix ?? 'llm_budget'
  const maxSeries = parsed.maxSeries ?? 500
  const gauges = gaugeOptions(parsed)

  const counters = callCounters(manager, prefix, maxSeries)
  let snapshot: ScopeGaugeSnapshot | null = null

  const text = (): string => {
    const out: string[] = []
    for (const family of counters.families) family.render(out)
    if (snapshot !== null) renderScopeGauges(prefix, snapshot, out)
    return `${out.join('\n')}\n`
  }

  return {
    text,
    async collect() {
      snapshot = await collectScopeGauges(manager, gauges.patterns, gauges.maxScopes)
      return text()
    },
    dispose: counters.dispose,
  }
}

/** Per-budget gauges alone (no counters), for a manager whose calls are counted elsewhere, e.g. a server tenant. */
export async function scopeGaugesText(
  manager: BudgetManager,
  options: { prefix?: string; scopes?: readonly string[]; maxScopes?: number } = {},
): Promise<string> {
  const gauges = gaugeOptions(options)
  const out: string[] = []
  renderScopeGauges(
    options.prefix ?? 'llm_budget',
    await collectScopeGauges(manager, gauges.patterns, gauges.maxScopes),
    out,
  )
  return `${out.join('\n')}\n`
}
