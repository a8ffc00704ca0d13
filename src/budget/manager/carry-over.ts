/**
 * Carry-over: a budget whose window began before it was written counts the spend recorded earlier in that window.
 * Internal to the manager.
 *
 * @packageDocumentation
 */
import type { StoredBudget } from '../../stores/types.js'
import { type StoredDefinition, fromStoredJson } from '../definition.js'
import { type Scope, scopeKey } from '../scopes.js'
import { storeCall } from '../store-errors.js'
import { KEY_GRACE_MS, mainKey, mainWindow } from './budget-windows.js'
import type { ManagerContext } from './context.js'
import { spendRecords } from './spend-queries.js'

/**
 * A budget whose window began before it was written (a calendar budget created mid-month, a changed duration)
 * counts the spend recorded earlier in that window: the scope's records from the window's start (or its last
 * reset) to the write are added to the new window's key once. Calls admitted before the budget existed and
 * committed after the write are not in either and are not counted in this window (at most the calls in flight).
 */
export async function carryOver(
  ctx: ManagerContext,
  scope: Scope,
  previous: StoredDefinition | null,
  stored: StoredBudget,
): Promise<void> {
  const scopeString = scopeKey(scope)
  const budget = ctx.policies.compile(
    scope,
    scopeString,
    fromStoredJson(stored.definition, stored.createdAt),
    stored.revision,
    false,
  )
  const now = ctx.clock.now()
  const window = mainWindow(budget, now)
  // Without a window the budget counts on the scope's all-time key, which already holds its spend.
  if (window === null || window.start >= stored.updatedAt) return
  const key = mainKey(budget)
  if (previous !== null) {
    const before = ctx.policies.compile(scope, scopeString, previous, 0, false)
    mainWindow(before, now)
    if (mainKey(before) === key) return
  }
  const reset = await lastReset(ctx, scopeString)
  const from = Math.max(window.start, reset ?? window.start)
  // Up to and including the write's millisecond: a call admitted after the write and recorded within that same
  // millisecond would count twice, which needs a call shorter than a millisecond racing the write.
  const records = await spendRecords(ctx, { from, to: stored.updatedAt + 1, scope })
  let amount = 0
  for (const record of records) if (typeof record['costNanoUsd'] === 'number') amount += record['costNanoUsd']
  if (amount === 0) return
  const callId = `carry-${stored.revision}-${ctx.nextCallId()}`
  const expiresAt = window.end + ctx.holdTtlMs + KEY_GRACE_MS
  await storeCall(ctx.store.name, () =>
    ctx.store.commit({ callId, now, entries: [{ key, amount, expiresAt }], dedupeUntil: now + ctx.dedupeTtlMs }),
  )
}

/** When the scope's spend was last reset (`resetScope`, `resetCost`), epoch ms, or `null`. */
async function lastReset(ctx: ManagerContext, scopeString: string): Promise<number | null> {
  const history = await storeCall(ctx.store.name, () => ctx.store.getHistory(scopeString))
  for (let i = history.length - 1; i >= 0; i--) if (history[i]!.action === 'reset') return history[i]!.at
  return null
}
