/**
 * Runaway protection in a call's plan: one entry per burst window of a budget (`burst.ts`), and one per run budget
 * the call is made in, innermost first (`run.ts`). They are ordinary entries of the one atomic reservation, so every
 * store enforces them with the scopes' keys. Internal to the manager.
 *
 * @packageDocumentation
 */
import type { ReserveEntry } from '../../stores/types.js'
import { burstWindows } from '../burst.js'
import type { RunLedger } from '../run.js'
import type { ScopeString } from '../scopes.js'
import type { BudgetPolicy, CompiledBudget, EntryMeta } from './compiled.js'
import { prefixOf } from './budget-windows.js'

/** Adds an entry per burst window of `budget` at `now` (limit enforced unless the budget only warns). */
export function appendBurstEntries(
  budget: CompiledBudget,
  amountNano: number,
  now: number,
  grace: number,
  entries: ReserveEntry[],
  meta: EntryMeta[],
): void {
  const block = budget.policy.onExceeded !== 'warn'
  for (const burst of burstWindows(budget, prefixOf(budget), budget.policy.bursts, now)) {
    const limit = block ? burst.policy.limitNano : null
    const expiresAt = burst.window.end + grace
    entries.push({ key: burst.key, amount: amountNano, limit, expiresAt })
    meta.push({
      budget,
      kind: 'burst',
      burst: burst.policy,
      window: burst.window,
      windowLabel: burst.policy.label,
      limit,
      softLimit: burst.policy.limitNano,
      key: burst.key,
      expiresAt,
    })
  }
}

/** The policy of a run budget: no window, no thresholds, blocks (its limit is the run's). */
const RUN_POLICY: BudgetPolicy = {
  baseLimitNano: null,
  increases: [],
  spec: null,
  label: 'none',
  softNano: null,
  thresholds: [],
  models: new Map(),
  rpm: null,
  tpm: null,
  parallel: null,
  onExceeded: 'block',
  bursts: [],
}

/** The budget each run is seen as in refusals and events: `run:<name>`, without a window. */
const runBudgets = new WeakMap<RunLedger, CompiledBudget>()

function runBudget(run: RunLedger): CompiledBudget {
  let budget = runBudgets.get(run)
  if (budget === undefined) {
    budget = {
      fetchedAt: 0,
      // `run:<name>` is no stored scope; only refusals, `budget.exceeded` and `budget.overshot` carry it, whose
      // `scope` types say so (`RunScopeString`).
      scopeString: run.scopeString as unknown as ScopeString,
      prefix: run.key,
      revision: 0,
      isDefault: false,
      policy: { ...RUN_POLICY, baseLimitNano: run.limitNano },
      current: null,
      usdKey: run.key,
      usdMeta: null,
      windows: null,
      currency: null,
    }
    runBudgets.set(run, budget)
  }
  return budget
}

/** Adds an entry per run in `runs` (the call's run and its ancestors); each key expires `ttlMs` after this call. */
export function appendRunEntries(
  runs: readonly RunLedger[],
  amountNano: number,
  now: number,
  entries: ReserveEntry[],
  meta: EntryMeta[],
): void {
  for (const run of runs) {
    const expiresAt = now + run.ttlMs
    entries.push({ key: run.key, amount: amountNano, limit: run.limitNano, expiresAt })
    meta.push({
      budget: runBudget(run),
      kind: 'run',
      window: null,
      windowLabel: 'none',
      limit: run.limitNano,
      softLimit: run.limitNano,
      key: run.key,
      expiresAt,
    })
  }
}
