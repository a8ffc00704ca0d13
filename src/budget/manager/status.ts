/**
 * Status: a scope's spend, holds, limit, remaining amount and forecast in its current window, read from the store.
 * Internal to the manager.
 *
 * @packageDocumentation
 */
import { InvalidInputError } from '../../errors.js'
import { burstStatuses, burstWindows } from '../burst.js'
import { forecastWindow } from '../forecast.js'
import type { BudgetStatus } from '../manager-types.js'
import { statusMoney } from '../currency-pins.js'
import { formatNano } from '../money.js'
import { type ScopeInput, parseScope, scopeKey } from '../scopes.js'
import { storeCall } from '../store-errors.js'
import { limitNano, mainKey, mainWindow, prefixOf } from './budget-windows.js'
import type { CompiledBudget } from './compiled.js'
import type { ManagerContext } from './context.js'
import { scopeOf, toDate } from './event-fields.js'

/** `manager.getStatus()`. @throws InvalidInputError when the scope has no budget (stored or default). */
export async function getStatus(ctx: ManagerContext, scope: ScopeInput): Promise<BudgetStatus> {
  const parsed = parseScope(scope)
  const scopeString = scopeKey(parsed)
  // The `providerBudgets` option is written before the first use, and before the call's time is taken.
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  const now = ctx.clock.now()
  const stored = await storeCall(ctx.store.name, () => ctx.store.getBudget(scopeString))
  const budget = ctx.policies.fromStored(parsed, scopeString, stored)
  if (budget === null)
    throw new InvalidInputError(
      'scope',
      `${scopeString} has no budget; create one with setBudget('${scopeString.slice(0, 60)}', { maxBudget, duration })`,
    )
  return statusOf(ctx, budget, now)
}

async function statusOf(ctx: ManagerContext, budget: CompiledBudget, now: number): Promise<BudgetStatus> {
  // A budget in another currency answers at the rate pinned for its window (pinned now if no call did yet).
  const pinning = ctx.currency.ensure([budget], now)
  if (pinning !== undefined) await pinning
  ctx.currency.apply([budget], now)
  const window = mainWindow(budget, now)
  const key = mainKey(budget)
  const bursts = burstWindows(budget, prefixOf(budget), budget.policy.bursts, now)
  const [balance, ...burstBalances] = await storeCall(ctx.store.name, () =>
    ctx.store.balances({ keys: bursts.length === 0 ? [key] : [key, ...bursts.map((b) => b.key)], now }),
  )
  const spent = balance?.spent ?? 0
  const reserved = balance?.reserved ?? 0
  const limit = limitNano(budget, now)
  const remaining = limit === null ? null : Math.max(0, limit - spent - reserved)
  const forecast = forecastWindow({
    start: window?.start ?? null,
    end: window?.end ?? null,
    now,
    spentNano: spent,
    reservedNano: reserved,
    limitNano: limit,
  })
  return {
    scope: scopeOf(budget.scopeString),
    // Amounts in the budget's currency, with the USD alongside.
    ...statusMoney(budget.currency, { spent, reserved, limit, remaining, projected: forecast.projectedNano }),
    percentUsed: limit === null ? null : limit === 0 ? (spent > 0 ? 100 : 0) : (spent / limit) * 100,
    windowStart: toDate(window?.start),
    resetsAt: toDate(window?.end),
    windowId: window === null ? 'all' : window.id,
    isDefault: budget.isDefault,
    ...(bursts.length === 0 ? {} : { bursts: burstStatuses(bursts, burstBalances) }),
    exhaustsAt: toDate(forecast.exhaustsAt),
    exact: {
      spend: formatNano(spent),
      reserved: formatNano(reserved),
      limit: limit === null ? null : formatNano(limit),
      remaining: remaining === null ? null : formatNano(remaining),
      projectedSpend: formatNano(forecast.projectedNano),
    },
  }
}
