/**
 * Spend tracked for every scope a call names, budget or not: one all-time `usd` ledger key per scope (the same key a
 * budget without a window counts on), with a sliding expiry so that idle scopes are forgotten.
 *
 * @packageDocumentation
 */
import { ledgerKey, scopePrefix } from '../stores/ledger/keys.js'
import type { Scope } from './scopes.js'

/** Default sliding expiry of a scope's all-time key: 90 days after its last call. */
export const DEFAULT_SPEND_TRACKING_TTL_MS = 90 * 86_400_000

/** The all-time spend key of a scope. */
export function trackedKey(scope: Scope): string {
  return ledgerKey(scopePrefix(scope), 'all', 'usd')
}

/** The all-time keys of every scope a call names (not `global`). */
export function trackedKeys(scopes: readonly Scope[]): string[] {
  const keys: string[] = []
  for (const scope of scopes) if (scope.type !== 'global') keys.push(trackedKey(scope))
  return keys
}
