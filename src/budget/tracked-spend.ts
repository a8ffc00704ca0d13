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

/** How many all-time keys {@link trackedKey} keeps built (past it, it starts over). */
const BUILT_MAX = 10_000

/** All-time keys already built, by scope type and id: `record()` resolves its context, and these keys, per call. */
const built = new Map<string, Map<string, string>>()
let builtCount = 0

/** The all-time spend key of a scope. */
export function trackedKey(scope: Scope): string {
  let ids = built.get(scope.type)
  let key = ids?.get(scope.id)
  if (key !== undefined) return key
  key = ledgerKey(scopePrefix(scope), 'all', 'usd')
  if (builtCount >= BUILT_MAX) {
    built.clear()
    builtCount = 0
    ids = undefined
  }
  if (ids === undefined) {
    ids = new Map()
    built.set(scope.type, ids)
  }
  ids.set(scope.id, key)
  builtCount++
  return key
}

/** The all-time keys of every scope a call names (not `global`). */
export function trackedKeys(scopes: readonly Scope[]): string[] {
  const keys: string[] = []
  for (const scope of scopes) if (scope.type !== 'global') keys.push(trackedKey(scope))
  return keys
}
