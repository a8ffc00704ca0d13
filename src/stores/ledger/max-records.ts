/**
 * The `maxRecords` option shared by the memory and file stores: how many spend records the ledger keeps.
 *
 * @internal
 * @packageDocumentation
 */
import { z } from 'zod'

/** A non-negative safe integer, or `Infinity` to keep every record. */
export const maxRecordsSchema = z.union(
  [z.number().int().min(0).max(Number.MAX_SAFE_INTEGER), z.literal(Number.POSITIVE_INFINITY)],
  { error: 'must be a non-negative integer or Infinity' },
)

/** Records kept when the option is not given. */
export const DEFAULT_MAX_RECORDS = 100_000
