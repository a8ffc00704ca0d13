/**
 * Retention of a ledger's spend history: records dropped by count (`maxRecords`) or age (`recordRetentionMs`),
 * rollup days dropped by age (`rollupRetentionMs`), and the instants from which what is left is complete.
 *
 * @internal Used by the ledger; not part of the public API.
 */
import type { LedgerState } from './state.js'
import { DAY_MS, evictRollups } from './rollups.js'
import type { RollupRow } from '../types.js'

/** How long rollups are kept when nothing else is said: 400 days, so a yearly window's days are all there. */
export const DEFAULT_ROLLUP_RETENTION_MS = 400 * 86_400_000

/** Retention of a ledger's spend history. */
export interface LedgerOptions {
  maxRecords?: number
  recordRetentionMs?: number
  rollupRetentionMs?: number
}

/** Moves `recordsFrom` past the records just dropped, the latest of which ended at `latest` (`-Infinity`: none). */
export function noteDropped(state: LedgerState, latest: number): void {
  if (latest === Number.NEGATIVE_INFINITY) return
  if (state.recordsFrom === null || latest >= state.recordsFrom) state.recordsFrom = latest + 1
}

/** Drops records and rollup days older than their retention (at most once per sweep). */
export function applyRetention(state: LedgerState, now: number): void {
  if (Number.isFinite(state.recordRetentionMs)) {
    noteDropped(state, state.records.dropEndedBefore(now - state.recordRetentionMs))
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
  const records = state.records
  let oldest = Number.POSITIVE_INFINITY
  for (let i = 0; i < records.length; i++) {
    state.rollups.add(records.at(i))
    oldest = Math.min(oldest, records.endedAt(i))
  }
  // Records may have been dropped before: history is complete only from the oldest record kept.
  if (records.length > 0 && records.length >= state.maxRecords) {
    state.recordsFrom = oldest
    state.rollupsFrom = Math.ceil(oldest / DAY_MS) * DAY_MS
  }
}
