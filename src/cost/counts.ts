/**
 * Validation of the counts and options of a cost call: whole numbers from 0 to {@link MAX_TOKENS}.
 *
 * @internal
 * @packageDocumentation
 */
import { InvalidInputError } from '../errors.js'
import { describeValue } from '../internal/describe.js'

/** Largest token count accepted in one field (a trillion): anything above is treated as bad input. */
export const MAX_TOKENS = 1_000_000_000_000

export function badCount(field: string, value: unknown): InvalidInputError {
  return new InvalidInputError(
    `usage.${field}`,
    `\`usage.${field}\` must be a whole number of tokens from 0 to ${MAX_TOKENS}, got ${describeValue(value)}`,
  )
}

/** Checks an optional count; undefined -> 0. */
export function count(value: unknown, field: string): number {
  if (value === undefined) return 0
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKENS) return value
  throw badCount(field, value)
}

/** Checks a required count; null -> 0 only for the two fields that may be null. */
export function requiredCount(value: unknown, field: string): number {
  if (value === null) return 0
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= MAX_TOKENS) return value
  throw badCount(field, value)
}

export function tierOf(value: unknown, field: string): 'standard' | 'flex' | 'priority' {
  if (value === undefined || value === null || value === 'standard' || value === 'default' || value === 'auto')
    return 'standard'
  if (value === 'flex' || value === 'priority') return value
  throw new InvalidInputError(
    field,
    `\`${field}\` must be 'flex', 'priority', 'standard', 'default' or 'auto', got ${describeValue(value)}`,
  )
}
