/**
 * Per-budget gauges (spend, limit, remaining, utilisation, forecast) read from the store: one snapshot per
 * scrape, shared by the text exposition, the prom-client registration and the budget server. Cardinality is
 * bounded by `maxScopes`: with more budgets than that, the fullest ones (highest utilisation, then spend) are
 * reported and the rest are counted in `<prefix>_scopes_omitted`.
 *
 * @packageDocumentation
 */
import { isBudgetError } from '../errors.js'
import { escapeLabel } from './counter-family.js'
import type { BudgetManager } from './manager.js'
import { type ScopePattern, matchesAny } from './scope-pattern.js'
import { parseScope } from './scopes.js'

/** One budget's gauges. Amounts are exact decimal USD strings. */
export interface ScopeGauge {
  scope: string
  spend: string
  limit: string | null
  remaining: string | null
  /** `spend / limit` (0 to 1 and above), or `null` without a limit. */
  utilization: number | null
  projectedSpend: string
}

/** A snapshot of the gauges. */
export interface ScopeGaugeSnapshot {
  gauges: ScopeGauge[]
  /** Budgets that matched the patterns. */
  total: number
  /** Budgets left out by `maxScopes`. */
  omitted: number
}

/** Reads every stored budget's status (8 at a time) and keeps the `maxScopes` fullest. */
export async function collectScopeGauges(
  manager: BudgetManager,
  patterns: readonly ScopePattern[],
  maxScopes: number,
): Promise<ScopeGaugeSnapshot> {
  const budgets = await manager.store.listBudgets()
  const scopes = budgets.map((b) => b.scope).filter((scope) => matchesAny(patterns, scope))
  const gauges: ScopeGauge[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < scopes.length) {
      const scope = scopes[next++]!
      try {
        const status = await manager.getStatus(parseScope(scope))
        gauges.push({
          scope,
          spend: status.exact.spend,
          limit: status.exact.limit,
          remaining: status.exact.remaining,
          utilization: status.percentUsed === null ? null : status.percentUsed / 100,
          projectedSpend: status.exact.projectedSpend,
        })
      } catch (error) {
        // A budget deleted or made invalid between the listing and the read is skipped; store failures propagate.
        if (!isBudgetError(error) || (error.code !== 'INVALID_INPUT' && error.code !== 'BUDGET_CONFIG')) throw error
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(8, scopes.length) }, worker))
  gauges.sort(
    (a, b) =>
      (b.utilization ?? -1) - (a.utilization ?? -1) ||
      Number(b.spend) - Number(a.spend) ||
      (a.scope < b.scope ? -1 : 1),
  )
  const kept = gauges.slice(0, maxScopes)
  kept.sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0))
  return { gauges: kept, total: gauges.length, omitted: gauges.length - kept.length }
}

/** The per-scope gauge families: name suffix, help text, and the value of one budget (`null`: no series). */
export const SCOPE_GAUGE_FAMILIES: readonly {
  suffix: string
  help: string
  read(gauge: ScopeGauge): string | number | null
}[] = [
  {
    suffix: 'scope_spend_usd',
    help: 'Spend committed in the current window of each budget, USD.',
    read: (g) => g.spend,
  },
  {
    suffix: 'scope_limit_usd',
    help: 'Limit of each budget (maxBudget with live increases), USD.',
    read: (g) => g.limit,
  },
  {
    suffix: 'scope_remaining_usd',
    help: 'Limit minus spend minus holds of calls in flight, USD, never below 0.',
    read: (g) => g.remaining,
  },
  {
    suffix: 'scope_utilization_ratio',
    help: 'Spend divided by the limit (1 = the limit is reached).',
    read: (g) => g.utilization,
  },
  {
    suffix: 'scope_projected_spend_usd',
    help: 'Spend at the end of the window at the average burn rate so far, USD.',
    read: (g) => g.projectedSpend,
  },
]

/** The whole-snapshot gauges: name suffix, help text and value. */
export const SNAPSHOT_GAUGE_FAMILIES: readonly {
  suffix: string
  help: string
  read(snapshot: ScopeGaugeSnapshot): number
}[] = [
  { suffix: 'scopes', help: 'Budgets matching the reported scope patterns.', read: (s) => s.total },
  { suffix: 'scopes_omitted', help: 'Budgets left out of the per-scope gauges by maxScopes.', read: (s) => s.omitted },
]

/** The snapshot in the text exposition format, appended to `out`. */
export function renderScopeGauges(prefix: string, snapshot: ScopeGaugeSnapshot, out: string[]): void {
  for (const { suffix, help, read } of SCOPE_GAUGE_FAMILIES) {
    out.push(`# HELP ${prefix}_${suffix} ${help}`, `# TYPE ${prefix}_${suffix} gauge`)
    for (const gauge of snapshot.gauges) {
      const value = read(gauge)
      if (value !== null) out.push(`${prefix}_${suffix}{scope="${escapeLabel(gauge.scope)}"} ${value}`)
    }
  }
  for (const { suffix, help, read } of SNAPSHOT_GAUGE_FAMILIES)
    out.push(
      `# HELP ${prefix}_${suffix} ${help}`,
      `# TYPE ${prefix}_${suffix} gauge`,
      `${prefix}_${suffix} ${read(snapshot)}`,
    )
}
