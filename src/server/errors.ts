/**
 * The server's error answers: one class carrying the HTTP status, a stable code, a message and the
 * offending field, turned into `{ error: { code, message, field? } }` by the handler.
 *
 * @internal Not part of the public API.
 */
import { isBudgetError, type BudgetError } from '../errors.js'

/** The headers of every JSON answer; answers without headers of their own share this (frozen) object. */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
})

/** Stable codes of the server's error answers (besides the library's own `BudgetErrorCode`s). */
export type ServerErrorCode =
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'PAYLOAD_TOO_LARGE'
  | 'INVALID_JSON'
  | 'INVALID_INPUT'
  | 'BUDGET_CONFIG'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_IN_FLIGHT'
  | 'STORAGE'
  | 'AUTH_UNAVAILABLE'
  | 'INCOMPLETE_BODY'
  | 'CONFLICT'
  | 'NOT_IMPLEMENTED'
  | 'INTERNAL'

/** An error answer with its HTTP status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: ServerErrorCode | string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
  }
}

/** Maps anything thrown while serving a request to an {@link HttpError}; unexpected errors become 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error
  if (isBudgetError(error)) {
    const e = error as BudgetError & { field?: unknown; retryable?: unknown }
    const field = typeof e.field === 'string' ? e.field : undefined
    switch (e.code) {
      case 'INVALID_INPUT':
      case 'BUDGET_CONFIG':
        return new HttpError(400, e.code, e.message, field)
      case 'STORAGE':
        return new HttpError(503, 'STORAGE', 'the budget store could not answer; retry later', undefined, {
          'retry-after': '1',
        })
      default:
        return new HttpError(400, e.code, e.message, field)
    }
  }
  return new HttpError(500, 'INTERNAL', 'internal error')
}

/** The JSON body of an error answer. */
export function errorBody(error: HttpError): string {
  const body: { code: string; message: string; field?: string } = { code: error.code, message: error.message }
  if (error.field !== undefined) body.field = error.field
  return JSON.stringify({ error: body })
}
