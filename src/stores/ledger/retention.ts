/**
 * Retention of a ledger's spend history: records dropped by count (`maxRecords`) or age (`recordRetentionMs`),
 * rollup days dropped by age (`rollupRetentionMs`), and the instants from which what is left is complete.
 *
 * @internal Used by the ledger; not part of the public API.
 */
import type { LedgerState } from './state.js'
import { DAY_MS, evictRollups } from './rollups.js'
import type { RollupRow, SpendRecord } from '../types.js'
import { uncount } from './record-shares.js'

/** How long rollups are kept when nothing else is said: 400 days, so a yearly window's days are all there. */
export const DEFAULT_ROLLUP_RETENTION_MS = 400 * 86_400_000

/** Retention of a ledger's spend history. */
export interface LedgerOptions {
  maxRecords?: number
  recordRetentionMs?: number
  rollupRetentionMs?: number
}

/** Moves `recordsFrom` past the records just dropped. */
export function noteDropped(state: LedgerState, dropped: readonly SpendRecord[]): void {
  for (const record of dropped) {
    if (state.recordsFrom === null || record.endedAt >= state.recordsFrom) state.recordsFrom = record.endedAt + 1
  }
}

/** Drops records and rollup days older than their retention (at most once per sweep). */
export function applyRetention(state: LedgerState, now: number): void {
  if (Number.isFinite(state.recordRetentionMs)) {
    const cutoff = now - state.recordRetentionMs
    const kept: SpendRecord[] = []
    const dropped: SpendRecord[] = []
    for (const record of state.records) (record.endedAt < cutoff ? dropped : kept).push(record)
    if (dropped.length > 0) {
      state.records = kept
      uncount(state.recordNamespaces, dropped)
      noteDropped(state, dropped)
    }
  }
  if (Number.isFinite(state.rollupRetentionMs)) {
    const from = evictRollups(state.rollups, now - state.rollupRetentionMs)
    if (from !== null && (state.rollupsFrom === null || from > state.rollupsFrom)) state.rollupsFrom = from
  }
}

/** The rollups of a snapshot; a snapshot written before rollups existed gets them rebuilt from its records. */
export function restoreRollups(state: LedgerState, s: Record<string, unknown>): void {
  if (Array.isArray(s.rollups)) {
    for (const row of s.rollups as RollupRow[]) state.rollups.addRow(row)
    state.recordsFrom = typeof s.recordsFrom === 'number' ? s.recordsFrom : null
    state.rollupsFrom = typeof s.rollupsFrom === 'number' ? s.rollupsFrom : null
    return
  }
  for (const record of state.records) state.rollups.add(record)
  // Records may have been dropped before: history is complete only from the oldest record kept.
  const oldest = state.records.reduce((min, r) => Math.min(min, r.endedAt), Number.POSITIVE_INFINITY)
  if (state.records.length > 0 && state.records.length >= state.maxRecords) {
    state.recordsFrom = oldest
    state.rollupsFrom = Math.ceil(oldest / DAY_MS) * DAY_MS
  }
}
