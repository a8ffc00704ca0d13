/**
 * Bearer-token authentication for the budget server. Tokens from a `{ tokens }` map are kept only as SHA-256
 * digests (computed synchronously by `./sha256.ts`; see docs/decisions/0061) and every presented token is compared against every stored digest in constant time,
 * so neither the map nor response timing reveals a token.
 *
 * @internal Used by the handler; the option types are public through `llm-budget/server`.
 */
import { BudgetConfigError } from '../errors.js'
import { HttpError } from './errors.js'
import { sha256 } from '../internal/sha256.js'

/**
 * How the server maps a bearer token to a tenant: a map `{ [token]: tenantId }`, or a function that returns
 * the tenant id for a token, or `null` to refuse it (sync or async).
 */
export type BudgetServerAuth =
  | { tokens: Readonly<Record<string, string>> }
  | ((token: string) => string | null | undefined | Promise<string | null | undefined>)

/** Tenant ids: 1 to 64 characters of letters, digits, `.`, `_` and `-`, starting with a letter or digit. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** Longest accepted bearer token. */
export const MAX_TOKEN_LENGTH = 512

/** Compares two byte arrays in time that depends only on their lengths. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!
  return diff === 0
}

/** Resolves a request's `Authorization` header to a tenant id, or throws a 401/403 {@link HttpError}. */
export type Authenticator = (authorization: string | null) => Promise<string>

function unauthorized(message: string): HttpError {
  return new HttpError(401, 'UNAUTHORIZED', message, undefined, { 'www-authenticate': 'Bearer realm="llm-budget"' })
}

/** Builds an {@link Authenticator}; validates the option now and throws `BudgetConfigError` when it is unusable. */
export function createAuthenticator(auth: BudgetServerAuth | undefined): Authenticator {
  if (auth === undefined || auth === null) {
    throw new BudgetConfigError(
      'auth',
      '`auth` is required: pass `{ tokens: { [token]: tenantId } }` or a function `(token) => tenantId | null`',
    )
  }
  let lookup: (token: string) => Promise<string | null>
  if (typeof auth === 'function') {
    lookup = async (token) => {
      let tenant: string | null | undefined
      try {
        tenant = await auth(token)
      } catch {
        throw new HttpError(503, 'AUTH_UNAVAILABLE', 'the token could not be checked; retry later', undefined, {
          'retry-after': '1',
        })
      }
      if (tenant === null || tenant === undefined) return null
      if (typeof tenant !== 'string' || !TENANT_ID_PATTERN.test(tenant)) {
        throw new HttpError(403, 'FORBIDDEN', 'this token maps to an invalid tenant id; ask the server operator')
      }
      return tenant
    }
  } else {
    if (typeof auth !== 'object' || typeof auth.tokens !== 'object' || auth.tokens === null) {
      throw new BudgetConfigError('auth.tokens', '`auth.tokens` must be an object `{ [token]: tenantId }`')
    }
    const entries = Object.entries(auth.tokens)
    if (entries.length === 0)
      throw new BudgetConfigError('auth.tokens', '`auth.tokens` is empty: no request could ever be served')
    for (const [token, tenant] of entries) {
      if (token.length < 16 || token.length > MAX_TOKEN_LENGTH || /\s/.test(token)) {
        throw new BudgetConfigError(
          'auth.tokens',
          `every token must be 16 to ${MAX_TOKEN_LENGTH} characters without whitespace; got one of ${token.length} characters (generate one with \`openssl rand -hex 32\`)`,
        )
      }
      if (typeof tenant !== 'string' || !TENANT_ID_PATTERN.test(tenant)) {
        throw new BudgetConfigError(
          'auth.tokens',
          `tenant ids must match ${String(TENANT_ID_PATTERN)}, got ${JSON.stringify(tenant)}`,
        )
      }
    }
    // Only digests are kept; the plain tokens are dropped with `auth` once hashed.
    const digests = entries.map(([token, tenant]) => ({ digest: sha256(token), tenant }))
    lookup = (token) => {
      const presented = sha256(token)
      let found: string | null = null
      for (const { digest, tenant } of digests) {
        // No early exit: every stored digest is compared.
        if (constantTimeEqual(presented, digest) && found === null) found = tenant
      }
      return Promise.resolve(found)
    }
  }
  return async (authorization) => {
    if (authorization === null || authorization === '')
      throw unauthorized('missing `Authorization: Bearer <token>` header')
    const match = /^Bearer ([\x21-\x7e]{1,512})$/i.exec(authorization)
    if (match === null) throw unauthorized('malformed `Authorization` header: expected `Bearer <token>`')
    const tenant = await lookup(match[1]!)
    if (tenant === null) throw unauthorized('unknown or revoked token')
    return tenant
  }
}
