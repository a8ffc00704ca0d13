/**
 * The server's options, checked with the library's one options validator: unknown keys are refused with the
 * closest known one suggested, and every value names the option and what it got.
 *
 * @internal Used by `createBudgetHandler` and `createBudgetServer`.
 */
import { z } from 'zod'

const positive = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
const fn = z.custom<(...args: never[]) => unknown>((value) => typeof value === 'function', {
  message: 'must be a function',
})
const object = z.custom<object>((value) => typeof value === 'object' && value !== null, {
  message: 'must be an object',
})

/** Options of `createBudgetHandler` (values are checked further where they are used). */
export const handlerOptionsSchema = z.object({
  store: object.optional(),
  manager: object.optional(),
  managerOptions: object.optional(),
  // Checked by the authenticator, with its own messages.
  auth: z.unknown().optional(),
  maxBodyBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024)
    .optional(),
  idempotency: z.unknown().optional(),
  metrics: z.union([z.literal('authenticated'), z.literal('public'), z.literal(false)]).optional(),
  maxRecordsPerPage: positive.optional(),
  maxBatchOperations: z.number().int().min(1).max(10_000).optional(),
  authFailures: z.unknown().optional(),
  dashboard: z.boolean().optional(),
  onError: fn.optional(),
})

/** `idempotency: { ... }`. */
export const idempotencySchema = z.object({
  maxEntries: positive.optional(),
  maxBytes: positive.optional(),
  ttlMs: positive.optional(),
})

/** `authFailures: { ... }` (or `false`). */
export const authFailuresSchema = z.object({ max: positive.optional(), windowMs: positive.optional() })

/** Options of `createBudgetServer`: the handler's and the Node server's limits. */
export const serverOptionsSchema = handlerOptionsSchema.extend({
  requestTimeoutMs: positive.optional(),
  headersTimeoutMs: positive.optional(),
  keepAliveTimeoutMs: positive.optional(),
})
