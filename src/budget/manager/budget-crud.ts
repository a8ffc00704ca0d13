/**
 * Budget CRUD: set, get, delete, increase, history and reset of a scope's budget. Every write is a compare-and-set
 * on the budget's revision, retried when another writer got there first, with a history entry and the cache entry
 * invalidated. Internal to the manager.
 *
 * @packageDocumentation
 */
import { InvalidInputError, StorageError } from '../../errors.js'
import type { HistoryEntry, JsonValue, StoredBudget } from '../../stores/types.js'
import {
  type BudgetDefinition,
  type StoredDefinition,
  fromStoredJson,
  limitWithIncreases,
  toStoredJson,
  validateDefinition,
} from '../definition.js'
import { burstWindows } from '../burst.js'
import type { BudgetInfo, IncreaseInput } from '../manager-types.js'
import { usdInputToNano, usdToNano } from '../money.js'
import { type Scope, type ScopeInput, parseScope, scopeKey } from '../scopes.js'
import { storeCall } from '../store-errors.js'
import { trackedKey } from '../tracked-spend.js'
import { currentWindow, keyOf, mainKey, mainWindow, prefixOf, windowOf } from './budget-windows.js'
import { carryOver } from './carry-over.js'
import type { ManagerContext } from './context.js'

const MAX_OPTIMISTIC_RETRIES = 8

/** Writes a scope's budget as `change` decides from the current one, retrying on a concurrent write. */
async function writeBudget(
  ctx: ManagerContext,
  scopeInput: ScopeInput,
  change: (
    current: StoredDefinition | null,
    now: number,
  ) => { next: StoredDefinition | null; action: HistoryEntry['action'] },
  reason: string | null,
): Promise<StoredBudget | null> {
  const scope = parseScope(scopeInput)
  const scopeString = scopeKey(scope)
  const store = ctx.store
  if (reason !== null && (typeof reason !== 'string' || reason.length > 1000))
    throw new InvalidInputError('reason', '`reason` must be a string of at most 1000 characters')
  for (let attempt = 0; attempt < MAX_OPTIMISTIC_RETRIES; attempt++) {
    const now = ctx.clock.now()
    const current = await storeCall(store.name, () => store.getBudget(scopeString))
    const currentDefinition = current === null ? null : fromStoredJson(current.definition, current.createdAt)
    const { next, action } = change(currentDefinition, now)
    if (next === null && current === null && action !== 'reset') return null
    const history: HistoryEntry = {
      scope: scopeString,
      action,
      at: now,
      old: currentDefinition === null ? null : (currentDefinition.definition as unknown as JsonValue),
      new: next === null ? null : (next.definition as unknown as JsonValue),
      reason,
    }
    if (action === 'increase' && next !== null) {
      const added = next.increases.at(-1)
      if (added !== undefined)
        history.new = {
          ...(next.definition as unknown as Record<string, JsonValue>),
          increase: added as unknown as JsonValue,
        }
    }
    const result = await storeCall(store.name, () =>
      store.putBudget({
        scope: scopeString,
        definition: next === null ? null : toStoredJson(next),
        history,
        now,
        ifRevision: current?.revision ?? 0,
      }),
    )
    if (result.ok) {
      ctx.budgets.invalidate(scopeString)
      ctx.events.emit('budget.changed', { scope: scopeString, action, reason })
      return result.budget
    }
  }
  throw new StorageError(store.name, `budget ${scopeString} kept changing concurrently; try again`, {
    retryable: true,
  })
}

/** A stored budget as `BudgetInfo` (increases that have expired left out). */
function info(ctx: ManagerContext, scope: Scope, stored: StoredBudget): BudgetInfo {
  const parsed = fromStoredJson(stored.definition, stored.createdAt)
  const now = ctx.clock.now()
  return {
    scope,
    definition: parsed.definition,
    increases: parsed.increases.filter((inc) => inc.until > now),
    revision: stored.revision,
    createdAt: new Date(stored.createdAt),
    updatedAt: new Date(stored.updatedAt),
  }
}

/**
 * `manager.setBudget()`. The `providerBudgets` option is applied first, so that a budget the application sets on a
 * provider scope before its first call is never overwritten by the option afterwards.
 */
export async function setBudget(
  ctx: ManagerContext,
  scope: ScopeInput,
  definition: BudgetDefinition,
  options: { reason?: string },
): Promise<BudgetInfo> {
  const parsedScope = parseScope(scope)
  const validated = validateDefinition(definition)
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  return putDefinition(ctx, parsedScope, validated, options)
}

/**
 * `setBudget` of a definition `validateDefinition` returned, without waiting for the `providerBudgets` option: what
 * applying that option writes with.
 */
export async function putDefinition(
  ctx: ManagerContext,
  parsedScope: Scope,
  validated: BudgetDefinition,
  options: { reason?: string },
): Promise<BudgetInfo> {
  // Compile once to refuse limits that cannot be held (e.g. a per-model limit above the maximum).
  ctx.policies.compile(
    parsedScope,
    scopeKey(parsedScope),
    { definition: validated, anchor: 0, increases: [] },
    0,
    false,
  )
  // A budget in another currency: the rate of its current window, read before anything is written (no rate, or a
  // failing rate function: nothing changes), pinned in the same write.
  const fresh = await ctx.currency.rateForWrite(validated, ctx.clock.now())
  let previous: StoredDefinition | null = null
  const stored = await writeBudget(
    ctx,
    parsedScope,
    (current, now) => {
      previous = current
      const next: StoredDefinition = {
        definition: validated,
        anchor: current?.anchor ?? now,
        increases: (current?.increases ?? []).filter((inc) => inc.until > now),
      }
      return {
        next: ctx.currency.pinsForWrite(current, next, fresh, now),
        action: current === null ? 'create' : 'update',
      }
    },
    options.reason ?? null,
  )
  await carryOver(ctx, parsedScope, previous, stored!)
  return info(ctx, parsedScope, stored!)
}

/** `manager.getBudget()`: read from the store, not the cache. */
export async function getBudget(ctx: ManagerContext, scope: ScopeInput): Promise<BudgetInfo | null> {
  const parsed = parseScope(scope)
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  const stored = await storeCall(ctx.store.name, () => ctx.store.getBudget(scopeKey(parsed)))
  return stored === null ? null : info(ctx, parsed, stored)
}

/** `manager.deleteBudget()`: false when there was none. */
export async function deleteBudget(
  ctx: ManagerContext,
  scope: ScopeInput,
  options: { reason?: string },
): Promise<boolean> {
  parseScope(scope)
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  let existed = false
  await writeBudget(
    ctx,
    scope,
    (current) => {
      existed = current !== null
      return { next: null, action: 'delete' }
    },
    options.reason ?? null,
  )
  return existed
}

/** `manager.increaseBudget()`. */
export async function increaseBudget(
  ctx: ManagerContext,
  scope: ScopeInput,
  increase: IncreaseInput,
): Promise<BudgetInfo> {
  const parsed = parseScope(scope)
  if (typeof increase !== 'object' || increase === null)
    throw new InvalidInputError('increase', '`increaseBudget` takes `{ amount, until, reason? }`')
  const amountNano = usdInputToNano(increase.amount, 'amount')
  if (amountNano === 0) throw new InvalidInputError('amount', '`amount` must be greater than 0')
  const until = increase.until instanceof Date ? increase.until.getTime() : increase.until
  if (typeof until !== 'number' || !Number.isFinite(until))
    throw new InvalidInputError('until', '`until` must be a Date or epoch milliseconds')
  if (until <= ctx.clock.now()) throw new InvalidInputError('until', '`until` must be in the future')
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  const stored = await writeBudget(
    ctx,
    parsed,
    (current, now) => {
      if (current === null || current.definition.maxBudget === undefined) {
        throw new InvalidInputError(
          'scope',
          `${scopeKey(parsed)} has no budget with a \`maxBudget\` to increase; create one with setBudget()`,
        )
      }
      const increases = [
        ...current.increases.filter((inc) => inc.until > now),
        { amount: increase.amount, until, reason: increase.reason ?? null, at: now },
      ]
      limitWithIncreases(
        usdToNano(current.definition.maxBudget, 'maxBudget'),
        increases.map((inc) => ({ amountNano: usdToNano(inc.amount, 'amount') })),
      )
      return { next: { ...current, increases }, action: 'increase' }
    },
    increase.reason ?? null,
  )
  return info(ctx, parsed, stored!)
}

/** `manager.getHistory()`: oldest first. */
export async function getHistory(ctx: ManagerContext, scope: ScopeInput): Promise<HistoryEntry[]> {
  const parsed = parseScope(scope)
  return storeCall(ctx.store.name, () => ctx.store.getHistory(scopeKey(parsed)))
}

/** `manager.resetScope()`: the scope's spend (window, per-model and all-time) set to zero, with a history entry. */
export async function resetScope(ctx: ManagerContext, scope: ScopeInput, options: { reason?: string }): Promise<void> {
  const parsed = parseScope(scope)
  const scopeString = scopeKey(parsed)
  if (ctx.providerBudgets !== undefined) await ctx.providerBudgets.ready()
  const now = ctx.clock.now()
  const stored = await storeCall(ctx.store.name, () => ctx.store.getBudget(scopeString))
  const budget = ctx.policies.fromStored(parsed, scopeString, stored)
  const keys: string[] = parsed.type === 'global' ? [] : [trackedKey(parsed)]
  if (budget !== null) {
    mainWindow(budget, now)
    keys.push(mainKey(budget))
    for (const model of budget.policy.models.values()) {
      const state = windowOf(budget, model.model, model.spec)
      currentWindow(state, now)
      keys.push(keyOf(state, 'usd'))
    }
    for (const burst of burstWindows(budget, prefixOf(budget), budget.policy.bursts, now)) keys.push(burst.key)
  }
  const unique = [...new Set(keys)]
  if (unique.length > 0) await storeCall(ctx.store.name, () => ctx.store.reset({ keys: unique, now }))
  await writeBudget(ctx, parsed, (current) => ({ next: current, action: 'reset' }), options.reason ?? null)
}
