/**
 * The retention of the file store's spend history (`maxRecords`, `recordRetentionMs`, `rollupRetentionMs`), stored
 * in the journal header: every process that shares a directory must replay the journal with the same retention
 * (the ledger applies it in its sweep, at the journaled `now`), so the values are fixed when the directory is
 * created, and opening with a different value is refused.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import { BudgetConfigError } from '../../errors.js'
import { DEFAULT_ROLLUP_RETENTION_MS } from '../ledger/retention.js'

/** The retention of a store's spend history (`Infinity`: keep all). */
export interface FileRetention {
  maxRecords: number
  recordRetentionMs: number
  rollupRetentionMs: number
}

/** The retention options as given to `fileStore()` (undefined: the stored value, or the default for a new store). */
export type GivenRetention = { [K in keyof FileRetention]: number | undefined }

const NAMES = ['maxRecords', 'recordRetentionMs', 'rollupRetentionMs'] as const

/** The retention of a new store: what was given, else the defaults. */
export function retentionOfNewStore(given: GivenRetention, defaultMaxRecords: number): FileRetention {
  return {
    maxRecords: given.maxRecords ?? defaultMaxRecords,
    recordRetentionMs: given.recordRetentionMs ?? Number.POSITIVE_INFINITY,
    rollupRetentionMs: given.rollupRetentionMs ?? DEFAULT_ROLLUP_RETENTION_MS,
  }
}

/** The header fields of a retention (`null` for `Infinity`, which JSON cannot hold). */
export function retentionFields(retention: FileRetention): Record<string, number | null> {
  const out: Record<string, number | null> = {}
  for (const name of NAMES) out[name] = Number.isFinite(retention[name]) ? retention[name] : null
  return out
}

/**
 * The retention a header stores. A header written before time-based retention existed has no `recordRetentionMs`
 * and `rollupRetentionMs`: its journal was replayed with no record age limit and the default rollup retention.
 */
export function retentionOfHeader(content: Record<string, unknown>): FileRetention {
  const read = (name: (typeof NAMES)[number], missing: number): number => {
    const value = content[name]
    if (typeof value === 'number') return value
    return value === undefined ? missing : Number.POSITIVE_INFINITY
  }
  return {
    maxRecords: read('maxRecords', Number.POSITIVE_INFINITY),
    recordRetentionMs: read('recordRetentionMs', Number.POSITIVE_INFINITY),
    rollupRetentionMs: read('rollupRetentionMs', DEFAULT_ROLLUP_RETENTION_MS),
  }
}

/** The error for the first option given with a value other than the stored one, else `null`. */
export function retentionMismatch(
  given: GivenRetention,
  stored: FileRetention,
  directory: string,
): BudgetConfigError | null {
  for (const name of NAMES) {
    const value = given[name]
    if (value === undefined || value === stored[name]) continue
    return new BudgetConfigError(
      name,
      `fileStore(): \`${name}\` is ${value} but the store in ${directory} was created with ${stored[name]}; every process must use the same value (omit the option to use the stored one)`,
    )
  }
  return null
}
