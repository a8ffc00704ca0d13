/**
 * The plan of a context resolved once (withBudget's static contexts), kept and reused for every call that would
 * build the same plan: the same compiled budgets (a budget written, deleted or reloaded is a new object), the same
 * amounts, no run budget, and an instant inside every window the plan was built for and before any increase it
 * counted expires. Only plans made of period (`usd`) entries are kept; per-model, burst, rate, parallel, run and
 * other-currency entries depend on more than that and are planned on every call. Internal to the manager.
 *
 * @packageDocumentation
 */
import { runChain } from '../run.js'
import type { ResolvedContext } from '../scopes.js'
import type { CompiledBudget, Plan } from './compiled.js'
import type { ManagerContext } from './context.js'
import { planAtRates } from './currency.js'

/** A kept plan and what it is the plan of. */
interface PlanMemo {
  ctx: ManagerContext
  budgets: readonly (CompiledBudget | null)[]
  amountNano: number
  tokens: number
  /** The plan is the plan of every instant in `[from, until)`. */
  from: number
  until: number
  plan: Plan
}

function sameBudgets(a: readonly (CompiledBudget | null)[], b: readonly (CompiledBudget | null)[]): boolean {
  if (a === b) return true
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** The memo of a plan just built at `now`, or `undefined` when it is not one that can be reused. */
function memoOf(
  ctx: ManagerContext,
  budgets: readonly (CompiledBudget | null)[],
  plan: Plan,
  amountNano: number,
  tokens: number,
  now: number,
): PlanMemo | undefined {
  if (plan.rates !== undefined) return undefined
  let from = Number.NEGATIVE_INFINITY
  let until = Number.POSITIVE_INFINITY
  for (let i = 0; i < plan.meta.length; i++) {
    const meta = plan.meta[i]!
    if (meta.kind !== 'usd' || meta.budget.currency !== null) return undefined
    const window = meta.window
    if (window !== null) {
      if (window.start > from) from = window.start
      if (window.end < until) until = window.end
    }
    // The limit counts the increases live at `now`: the plan holds until the first of them expires.
    const increases = meta.budget.policy.increases
    for (let j = 0; j < increases.length; j++) {
      const end = increases[j]!.until
      if (end > now && end < until) until = end
    }
  }
  if (!(from <= now && now < until)) return undefined
  return { ctx, budgets, amountNano, tokens, from, until, plan }
}

/** The budgets the plan kept in `holder` was made with, when it keeps one. */
export function keptBudgets(holder: ResolvedContext | undefined): readonly (CompiledBudget | null)[] | undefined {
  return (holder?.plan as PlanMemo | undefined)?.budgets
}

/**
 * The plan of a call in the context `holder` resolved (its `context`, not a variant of it): the kept one when it is
 * still the plan, else a new one (kept when it can be reused). The same as `planAtRates` would build.
 */
export function memoPlan(
  ctx: ManagerContext,
  holder: ResolvedContext,
  budgets: readonly (CompiledBudget | null)[],
  amountNano: number,
  tokens: number,
  now: number,
): Plan {
  const memo = holder.plan as PlanMemo | undefined
  if (
    memo !== undefined &&
    memo.ctx === ctx &&
    now >= memo.from &&
    now < memo.until &&
    memo.amountNano === amountNano &&
    memo.tokens === tokens &&
    sameBudgets(memo.budgets, budgets) &&
    runChain(holder.context, ctx.store).length === 0
  )
    return memo.plan
  const plan = planAtRates(ctx, budgets, holder.context, amountNano, tokens, now)
  holder.plan = memoOf(ctx, budgets, plan, amountNano, tokens, now)
  return plan
}
