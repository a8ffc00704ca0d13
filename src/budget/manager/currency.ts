/**
 * Budgets in another currency inside the manager: before a call is planned, the exchange rate of each such budget's
 * window is known (pinned once per window through the store, see `currency-pins.ts`) and its limits are compiled at
 * that rate; the plan carries the rates for the spend record, and errors and events name the currency. Internal to
 * the manager.
 *
 * @packageDocumentation
 */
import type { CallContext } from '../scopes.js'
import type { CompiledBudget, Plan } from './compiled.js'
import type { ManagerContext } from './context.js'
import { plan as planCall } from './plan.js'

/**
 * Makes sure the rate of each budget's window at `now` is pinned. `undefined` when nothing needs the store (USD
 * budgets, or a window whose rate is known): the hot path does not wait.
 *
 * @throws BudgetConfigError when a rate is missing or bad or the rate function fails (nothing reserved).
 */
export function ensureRates(
  ctx: ManagerContext,
  budgets: readonly (CompiledBudget | null)[],
  now: number,
): Promise<void> | undefined {
  return ctx.currency.ensure(budgets, now)
}

/**
 * The plan of a call with each budget in another currency compiled at its window's pinned rate (call
 * {@link ensureRates} first). Synchronous, so the limits and the plan belong to the same window.
 */
export function planAtRates(
  ctx: ManagerContext,
  budgets: readonly (CompiledBudget | null)[],
  context: CallContext,
  amountNano: number,
  tokens: number,
  now: number,
): Plan {
  ctx.currency.apply(budgets, now)
  const plan = planCall(budgets, context, amountNano, tokens, now, ctx.holdTtlMs)
  const rates = ctx.currency.recordFields(budgets)
  if (rates !== undefined) plan.rates = rates
  return plan
}

/** The currency and pinned rate of a budget in another currency, for errors and events (`{}` for USD). */
export function currencyOf(budget: CompiledBudget): { currency?: string; rate?: number } {
  const state = budget.currency
  return state === null || state.pin === null ? {} : { currency: state.code, rate: state.pin.rate }
}
