/**
 * The dashboard's data for one tenant, built with the same aggregation as `querySpend` (exact sums of integer
 * nano-USD): every budget with its status and forecast, spend by day, model, user and team over the last
 * `days` days, the top spenders, and the most recent calls. Calls are described by numbers, ids, model and
 * status only: never prompts, responses or metadata.
 *
 * @packageDocumentation
 */
import type { BudgetManager } from '../../budget/manager.js'
import { type SpendGroupBy, type SpendReport, aggregateSpend } from '../../budget/records.js'
import { parseScope } from '../../budget/scopes.js'
import { isBudgetError } from '../../errors.js'
import type { JsonValue, SpendRecord } from '../../stores/types.js'

/** Most budgets listed, most recent calls shown, most groups per breakdown. */
const MAX_BUDGETS = 500
const RECENT_CALLS = 25
const MAX_GROUPS = 20

/** One budget on the dashboard. Amounts are exact decimal USD strings. */
export interface DashboardBudget {
  scope: string
  spend: string
  reserved: string
  limit: string | null
  remaining: string | null
  percentUsed: number | null
  projectedSpend: string
  exhaustsAt: string | null
  resetsAt: string | null
  windowId: string
}

/** A group of a breakdown: its value (a day, a model, a user, a team) and the exact spend. */
export interface DashboardGroup {
  key: string
  cost: string
  calls: number
}

/** One recent call, without any content. */
export interface DashboardCall {
  callId: string
  endedAt: string
  model: string | null
  provider: string | null
  user: string | null
  team: string | null
  status: string | null
  cost: string
  inputTokens: number | null
  outputTokens: number | null
}

/** The answer of `GET /dashboard/data`. */
export interface DashboardData {
  generatedAt: string
  from: string
  days: number
  total: { cost: string; calls: number; inputTokens: number; outputTokens: number }
  budgets: DashboardBudget[]
  budgetsOmitted: number
  byDay: DashboardGroup[]
  byModel: DashboardGroup[]
  byUser: DashboardGroup[]
  byTeam: DashboardGroup[]
  recent: DashboardCall[]
}

function groups(records: readonly SpendRecord[], by: SpendGroupBy, sortByCost: boolean): DashboardGroup[] {
  const report: SpendReport = aggregateSpend(records, { groupBy: [by] })
  const list = report.groups.map((g) => ({
    key: g.key[by] ?? '(none)',
    cost: g.exact.cost,
    nano: BigInt(g.costNanoUsd),
    calls: g.calls,
  }))
  if (sortByCost) list.sort((a, b) => (b.nano > a.nano ? 1 : b.nano < a.nano ? -1 : a.key < b.key ? -1 : 1))
  return (sortByCost ? list.slice(0, MAX_GROUPS) : list).map(({ key, cost, calls }) => ({ key, cost, calls }))
}

function text(value: JsonValue | undefined): string | null {
  return typeof value === 'string' ? value : null
}

function count(value: JsonValue | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}

function recentCall(record: SpendRecord): DashboardCall {
  const context =
    typeof record.context === 'object' && record.context !== null && !Array.isArray(record.context)
      ? record.context
      : {}
  const usage =
    typeof record.usage === 'object' && record.usage !== null && !Array.isArray(record.usage) ? record.usage : {}
  return {
    callId: record.callId,
    endedAt: new Date(record.endedAt).toISOString(),
    model: text(record.modelServed) ?? text(record.model),
    provider: text(record.provider),
    user: text(context.user),
    team: text(context.team),
    status: text(record.status),
    cost: typeof record.cost === 'string' ? record.cost : '0',
    inputTokens: count(usage.inputTokens),
    outputTokens: count(usage.outputTokens),
  }
}

/** Builds the dashboard data of the tenant whose store `manager` uses. */
export async function dashboardData(manager: BudgetManager, days: number): Promise<DashboardData> {
  const now = manager.clock.now()
  const dayMs = 86_400_000
  // From the start of the UTC day `days - 1` days ago, so the chart has whole days.
  const from = Math.floor(now / dayMs) * dayMs - (days - 1) * dayMs
  const records = await manager.spendRecords({ from })
  const totals = aggregateSpend(records)

  const stored = await manager.store.listBudgets()
  const budgets: DashboardBudget[] = []
  for (const { scope } of stored.slice(0, MAX_BUDGETS)) {
    try {
      const status = await manager.getStatus(parseScope(scope))
      budgets.push({
        scope,
        spend: status.exact.spend,
        reserved: status.exact.reserved,
        limit: status.exact.limit,
        remaining: status.exact.remaining,
        percentUsed: status.percentUsed,
        projectedSpend: status.exact.projectedSpend,
        exhaustsAt: status.exhaustsAt?.toISOString() ?? null,
        resetsAt: status.resetsAt?.toISOString() ?? null,
        windowId: status.windowId,
      })
    } catch (error) {
      // A budget deleted between the listing and the read is skipped; store failures fail the request.
      if (!isBudgetError(error) || error.code !== 'INVALID_INPUT') throw error
    }
  }
  budgets.sort((a, b) => (b.percentUsed ?? -1) - (a.percentUsed ?? -1) || (a.scope < b.scope ? -1 : 1))

  const byDay = groups(records, 'day', false)
  // Every day of the range, with zero for days without calls, so the chart's x axis is time.
  const filled: DashboardGroup[] = []
  for (let t = from; t <= now; t += dayMs) {
    const day = new Date(t).toISOString().slice(0, 10)
    filled.push(byDay.find((g) => g.key === day) ?? { key: day, cost: '0', calls: 0 })
  }

  return {
    generatedAt: new Date(now).toISOString(),
    from: new Date(from).toISOString(),
    days,
    total: {
      cost: totals.exact.cost,
      calls: totals.calls,
      inputTokens: totals.inputTokens,
      outputTokens: totals.outputTokens,
    },
    budgets,
    budgetsOmitted: Math.max(0, stored.length - MAX_BUDGETS),
    byDay: filled,
    byModel: groups(records, 'model', true),
    byUser: groups(records, 'user', true),
    byTeam: groups(records, 'team', true),
    recent: records.slice(-RECENT_CALLS).reverse().map(recentCall),
  }
}
