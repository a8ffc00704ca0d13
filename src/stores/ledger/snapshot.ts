/**
 * Snapshots of the ledger for durable stores: the state as JSON, deterministic for a given state, and back.
 *
 * @internal Used by the file store.
 * @packageDocumentation
 */
import type { HistoryEntry, JsonValue, StoredBudget } from '../types.js'
import { addHistory, allHistory, budgetSlot, listBudgets } from './definitions.js'
import { heapPush } from './heap.js'
import { committedUntil, createLedger, finish, keepCall } from './state.js'
import type { CallState, LedgerState } from './state.js'
import { checkRecord, fail } from './validation.js'
import { type LedgerOptions, restoreRollups } from './retention.js'

/**
 * Held calls, then committed and released call ids (each in the order of the call map, then those of a manager's
 * form kept without a map entry, see `manager-calls.ts`).
 */
function callLists(state: LedgerState): { held: JsonValue[]; finished: JsonValue[] } {
  const held: JsonValue[] = []
  const committed: JsonValue[] = []
  const released: JsonValue[] = []
  // `until`: the instant a committed call is remembered until
  const add = (callId: string, call: CallState, until: number): void => {
    if (typeof call === 'number') committed.push([callId, until, true])
    else if (call.keys === null) released.push([callId, call.holdExpiresAt, false])
    // Copies: a held call's arrays may be shared with other held calls (see `holdOf` in `ledger.ts`).
    else held.push([callId, [...call.keys], [...call.amounts], call.holdExpiresAt])
  }
  for (const [callId, call] of state.calls)
    add(callId, call, typeof call === 'number' ? committedUntil(state, callId, call) : 0)
  for (const [callId, call] of state.managerCalls.entries()) add(callId, call, typeof call === 'number' ? call : 0)
  return { held, finished: [...committed, ...released] }
}

/** The ledger as JSON, for snapshots. Deterministic for a given state. */
export function snapshotLedger(state: LedgerState): JsonValue {
  return {
    version: 2,
    lastSweepAt: Number.isFinite(state.lastSweepAt) ? state.lastSweepAt : null,
    keys: [...state.keys].map(([key, ks]) => [key, ks.spent, ks.expiresAt]),
    ...callLists(state),
    budgets: listBudgets(state) as unknown as JsonValue,
    history: allHistory(state) as unknown as JsonValue,
    records: state.records.toArray() as unknown as JsonValue,
    rollups: [...state.rollups.rows()] as unknown as JsonValue,
    recordsFrom: state.recordsFrom,
    rollupsFrom: state.rollupsFrom,
  }
}

/** Rebuild a ledger from {@link snapshotLedger} output. Throws `InvalidInputError` on a malformed snapshot. */
export function restoreLedger(snapshot: JsonValue, options: LedgerOptions = {}): LedgerState {
  const s = snapshot as Record<string, unknown>
  if (typeof s !== 'object' || s === null || s.version !== 2) fail('snapshot', 'not a ledger snapshot of version 2')
  const state = createLedger(options)
  state.lastSweepAt = typeof s.lastSweepAt === 'number' ? s.lastSweepAt : Number.NEGATIVE_INFINITY
  for (const [key, spent, expiresAt] of s.keys as [string, number, number | null][]) {
    state.keys.set(key, { spent, reserved: 0, holdCount: 0, expiresAt })
  }
  for (const [callId, keys, amounts, holdExpiresAt] of s.held as [string, string[], number[], number][]) {
    keepCall(state, callId, { keys, amounts, holdExpiresAt })
    state.heldCount++
    heapPush(state.holdExpiries, holdExpiresAt, callId)
    for (let i = 0; i < keys.length; i++) {
      const ks = state.keys.get(keys[i]!)
      if (ks === undefined) fail('snapshot', `held call ${callId} names a key that is not in the snapshot`)
      ks.reserved += amounts[i]!
      ks.holdCount++
    }
  }
  for (const [callId, until, committed] of s.finished as [string, number, boolean][])
    finish(state, callId, until, committed)
  for (const budget of s.budgets as StoredBudget[]) state.budgets.set(budget.scope, budgetSlot(budget))
  for (const entry of s.history as HistoryEntry[]) addHistory(state, entry)
  // Records are checked as a commit checks them: a damaged one would otherwise read back as NaN times.
  if (!Array.isArray(s.records)) fail('snapshot.records', '`snapshot.records` must be an array')
  const records = s.records as unknown[]
  for (let i = 0; i < records.length; i++) {
    const record = records[i]
    checkRecord(`snapshot.records[${i}]`, record)
    state.records.push(record)
  }
  restoreRollups(state, s)
  return state
}
