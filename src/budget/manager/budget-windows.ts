/**
 * The current windows of a compiled budget and their ledger keys, built once per window rather than once per call,
 * and the budget's limit at a time (with its live increases). Internal to the manager.
 *
 * @packageDocumentation
 */
import { type LedgerUnit, ledgerKey, modelPrefix, scopePrefix } from '../../stores/ledger/keys.js'
import type { ScopeType } from '../scopes.js'
import { limitWithIncreases } from '../definition.js'
import { type BudgetWindow, type WindowSpec, windowAt } from '../windows.js'
import type { CompiledBudget, CompiledWindow, EntryMeta } from './compiled.js'

/** How long a ledger key outlives its window and the holds in it. */
export const KEY_GRACE_MS = 60_000

/** The cache key of the rate-limit window in {@link CompiledBudget.windows} (model names are never empty). */
export const RATE_WINDOW = ''

/** The budget's current window (null for a budget without a window); a new window drops the keys built for the last one. */
export function mainWindow(budget: CompiledBudget, now: number): BudgetWindow | null {
  const spec = budget.policy.spec
  if (spec === null) return null
  const current = budget.current
  if (current !== null && now >= current.start && now < current.end) return current
  const next = windowAt(spec, now)
  if (next !== current) {
    budget.usdKey = null
    budget.usdMeta = null
  }
  budget.current = next
  return next
}

/** The key prefix of the budget's scope, built from its canonical scope string (`type:id`). */
function buildPrefix(budget: CompiledBudget): string {
  const text = budget.scopeString
  const colon = text.indexOf(':')
  return scopePrefix({ type: text.slice(0, colon) as ScopeType, id: text.slice(colon + 1) })
}

/** The key prefix of the budget's scope (`u:alice`), built on first use and kept. */
export function prefixOf(budget: CompiledBudget): string {
  return (budget.prefix ??= buildPrefix(budget))
}

/** The `usd` ledger key of the budget's current window (call `mainWindow` first), built once per window. */
export function mainKey(budget: CompiledBudget): string {
  let key = budget.usdKey
  if (key === null) {
    // The prefix is not kept for this key alone (built once per window): most budgets need no other.
    key = ledgerKey(budget.prefix ?? buildPrefix(budget), budget.current === null ? 'all' : budget.current.id, 'usd')
    budget.usdKey = key
  }
  return key
}

/** The per-scope window of a per-model limit (by model) or of the rate limits (`RATE_WINDOW`). */
export function windowOf(budget: CompiledBudget, name: string, spec: WindowSpec | null): CompiledWindow {
  let windows = budget.windows
  if (windows === null) {
    windows = new Map()
    budget.windows = windows
  }
  let window = windows.get(name)
  if (window === undefined) {
    window = {
      spec,
      current: null,
      prefix: name === RATE_WINDOW ? prefixOf(budget) : modelPrefix(prefixOf(budget), name),
      keys: {},
    }
    windows.set(name, window)
  }
  return window
}

/** The current instance of a per-model or rate window; a new instance drops the keys built for the last one. */
export function currentWindow(window: CompiledWindow, now: number): BudgetWindow | null {
  if (window.spec === null) return null
  const current = window.current
  if (current !== null && now >= current.start && now < current.end) return current
  const next = windowAt(window.spec, now)
  if (next !== current) window.keys = {}
  window.current = next
  return next
}

/** The ledger key of a window's current instance (call `currentWindow` first) and a unit, built once. */
export function keyOf(window: CompiledWindow, unit: LedgerUnit): string {
  let key = window.keys[unit]
  if (key === undefined) {
    key = ledgerKey(window.prefix, window.current === null ? 'all' : window.current.id, unit)
    window.keys[unit] = key
  }
  return key
}

/** The budget's limit at `now` in nano-USD (its live increases added), or `null` without a `maxBudget`. */
export function limitNano(budget: CompiledBudget, now: number): number | null {
  const policy = budget.policy
  if (policy.baseLimitNano === null) return null
  if (policy.increases.length === 0) return policy.baseLimitNano
  return limitWithIncreases(
    policy.baseLimitNano,
    policy.increases.filter((inc) => inc.until > now),
  )
}

/**
 * The `usd` entry meta of a budget in its current window at `limit`. The same for every call in the window,
 * so it is kept from the second call on (a scope called once keeps nothing more).
 */
export function usdMeta(
  budget: CompiledBudget,
  window: BudgetWindow | null,
  limit: number | null,
  grace: number,
): EntryMeta {
  const hadKey = budget.usdKey !== null
  const key = mainKey(budget)
  const admission = budget.policy.onExceeded !== 'warn' ? limit : null
  const cached = budget.usdMeta
  if (cached !== null && cached.window === window && cached.softLimit === limit && cached.limit === admission)
    return cached
  const meta: EntryMeta = {
    budget,
    kind: 'usd',
    window,
    windowLabel: budget.policy.label,
    limit: admission,
    softLimit: limit,
    key,
    expiresAt: window === null ? null : window.end + grace,
  }
  if (hadKey) budget.usdMeta = meta
  return meta
}
