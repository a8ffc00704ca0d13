/**
 * The options of `fileStore()`, validated with the house options parser: unknown keys are refused with the closest
 * known one suggested, and each message names the option, what it got and what it takes.
 *
 * @internal Node-only helper of the file store.
 * @packageDocumentation
 */
import { z } from 'zod'
import { parseOptions } from '../../internal/options.js'
import { DEFAULT_MAX_RECORDS, maxRecordsSchema } from '../ledger/max-records.js'
import type { GivenRetention } from './retention.js'

/** A whole number from `min` to `max`, with one message saying so in the option's own unit. */
function whole(min: number, max: number, unit: string): z.ZodNumber {
  const error = `must be a whole number of ${unit} from ${min} to ${max}`
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error })
}

const schema = z.object({
  path: z
    .string({ error: 'must be the directory of the store, e.g. ".llm-budget"' })
    .min(1, { error: 'must be the directory of the store, e.g. ".llm-budget"' })
    .refine((path) => !path.includes('\0'), { error: 'must not contain a NUL character' }),
  durability: z.enum(['fsync', 'batch'], { error: 'must be "fsync" or "batch"' }).optional(),
  syncIntervalMs: whole(1, 60_000, 'milliseconds').optional(),
  maxRecords: maxRecordsSchema.optional(),
  recordRetentionMs: maxRecordsSchema.optional(),
  rollupRetentionMs: maxRecordsSchema.optional(),
  compactBytes: z
    .union([z.number().int().min(4096), z.literal(Number.POSITIVE_INFINITY)], {
      error: 'must be a whole number of bytes of at least 4096, or Infinity',
    })
    .optional(),
  staleLockMs: whole(50, 3_600_000, 'milliseconds').optional(),
  lockTimeoutMs: whole(1, 3_600_000, 'milliseconds').optional(),
  repair: z.boolean({ error: 'must be true or false' }).optional(),
  maxBatchOperations: whole(1, 1_000_000, 'operations').optional(),
})

/** The store's settings, defaults filled in. */
export interface FileStoreSettings {
  path: string
  durability: 'fsync' | 'batch'
  syncIntervalMs: number
  /**
   * `maxRecords`, `recordRetentionMs` and `rollupRetentionMs` as given; undefined: the value stored in the directory
   * (or the default for a new one).
   */
  retention: GivenRetention
  defaultMaxRecords: number
  compactBytes: number
  staleLockMs: number
  lockTimeoutMs: number
  repair: boolean
  maxBatchOperations: number
}

/** Journal bytes past the snapshot that trigger a compaction by default. */
export const DEFAULT_COMPACT_BYTES = 32 * 1024 * 1024

/** Validates `fileStore()`'s options. @throws BudgetConfigError */
export function parseFileStoreOptions(options: unknown): FileStoreSettings {
  const given = parseOptions('fileStore()', schema, options)
  return {
    path: given.path,
    durability: given.durability ?? 'fsync',
    syncIntervalMs: given.syncIntervalMs ?? 100,
    retention: {
      maxRecords: given.maxRecords,
      recordRetentionMs: given.recordRetentionMs,
      rollupRetentionMs: given.rollupRetentionMs,
    },
    defaultMaxRecords: DEFAULT_MAX_RECORDS,
    compactBytes: given.compactBytes ?? DEFAULT_COMPACT_BYTES,
    staleLockMs: given.staleLockMs ?? 10_000,
    lockTimeoutMs: given.lockTimeoutMs ?? 30_000,
    repair: given.repair ?? false,
    maxBatchOperations: given.maxBatchOperations ?? 4096,
  }
}
