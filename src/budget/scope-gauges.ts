/**
 * Per-budget gauges (spend, limit, remaining, utilisation, forecast) read from the store: one snapshot per
 * scrape, shared by the text exposition, the prom-client registration and the budget server. Cardinality is
 * bounded by `maxScopes`: with more budgets than that, the fullest ones (highest utilisation, then spend) are
 * reported and the rest are counted in `<prefix>_scopes_omitted`.
 *
 * @packageDocumentation
 */
import { isBudgetError } from '../errors.js'
import type { BudgetManager } from './manager.js'
import { type ScopePattern, matchesAny } from './scope-pattern.js'

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
export async function collectScopeGauges(manager: BudgetManager, patterns: readonly ScopePattern[], maxScopes: number): Promise<ScopeGaugeSnapshot> {
  const budgets = await manager.store.listBudgets()
  const scopes = budgets.map((b) => b.scope).filter((scope) => matchesAny(patterns, scope))
  const gauges: ScopeGauge[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < scopes.length) {
      const scope = scopes[next++]!
      try {
        const status = await manager.getStatus(scope)
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
  gauges.sort((a, b) => (b.utilization ?? -1) - (a.utilization ?? -1) || Number(b.spend) - Number(a.spend) || (a.scope < b.scope ? -1 : 1))
  const kept = gauges.slice(0, maxScopes)
  kept.sort((a, b) => (a.scope < b.scope ? -1 : a.scope > b.scope ? 1 : 0))
  return { gauges: kept, total: gauges.length, omitted: gauges.length - kept.length }
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** The snapshot in the text exposition format, appended to `out`. */
export function renderScopeGauges(prefix: string, snapshot: ScopeGaugeSnapshot, out: string[]): void {
  const family = (name: string, help: string, value: (g: ScopeGauge) => string | number | null): void => {
    out.push(`# HELP ${prefix}_${name} ${help}`, `# TYPE ${prefix}_${name} gauge`)
    for (const gauge of snapshot.gauges) {
      const v = value(gauge)
      if (v !== null) out.push(`${prefix}_${name}{scope="${escapeLabel(gauge.scope)}"} ${v}`)
    }
  }
  family('scope_spend_usd', 'Spend committed in the current window of each budget, USD.', (g) => g.spend)
  family('scope_limit_usd', 'Limit of each budget (maxBudget with live increases), USD.', (g) => g.limit)
  family('scope_remaining_usd', 'Limit minus spend minus holds of calls in flight, USD, never below 0.', (g) => g.remaining)
  family('scope_utilization_ratio', 'Spend divided by the limit (1 = the limit is reached).', (g) => g.utilization)
  family('scope_projected_spend_usd', 'Spend at the end of the window at the average burn rate so far, USD.', (g) => g.projectedSpend)
  out.push(`# HELP ${prefix}_scopes Budgets matching the reported scope patterns.`, `# TYPE ${prefix}_scopes gauge`, `${prefix}_scopes ${snapshot.total}`)
  out.push(`# HELP ${prefix}_scopes_omitted Budgets left out of the per-scope gauges by maxScopes.`, `# TYPE ${prefix}_scopes_omitted gauge`, `${prefix}_scopes_omitted ${snapshot.omitted}`)
}
