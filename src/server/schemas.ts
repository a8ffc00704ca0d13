/**
 * zod schemas of the server's request bodies. They check shapes and types; the ledger's `validate*`
 * functions then check the semantics (lengths, duplicate keys, ...) exactly as every store does.
 *
 * @internal Used by the handler.
 */
import { z } from 'zod'
import { MAX_ENTRIES } from '../stores/ledger/ledger.js'
import { MAX_ROLLUP_SCOPE_LENGTH } from '../stores/ledger/rollups.js'

const time = z.number()
const amount = z.number().int().min(0)
/** The longest id (call id, key, scope) a body may carry. */
export const MAX_ID_LENGTH = 1024
const id = z.string().min(1).max(MAX_ID_LENGTH)
const json = z.json()

export const reserveEntrySchema = z.object({ key: id, amount, limit: amount.nullable(), expiresAt: time.nullable() })

export const reserveSchema = z.object({
  callId: id,
  now: time,
  holdExpiresAt: time,
  entries: z.array(reserveEntrySchema).min(1).max(MAX_ENTRIES),
})

export const recordSchema = z.object({ callId: id, startedAt: time, endedAt: time }).catchall(json)

export const commitEntrySchema = z.object({ key: id, amount, expiresAt: time.nullable() })

export const commitSchema = z.object({
  callId: id,
  now: time,
  entries: z.array(commitEntrySchema).max(MAX_ENTRIES),
  dedupeUntil: time,
  record: recordSchema.optional(),
})

export const releaseSchema = z.object({ callId: id, now: time, holdExpiresAt: time.optional() })

export const keysSchema = z.object({ keys: z.array(id).max(10_000), now: time })

export const scopeSchema = z.object({ scope: id })

export const putBudgetSchema = z.object({
  scope: id,
  definition: json.nullable(),
  history: z.object({
    scope: id,
    action: z.enum(['create', 'update', 'increase', 'reset', 'delete']),
    at: time,
    old: json,
    new: json,
    reason: z.string().max(4096).nullable(),
  }),
  now: time,
  ifRevision: amount.optional(),
})

export const recordQuerySchema = z.object({ from: time.optional(), to: time.optional(), limit: amount.optional() })

export const rollupQuerySchema = z.object({
  from: time.optional(),
  to: time.optional(),
  scopes: z.array(z.string().min(1).max(MAX_ROLLUP_SCOPE_LENGTH)).max(1000).optional(),
})

export const emptySchema = z.object({})

/** Formats a zod issue path as `entries[0].amount`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out === '' ? '' : '.'}${String(part)}`
  return out === '' ? 'body' : out
}
