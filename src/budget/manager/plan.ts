/**
 * Planning: which ledger keys a call touches. One entry per applicable budget, window and unit (the budget's `usd`
 * key, a per-model limit, rpm/tpm in the current minute, parallel requests), each with its limit and expiry.
 * Internal to the manager.
 *
 * @packageDocumentation
 */
import { ledgerKey } from '../../stores/ledger/keys.js'
import type { BudgetStore, ReserveEntry } from '../../stores/types.js'
import { runChain } from '../run.js'
import type { CallContext } from '../scopes.js'
import type { WindowSpec } from '../windows.js'
import {
  KEY_GRACE_MS,
  RATE_WINDOW,
  currentWindow,
  keyOf,
  limitNano,
  mainWindow,
  prefixOf,
  usdMeta,
  windowOf,
} from './budget-windows.js'
import type { CompiledBudget, EntryMeta, Plan } from './compiled.js'
import { appendBurstEntries, appendRunEntries } from './runaway-plan.js'

const MINUTE_SPEC: WindowSpec = { duration: '1m' }

/**
 * Builds the ledger entries of a call: one per applicable budget, window and unit, then one per run budget the call
 * is made in (`store` is the manager's: runs count on the store that started them).
 */
export function plan(
  budgets: readonly (CompiledBudget | null)[],
  context: CallContext,
  amountNano: number,
  tokens: number,
  now: number,
  holdTtlMs: number,
  store: BudgetStore,
): Plan {
  const entries: ReserveEntry[] = []
  const meta: EntryMeta[] = []
  const grace = holdTtlMs + KEY_GRACE_MS
  for (let b = 0; b < budgets.length; b++) {
    const budget = budgets[b]
    if (budget === null || budget === undefined) continue
    const policy = budget.policy
    const window = mainWindow(budget, now)
    const usd = usdMeta(budget, window, limitNano(budget, now), grace)
    entries.push({ key: usd.key, amount: amountNano, limit: usd.limit, expiresAt: usd.expiresAt })
    meta.push(usd)
    const block = policy.onExceeded !== 'warn'
    if (context.model !== undefined && policy.models.size > 0) {
      const modelLimit = policy.models.get(context.model)
      if (modelLimit !== undefined) {
        const state = windowOf(budget, modelLimit.model, modelLimit.spec)
        const mw = currentWindow(state, now)
        const key = keyOf(state, 'usd')
        const mExpires = mw === null ? null : mw.end + grace
        entries.push({ key, amount: amountNano, limit: block ? modelLimit.limitNano : null, expiresAt: mExpires })
        meta.push({
          budget,
          kind: 'model',
          model: modelLimit,
          window: mw,
          windowLabel: modelLimit.label,
          limit: block ? modelLimit.limitNano : null,
          softLimit: modelLimit.limitNano,
          key,
          expiresAt: mExpires,
        })
      }
    }
    if (policy.bursts.length > 0) appendBurstEntries(budget, amountNano, now, grace, entries, meta)
    if (policy.rpm !== null || policy.tpm !== null) {
      const rate = windowOf(budget, RATE_WINDOW, MINUTE_SPEC)
      const minute = currentWindow(rate, now)!
      const rateExpires = minute.end + grace
      if (policy.rpm !== null) {
        const key = keyOf(rate, 'req')
        entries.push({ key, amount: 1, limit: policy.rpm, expiresAt: rateExpires })
        meta.push({
          budget,
          kind: 'rpm',
          window: minute,
          windowLabel: '1m',
          limit: policy.rpm,
          softLimit: policy.rpm,
          key,
          expiresAt: rateExpires,
        })
      }
      if (policy.tpm !== null) {
        const key = keyOf(rate, 'tok')
        entries.push({ key, amount: tokens, limit: policy.tpm, expiresAt: rateExpires })
        meta.push({
          budget,
          kind: 'tpm',
          window: minute,
          windowLabel: '1m',
          limit: policy.tpm,
          softLimit: policy.tpm,
          key,
          expiresAt: rateExpires,
        })
      }
    }
    if (policy.parallel !== null) {
      const key = ledgerKey(prefixOf(budget), 'all', 'par')
      const parExpires = now + holdTtlMs + grace
      entries.push({ key, amount: 1, limit: policy.parallel, expiresAt: parExpires })
      meta.push({
        budget,
        kind: 'par',
        window: null,
        windowLabel: 'none',
        limit: policy.parallel,
        softLimit: policy.parallel,
        key,
        expiresAt: parExpires,
      })
    }
  }
  appendRunEntries(runChain(context, store), amountNano, now, entries, meta)
  return { entries, meta }
}
