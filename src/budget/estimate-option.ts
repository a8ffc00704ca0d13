/**
 * The `estimate` option of `withBudget` and of the SDK integrations, checked once: a USD number >= 0, an estimate
 * request, or a function that returns either.
 *
 * @packageDocumentation
 */
import { z } from 'zod'

/** The zod check of an `estimate` option; `functionOf` ends the message (`' of the arguments'`, or `''`). */
export function estimateOption(functionOf: string) {
  return z
    .custom(
      (value) =>
        typeof value === 'function' ||
        (typeof value === 'object' && value !== null) ||
        (typeof value === 'number' && Number.isFinite(value) && value >= 0),
      {
        message: `must be a USD number >= 0, an estimate request or a function${functionOf}`,
      },
    )
    .optional()
}
